"""What the reliability suite relies on: the call log says when a method ran but its caller
was gone before the answer (an in-doubt duplicate told from a real one), and leaveChat takes the
bot out of a stranger's group as Telegram does."""

from __future__ import annotations

import asyncio

from telegram.error import TimedOut

from devkit.telegram_emulator.client import BotApiError
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


def test_leave_chat_takes_the_bot_out_and_tells_it(fast_emulator: RunningEmulator) -> None:
    client = fast_emulator.client
    made = client.create_forum_group("Strangers", operator_names=["Mallory"], forum=False)
    chat, mallory = made["chat_id"], made["operators"][0]
    alice = client.create_user("Alice", started=True)["user_id"]
    client.send_as_operator(chat, None, mallory, "before")
    assert client.bot_api("leaveChat", chat_id=chat) is True

    updates = client.bot_api("getUpdates", timeout=0)
    change = updates[-1]["my_chat_member"]
    assert (change["chat"]["id"], change["from"]["id"]) == (chat, fast_emulator.bot_id)
    assert change["old_chat_member"]["status"] == "administrator"
    assert change["new_chat_member"]["status"] == "left"
    assert [u["message"]["text"] for u in updates if "message" in u] == ["before"]

    client.send_as_operator(chat, None, mallory, "after")  # the bot sees nothing of it now
    later = client.bot_api("getUpdates", offset=updates[-1]["update_id"] + 1, timeout=0)
    assert later == []
    for method, params in (
        ("sendMessage", {"chat_id": chat, "text": "hi"}),
        ("leaveChat", {"chat_id": chat}),
    ):
        try:
            client.bot_api(method, **params)
        except BotApiError as error:
            assert error.error_code == 403, error
        else:
            raise AssertionError(f"{method} in a chat the bot left must fail")
    try:
        client.bot_api("leaveChat", chat_id=alice)
    except BotApiError as error:
        assert error.error_code == 400
    else:
        raise AssertionError("a bot cannot leave a private chat")
