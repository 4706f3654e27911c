"""Flood limits: 30 messages/s per bot, 1/s per private chat (bursts of 3), 20/min per group."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from telegram import InputMediaPhoto
from telegram.error import RetryAfter

from local.telegram_emulator import Limits, ManualClock
from local.telegram_emulator.client import BotApiError
from local.telegram_emulator.limits import FloodControl
from local.telegram_emulator.testing import RunningEmulator, ptb_bot

Factory = Callable[..., RunningEmulator]

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")


def flood(limits: Limits | None = None) -> tuple[FloodControl, ManualClock]:
    clock = ManualClock()
    return FloodControl(limits=limits or Limits(), clock=clock), clock


def send(control: FloodControl, chat_id: int, *, private: bool, items: int = 1) -> int:
    decision = control.check(
        method="sendMessage", bot_id=1, chat_id=chat_id, is_private=private, items=items
    )
    if not decision.retry_after:
        control.record(decision)
    return decision.retry_after


# ----------------------------------------------------------------- the rules


def test_bot_window_allows_30_per_second() -> None:
    control, clock = flood()
    assert [send(control, 100 + i, private=True) for i in range(30)] == [0] * 30
    assert send(control, 200, private=True) == 1
    clock.advance(1.0)
    assert send(control, 201, private=True) == 0


def test_private_chat_burst_of_three_then_one_per_second() -> None:
    control, clock = flood()
    assert [send(control, 7, private=True) for _ in range(3)] == [0, 0, 0]
    assert send(control, 7, private=True) == 1
    clock.advance(1.0)
    assert send(control, 7, private=True) == 0
    clock.advance(1.0)
    assert send(control, 7, private=True) == 0
    clock.advance(0.5)
    assert send(control, 7, private=True) == 1  # 1/s after the burst
    assert control.rejected == {"chat": 2}


def test_group_sliding_window_of_a_minute() -> None:
    control, clock = flood()
    for _ in range(10):
        assert send(control, -100, private=False) == 0
        clock.advance(3.0)
    for _ in range(10):
        assert send(control, -100, private=False) == 0
    assert send(control, -100, private=False) == 30  # the first of the 20 leaves in 30 s
    clock.advance(30.0)
    assert send(control, -100, private=False) == 0
    assert control.violations == []


def test_albums_count_their_items_in_groups_but_once_in_private_chats() -> None:
    control, _ = flood()
    assert send(control, -100, private=False, items=10) == 0
    assert send(control, -100, private=False, items=10) == 0
    assert send(control, -100, private=False, items=1) > 0
    assert send(control, 5, private=True, items=10) == 0


def test_calls_before_retry_after_elapsed_are_violations() -> None:
    control, clock = flood()
    for _ in range(20):
        send(control, -100, private=False)
    assert send(control, -100, private=False) == 60
    clock.advance(59.0)
    assert send(control, -100, private=False) == 1  # ignored retry_after: refused again
    assert [(v.scope, v.chat_id, v.retry_after_remaining) for v in control.violations] == [
        ("group", -100, 1.0)
    ]
    clock.advance(1.0)
    assert send(control, -100, private=False) == 0


def test_scale_multiplies_every_rate() -> None:
    control, clock = flood(Limits(scale=10))
    assert [send(control, 1000 + i, private=True) for i in range(300)] == [0] * 300
    assert send(control, 1, private=True) == 1
    clock.advance(1.0)
    assert send(control, 2, private=True) == 0
    group_control, _ = flood(Limits(scale=10))
    assert all(send(group_control, -5, private=False) == 0 for _ in range(200))
    assert send(group_control, -5, private=False) == 60
    chat_control, chat_clock = flood(Limits(scale=10))
    assert [send(chat_control, 9, private=True) for _ in range(4)] == [0, 0, 0, 1]
    chat_clock.advance(1.0)  # retry_after is whole seconds, rounded up
    assert [send(chat_control, 9, private=True) for _ in range(4)] == [0, 0, 0, 1]


def test_server_limits_scale_shortcut(telegram_emulator_factory: Factory) -> None:
    emulator = telegram_emulator_factory(limits_scale=10, clock=ManualClock())
    assert emulator.client.limits()["scale"] == 10
    group = emulator.client.create_forum_group("Ops", operator_names=["Olga"])["chat_id"]
    for i in range(200):
        emulator.client.bot_api("sendMessage", chat_id=group, text=str(i))
    with pytest.raises(BotApiError):
        emulator.client.bot_api("sendMessage", chat_id=group, text="201st")


def test_limits_can_be_switched_off() -> None:
    control, _ = flood(Limits(enabled=False))
    assert all(send(control, -100, private=False) == 0 for _ in range(100))


# ----------------------------------------------------------------- over HTTP


def test_31_messages_within_one_second_get_a_429(telegram_emulator_factory: Factory) -> None:
    clock = ManualClock()  # frozen: all 31 are sent "within one second" however slow the host
    emulator = telegram_emulator_factory(clock=clock)
    people = [emulator.client.create_user(f"P{i}", started=True)["user_id"] for i in range(31)]

    async def scenario() -> list[Any]:
        async with ptb_bot(emulator) as bot:
            return await asyncio.gather(
                *(bot.send_message(p, "broadcast") for p in people), return_exceptions=True
            )

    results = asyncio.run(scenario())
    refused = [r for r in results if isinstance(r, RetryAfter)]
    assert len(refused) == 1
    assert len(results) - len(refused) == 30
    stats = emulator.client.stats()
    assert stats["rejected_429"] == 1 and stats["rejected_429_by_scope"] == {"bot": 1}
    refused_calls = [c for c in emulator.client.calls("sendMessage") if c["status"] == 429]
    assert refused_calls[0]["description"] == "Too Many Requests: retry after 1"
    assert refused_calls[0]["parameters"] == {"retry_after": 1}


def test_20_to_a_group_at_the_documented_rate_then_the_21st_is_refused(
    telegram_emulator: RunningEmulator,
) -> None:
    """Real clock, real numbers: 20 at once take no wall time; the 21st waits ~a minute."""
    client = telegram_emulator.client
    group = client.create_forum_group("Ops", operator_names=["Olga"])["chat_id"]
    for i in range(20):
        assert client.bot_api("sendMessage", chat_id=group, text=f"m{i}")["text"] == f"m{i}"
    with pytest.raises(BotApiError) as info:
        client.bot_api("sendMessage", chat_id=group, text="m20")
    assert info.value.error_code == 429
    retry_after = info.value.parameters["retry_after"]
    assert isinstance(retry_after, int) and 0 < retry_after <= 60
    assert info.value.description == f"Too Many Requests: retry after {retry_after}"
    # Calling again before retry_after elapsed is a recorded violation.
    with pytest.raises(BotApiError):
        client.bot_api("sendMessage", chat_id=group, text="again")
    violations = client.violations()
    assert len(violations) == 1 and violations[0]["scope"] == "group"
    # Edits do not count: only sending methods do.
    first = client.transcript(group)[1]["message_id"]
    assert client.bot_api("editMessageText", chat_id=group, message_id=first, text="m0!")
    assert len(client.transcript(group)) == 21  # creation message + 20


def test_send_media_group_counts_its_items_for_groups(telegram_emulator_factory: Factory) -> None:
    emulator = telegram_emulator_factory(clock=ManualClock())
    client = emulator.client
    group = client.create_forum_group("Ops", operator_names=["Olga"])["chat_id"]
    person = client.create_user("P", started=True)["user_id"]
    file_id = client.send_as_user(person, photo=True)["message"]["photo"][-1]["file_id"]

    async def scenario() -> tuple[int, BaseException | None]:
        async with ptb_bot(emulator) as bot:
            sent = 0
            for _ in range(18):
                await bot.send_message(group, "x")
                sent += 1
            try:
                await bot.send_media_group(group, [InputMediaPhoto(file_id)] * 3)
            except RetryAfter as exc:
                return sent, exc
            return sent, None

    sent, error = asyncio.run(scenario())
    assert sent == 18 and isinstance(error, RetryAfter)


def test_limits_scale_is_adjustable_at_run_time(telegram_emulator_factory: Factory) -> None:
    clock = ManualClock()
    emulator = telegram_emulator_factory(clock=clock)
    client = emulator.client
    group = client.create_forum_group("Ops", operator_names=["Olga"])["chat_id"]
    assert client.set_limits(scale=2)["scale"] == 2
    for i in range(40):
        client.bot_api("sendMessage", chat_id=group, text=str(i))
    with pytest.raises(BotApiError) as info:
        client.bot_api("sendMessage", chat_id=group, text="41st")
    assert info.value.parameters["retry_after"] == 60
    client.advance_clock(60.0)
    assert client.bot_api("sendMessage", chat_id=group, text="later")["text"] == "later"
    assert client.violations() == []
    client.set_limits(enabled=False)
    assert all(client.bot_api("sendMessage", chat_id=group, text="x") for _ in range(50))
