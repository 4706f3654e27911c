"""Flood limits: 30 messages/s per bot, 1/s per private chat (bursts of 3), 20/min per group.

By default every message of a call counts (an album of 5 is 5), and so does
createForumTopic; ``count_each_message=False`` counts one per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from telegram import InputMediaPhoto
from telegram.error import RetryAfter

from devkit.telegram_emulator import Limits, ManualClock
from devkit.telegram_emulator.__main__ import _limits, _parse
from devkit.telegram_emulator.client import BotApiError, EmulatorClient, EmulatorError
from devkit.telegram_emulator.limits import FloodControl
from devkit.telegram_emulator.testing import RunningEmulator, ptb_bot

Factory = Callable[..., RunningEmulator]

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")


def flood(limits: Limits | None = None) -> tuple[FloodControl, ManualClock]:
    clock = ManualClock()
    return FloodControl(limits=limits or Limits(), clock=clock), clock


def send(
    control: FloodControl,
    chat_id: int,
    *,
    private: bool,
    items: int = 1,
    method: str = "sendMessage",
) -> int:
    decision = control.check(
        method=method, bot_id=1, chat_id=chat_id, is_private=private, items=items
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


def test_each_message_of_a_call_counts_towards_the_group() -> None:
    control, _ = flood()
    assert send(control, -100, private=False, items=10) == 0
    assert send(control, -100, private=False, items=10) == 0
    assert send(control, -100, private=False, items=1) == 60
    assert control.rejected == {"group": 1}


def test_each_message_of_a_call_counts_towards_a_private_chat() -> None:
    control, clock = flood()
    assert send(control, 5, private=True, items=5) == 0  # a quiet chat takes the album
    clock.advance(2.5)
    assert send(control, 5, private=True) == 1  # 5 at once: the next waits 5 - 3 + 1 = 3 s
    clock.advance(1.0)
    assert send(control, 5, private=True) == 0
    relaxed, relaxed_clock = flood(Limits(count_each_message=False))
    assert send(relaxed, 5, private=True, items=5) == 0
    relaxed_clock.advance(2.5)
    assert send(relaxed, 5, private=True) == 0  # the album was one message


def test_each_message_of_a_call_counts_towards_the_bot() -> None:
    control, _ = flood()
    assert send(control, 1, private=True, items=10) == 0
    assert send(control, 2, private=True, items=10) == 0
    assert send(control, -3, private=False, items=10) == 0
    assert send(control, 4, private=True) == 1
    assert control.rejected == {"bot": 1}


def test_a_call_that_does_not_fit_is_refused_whole_until_all_of_it_fits() -> None:
    control, clock = flood()
    for _ in range(5):
        send(control, -100, private=False)
    clock.advance(10.0)
    for _ in range(10):
        send(control, -100, private=False)
    clock.advance(10.0)
    # One more would fit now; ten fit when the first five leave (at 60 s), not before.
    assert send(control, -100, private=False, items=10, method="copyMessages") == 40
    clock.advance(40.0)
    assert send(control, -100, private=False, items=10, method="copyMessages") == 0
    assert send(control, -100, private=False) == 10  # the ten sent at 10 s leave at 70 s
    assert control.violations == []


def test_a_call_bigger_than_a_whole_window_goes_into_an_empty_one() -> None:
    control, clock = flood()
    assert send(control, -100, private=False) == 0
    clock.advance(10.0)
    assert send(control, -100, private=False, items=25, method="copyMessages") == 50
    clock.advance(50.0)
    assert send(control, -100, private=False, items=25, method="copyMessages") == 0
    assert send(control, -100, private=False) == 60  # all 25 must leave first


def test_create_forum_topic_counts_as_a_message_unless_relaxed() -> None:
    control, _ = flood()
    for _ in range(20):
        assert send(control, -100, private=False, method="createForumTopic") == 0
    assert send(control, -100, private=False) == 60
    relaxed, _ = flood(Limits(count_each_message=False))
    for _ in range(50):
        assert send(relaxed, -100, private=False, method="createForumTopic") == 0
    assert [send(relaxed, -100, private=False) for _ in range(21)] == [0] * 20 + [60]


def test_relaxed_counting_is_one_message_per_call() -> None:
    control, _ = flood(Limits(count_each_message=False))
    assert control.counted("sendMediaGroup", 10) == 1
    assert control.counted("createForumTopic", 1) == 0
    sizes = [10] * 20
    assert [send(control, -100, private=False, items=n, method="copyMessages") for n in sizes] == [
        0
    ] * 20
    assert send(control, -100, private=False) == 60
    strict, _ = flood()
    assert strict.counted("sendMediaGroup", 10) == 10
    assert strict.counted("createForumTopic", 1) == 1


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


# ----------------------------------------------------------------- what counts, over HTTP


def _group_and_person(client: EmulatorClient) -> tuple[int, int]:
    group = client.create_forum_group("Ops", operator_names=["Olga"])["chat_id"]
    person = client.create_user("P", started=True)["user_id"]
    return int(group), int(person)


@pytest.mark.parametrize("method", ["copyMessages", "forwardMessages"])
def test_an_album_of_five_into_a_group_spends_five_of_its_20_a_minute(
    telegram_emulator_factory: Factory, method: str
) -> None:
    client = telegram_emulator_factory(clock=ManualClock()).client
    group, person = _group_and_person(client)
    album = client.send_album(person, 5)["message_ids"]
    copied = client.bot_api(method, chat_id=group, from_chat_id=person, message_ids=album)
    assert len(copied) == 5
    for i in range(15):
        client.bot_api("sendMessage", chat_id=group, text=f"m{i}")
    with pytest.raises(BotApiError) as info:
        client.bot_api("sendMessage", chat_id=group, text="the 21st")
    assert info.value.error_code == 429
    assert info.value.parameters == {"retry_after": 60}
    assert info.value.description == "Too Many Requests: retry after 60"
    assert client.stats()["rejected_429_by_scope"] == {"group": 1}


def test_copy_messages_of_ten_after_fifteen_is_refused_whole(
    telegram_emulator_factory: Factory,
) -> None:
    client = telegram_emulator_factory(clock=ManualClock()).client
    group, person = _group_and_person(client)
    album = client.send_album(person, 10)["message_ids"]
    for i in range(5):
        client.bot_api("sendMessage", chat_id=group, text=f"a{i}")
    client.advance_clock(10.0)
    for i in range(10):
        client.bot_api("sendMessage", chat_id=group, text=f"b{i}")
    client.advance_clock(10.0)
    before = len(client.transcript(group))

    def copy() -> Any:
        return client.bot_api("copyMessages", chat_id=group, from_chat_id=person, message_ids=album)

    with pytest.raises(BotApiError) as info:
        copy()
    # Not the wait for one message (none) nor for an empty window (50 s): until all ten fit.
    assert info.value.parameters == {"retry_after": 40}
    assert len(client.transcript(group)) == before  # nothing of it was sent
    client.advance_clock(39.0)
    with pytest.raises(BotApiError) as early:
        copy()
    assert early.value.parameters == {"retry_after": 1}
    assert [(v["method"], v["scope"]) for v in client.violations()] == [("copyMessages", "group")]
    client.advance_clock(1.0)
    assert len(copy()) == 10
    assert len(client.transcript(group)) == before + 10


def test_create_forum_topic_counts_towards_the_group(telegram_emulator_factory: Factory) -> None:
    client = telegram_emulator_factory(clock=ManualClock()).client
    group, _ = _group_and_person(client)
    for i in range(19):
        client.bot_api("sendMessage", chat_id=group, text=f"m{i}")
    client.bot_api("createForumTopic", chat_id=group, name="Alice")
    with pytest.raises(BotApiError) as info:
        client.bot_api("sendMessage", chat_id=group, text="the 21st")
    assert info.value.error_code == 429 and info.value.parameters == {"retry_after": 60}
    with pytest.raises(BotApiError) as again:
        client.bot_api("createForumTopic", chat_id=group, name="Bob")
    assert again.value.error_code == 429
    assert [(v["method"], v["scope"]) for v in client.violations()] == [
        ("createForumTopic", "group")
    ]
    assert [t["name"] for t in client.topics(group)] == ["Alice"]


def test_the_relaxed_switch_counts_one_per_call_and_no_topics(
    telegram_emulator_factory: Factory,
) -> None:
    client = telegram_emulator_factory(clock=ManualClock()).client
    group, person = _group_and_person(client)
    assert client.limits()["count_each_message"] is True
    assert client.set_limits(count_each_message=False)["count_each_message"] is False
    album = client.send_album(person, 10)
    photos = [{"type": "photo", "media": m["photo"][-1]["file_id"]} for m in album["messages"]]
    ids = album["message_ids"]
    assert len(client.bot_api("copyMessages", chat_id=group, from_chat_id=person, message_ids=ids))
    assert len(
        client.bot_api("forwardMessages", chat_id=group, from_chat_id=person, message_ids=ids)
    )
    assert len(client.bot_api("sendMediaGroup", chat_id=group, media=photos)) == 10
    for i in range(5):
        client.bot_api("createForumTopic", chat_id=group, name=f"T{i}")
    for i in range(17):  # 3 calls + 17 = 20; 30 messages and 5 topics would be 35
        client.bot_api("sendMessage", chat_id=group, text=f"m{i}")
    with pytest.raises(BotApiError) as info:
        client.bot_api("sendMessage", chat_id=group, text="the 21st call")
    assert info.value.parameters == {"retry_after": 60}
    # Back to strict: the same window now holds too many to take an album.
    client.advance_clock(60.0)
    client.set_limits(count_each_message=True)
    for i in range(15):
        client.bot_api("sendMessage", chat_id=group, text=f"n{i}")
    with pytest.raises(BotApiError):
        client.bot_api("sendMediaGroup", chat_id=group, media=photos[:6])


def test_unknown_limits_are_refused(telegram_emulator: RunningEmulator) -> None:
    client = telegram_emulator.client
    with pytest.raises(EmulatorError) as info:
        client.set_limits(bulk_counts_items=False)
    assert info.value.status == 400 and "bulk_counts_items" in info.value.message
    assert client.limits() == Limits().to_json()


def test_the_command_line_switch_relaxes_the_count() -> None:
    assert _limits(_parse([])).count_each_message is True
    assert _limits(_parse(["--count-per-call"])).count_each_message is False
    assert _limits(_parse(["--count-per-call", "--limits-scale", "2"])).scale == 2
