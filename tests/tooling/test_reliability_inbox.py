"""The inbox scenario's own logic (local/reliability/inbox.py): the nudge checker, what it reads
from the emulator's call log, EventBridge's rules as deployed, and topics with a state label."""

from __future__ import annotations

import json
import time
from collections import Counter

from topicdesk.domain.inbox.hours import hours_from_json

from local.deployment import ScheduleSpec, _schedules
from local.reliability.checker import ANSWER, NUDGE, PERSON, NudgeCheck, check_nudges
from local.reliability.harness import Person, topic_is
from local.reliability.inbox import (
    CLOSED_SECONDS,
    EDGE,
    Closed,
    Conversation,
    Seen,
    count_away,
    rate_seconds,
)

SLA, GRACE = 90.0, 24.0


def check(*events: tuple[float, str], end: float = 1000.0) -> NudgeCheck:
    return check_nudges(events, sla=SLA, grace=GRACE, end=end)


def test_a_wait_past_the_sla_with_one_nudge_holds() -> None:
    result = check((0, PERSON), (10, PERSON), (95, NUDGE), (120, ANSWER))
    assert result == NudgeCheck.of(5.0, waits=1, due=1, nudged=1)
    assert result.problems == 0


def test_a_wait_answered_in_time_needs_none_and_may_have_none() -> None:
    assert check((0, PERSON), (30, ANSWER)) == NudgeCheck.of(waits=1)
    early = check((0, PERSON), (30, NUDGE), (40, ANSWER))
    assert early["early"] == 1 and early.problems == 1


def test_a_wait_past_its_grace_without_a_nudge_is_missing_one() -> None:
    result = check((0, PERSON), end=SLA + GRACE + 1)
    assert (result["due"], result["missing"], result.problems) == (1, 1, 1)
    # Still within its grace at the end: the nudge may be on its way.
    assert check((0, PERSON), end=SLA + 1).problems == 0


def test_two_nudges_for_one_wait_and_a_nudge_after_an_answer() -> None:
    twice = check((0, PERSON), (95, NUDGE), (160, NUDGE), (200, ANSWER))
    assert (twice["nudged"], twice["extra"]) == (2, 1)
    late = check((0, PERSON), (50, ANSWER), (100, NUDGE))
    assert (late["after_answer"], late.problems) == (1, 1)


def test_each_wait_is_judged_on_its_own_and_business_time_counts() -> None:
    events = [(0.0, PERSON), (95.0, NUDGE), (120.0, ANSWER), (130.0, PERSON), (170.0, ANSWER)]
    result = check(*events)
    assert (result["waits"], result["due"], result["nudged"], result.problems) == (2, 1, 1, 0)

    def closed_until_60(start: float, stop: float) -> float:
        return max(0.0, stop - max(start, 60.0))

    # Counted in business time, the same nudge came 60 s too early.
    hours = check_nudges(events, sla=SLA, grace=GRACE, end=1000.0, business=closed_until_60)
    assert hours["early"] == 1


def test_totals_add_up_and_keep_the_latest() -> None:
    total = NudgeCheck.of(3.0, waits=1, due=1, nudged=1) + NudgeCheck.of(1.0, waits=2, missing=1)
    assert total == NudgeCheck.of(3.0, waits=3, due=1, nudged=1, missing=1)
    assert total.problems == 1


