"""The call log says when a method ran but its caller was gone before the answer: the
evidence the reliability suite uses to tell an in-doubt duplicate from a real one."""

from __future__ import annotations

import asyncio

from telegram.error import TimedOut

from devkit.telegram_emulator.testing import RunningEmulator, ptb_bot


def test_a_call_whose_caller_timed_out_is_logged_as_answer_dropped(
    fast_emulator: RunningEmulator,
) -> None:
    client = fast_emulator.client
    alice = client.create_user("Alice", started=True)["user_id"]
    client.set_fault("sendMessage", hang=0.6)  # then it runs: Telegram acts

    async def scenario() -> bool:
        async with ptb_bot(fast_emulator) as bot:
            try:
                await bot.send_message(alice, "late", read_timeout=0.1)
            except TimedOut:
                timed_out = True
            else:
                timed_out = False
            for _ in range(100):  # until the hang is over and the method has run
                if client.calls("sendMessage")[0]["status"] is not None:
                    break
                await asyncio.sleep(0.05)
            await bot.send_message(alice, "on time")
        return timed_out

    assert asyncio.run(scenario())
    assert [m["text"] for m in client.transcript(alice)] == ["late", "on time"]
    calls = client.calls("sendMessage")
    assert [(c["ok"], c.get("answer_dropped", False)) for c in calls] == [
        (True, True),
        (True, False),
    ]
    # The dropped answer still names what was made, so a checker can find the copy.
    assert calls[0]["result"]["text"] == "late"