def test_copies_and_nudges_are_read_from_the_call_log_after_the_start() -> None:
    group = -100123
    calls = [
        {"seq": 1, "ok": True, "at": 1.0, "method": "copyMessage",
         "params": {"chat_id": group, "from_chat_id": 7, "message_id": 3}},
        {"seq": 5, "ok": True, "at": 5.0, "method": "copyMessages",
         "params": {"chat_id": str(group), "from_chat_id": 7, "message_ids": "[4, 5]",
                    "message_thread_id": 40}},
        {"seq": 6, "ok": False, "at": 6.0, "method": "copyMessage",
         "params": {"chat_id": group, "from_chat_id": 8, "message_id": 1}},
        {"seq": 7, "ok": True, "at": 7.0, "method": "sendMessage",
         "params": {"chat_id": group, "message_thread_id": 40,
                    "text": "⏰ Waiting for an answer for 1 min (business time)."}},
        {"seq": 8, "ok": True, "at": 8.0, "method": "sendMessage",
         "params": {"chat_id": group, "message_thread_id": 40, "text": "a card"}},
        {"seq": 9, "ok": True, "at": 9.0, "method": "copyMessage",
         "params": {"chat_id": 7, "from_chat_id": group, "message_id": 12}},
    ]  # fmt: skip
    seen = Seen(group, after_seq=2)
    seen.update(calls)
    seen.update(calls)  # read again: nothing counted twice
    person = Person(7, "Ann")
    assert seen.shown(person, 3) is None  # before the start
    assert seen.shown(person, 4) == (5.0, 40) and seen.shown(person, 5) == (5.0, 40)
    assert seen.nudges == {40: [7.0]}
    assert set(seen.copies) == {(7, 4), (7, 5)}


def test_the_deployed_rules_and_their_rates() -> None:
    template = {
        "Resources": {
            "Sweep": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "ScheduleExpression": "rate(1 minute)",
                    "Targets": [
                        {"Arn": {"Fn::GetAtt": ["Fn", "Arn"]}, "Input": json.dumps({"job": "s"})}
                    ],
                },
            },
            "Pattern": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {}}},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {}},
        }
    }
    assert _schedules(template, {"Fn": "topicdesk-local-inbox-schedule"}) == (
        ScheduleSpec("topicdesk-local-inbox-schedule", "rate(1 minute)", {"job": "s"}),
    )
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("cron(0 8 ? * MON *)") is None


def test_a_topic_is_known_by_its_persons_name_with_or_without_a_state_label() -> None:
    assert topic_is({"name": "Inbox1 (@inbox1)"}, "Inbox1")
    assert topic_is({"name": "🔴 Inbox1 (@inbox1) · Olga"}, "Inbox1")
    assert not topic_is({"name": "🔴 Inbox10 (@inbox10)"}, "Inbox1")
    assert not topic_is({"name": "Queue"}, "Inbox1")


def test_the_closed_stretch_as_business_hours_and_business_time() -> None:
    closed = Closed.after(120)
    assert closed.end - closed.start == CLOSED_SECONDS
    hours = hours_from_json(closed.hours())
    offset = time.time() - time.monotonic()
    epoch = closed.start + offset
    assert round(epoch) % 60 == 0  # business hours have minutes
    assert not hours.is_open(epoch + CLOSED_SECONDS / 2)
    assert hours.is_open(epoch - 30) and hours.is_open(epoch + CLOSED_SECONDS + 30)
    # A hair before or after the minute (the two clocks' offset moves) is still that minute.
    for hair in (-0.001, 0.001):
        assert Closed(closed.start + hair, closed.end + hair).hours() == closed.hours()
    # Business time leaves the stretch out, as the product's clock does.
    assert closed.business(closed.start - 10, closed.end + 5) == 15
    assert closed.business(closed.start + 5, closed.end - 5) == 0
    assert hours.business_seconds(epoch - 10, epoch + CLOSED_SECONDS + 5) == 15


def test_who_is_owed_the_away_message_and_how_it_is_counted() -> None:
    closed = Closed(100.0, 160.0)
    assert closed.away_due([50.0, 130.0]) is True  # one message while closed
    assert closed.away_due([50.0, 170.0]) is False
    assert closed.away_due([100.0 + EDGE / 2]) is None  # at closing time: either is right
    assert closed.away_due([]) is False
    counts: Counter[str] = Counter()
    ann = Conversation(Person(1, "Ann"), "answered", 0.0)
    for due, seen in ((True, 1), (True, 0), (True, 2), (False, 1), (None, 1), (None, 2)):
        count_away(counts, ann, due, seen)
    assert counts == Counter(
        owed=3, told=2, missing=1, extra=2, wrong=1, either=2, **{"not owed": 1}
    )
