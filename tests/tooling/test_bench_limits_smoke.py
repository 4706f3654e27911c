"""``make bench-limits``'s pure parts: delivery checks, rates and fractions, the call-log
parser, the table and the summary line, the CLI and the consumer's limiter switch.

No servers, no timing: the benchmark itself is ``make bench-limits``.
"""

from __future__ import annotations

import pytest
from telegram.ext import AIORateLimiter, ExtBot
from topicdesk.contract import Env

from bench.limits import consumer, run, world
from bench.limits.checks import (
    COUNTED,
    Delivery,
    Row,
    bot_limit,
    calls_into,
    check_conversation,
    check_conversations,
    fraction,
    group_limit,
    rejected,
    scopes,
    sends_from,
    summary,
    sustained_rate,
    table,
)
from local.reliability.checker import longest_increasing

# ----------------------------------------------------------------------------- delivery


def test_a_clean_conversation_is_clean() -> None:
    result = check_conversation(["a", "b", "c"], ["card", "a", "b", "c"])
    assert result == Delivery(expected=3)
    assert result.ok


def test_lost_duplicated_and_reordered_are_counted_apart() -> None:
    assert check_conversation(["a", "b", "c"], ["a", "c"]) == Delivery(3, lost=1)
    assert check_conversation(["a", "b"], ["a", "a", "b", "b", "b"]) == Delivery(2, duplicated=3)
    # b and c swapped: one message has to move.
    assert check_conversation(["a", "b", "c", "d"], ["a", "c", "b", "d"]) == Delivery(
        4, reordered=1
    )
    # A duplicate arriving late is a duplicate, not a reorder.
    assert check_conversation(["a", "b"], ["a", "b", "a"]) == Delivery(2, duplicated=1)


def test_reordering_counts_the_fewest_moves() -> None:
    assert longest_increasing([]) == 0
    assert longest_increasing([3, 1, 2, 4]) == 3
    assert longest_increasing([5, 4, 3, 2, 1]) == 1
    # Two interleaved halves, as two consumers of one group would deliver them.
    arrived = ["m1", "m3", "m5", "m2", "m4", "m6"]
    assert check_conversation(["m1", "m2", "m3", "m4", "m5", "m6"], arrived).reordered == 2


def test_every_conversation_adds_up_and_a_missing_one_is_all_lost() -> None:
    total = check_conversations({1: ["x"], 2: ["y", "z"]}, {1: ["x", "x"]})
    assert total == Delivery(expected=3, lost=2, duplicated=1)
    assert not total.ok


def test_the_texts_of_one_conversation_must_be_distinct() -> None:
    with pytest.raises(ValueError):
        check_conversation(["same", "same"], [])


# ----------------------------------------------------------------------------- rates


def test_the_sustained_rate_is_sends_after_the_first_over_the_span() -> None:
    assert sustained_rate([0.0, 0.5, 1.0, 1.5, 2.0]) == pytest.approx(2.0)
    assert sustained_rate([2.0, 0.0, 1.0]) == pytest.approx(1.0)  # order does not matter
    # Messages carried: the first call's are not counted (they start the span).
    assert sustained_rate([0.0, 3.0, 6.0], [10, 10, 5]) == pytest.approx(15 / 6)
    assert sustained_rate([1.0]) is None
    assert sustained_rate([1.0, 1.0]) is None
    with pytest.raises(ValueError):
        sustained_rate([0.0, 1.0], [1])


def test_fractions_are_of_the_documented_limits_times_the_scale() -> None:
    assert bot_limit(1) == 30.0
    assert bot_limit(0.5) == 15.0
    assert group_limit(1) == pytest.approx(20 / 60)
    assert group_limit(5) == pytest.approx(100 / 60)
    # Topicdesk's own pace (28/s, 19/min) against the documented limits.
    assert fraction(28.0, bot_limit(1)) == pytest.approx(0.9333, abs=1e-4)
    assert fraction(19 * 5 / 60, group_limit(5)) == pytest.approx(0.95)
    assert fraction(None, 1.0) is None
    with pytest.raises(ValueError):
        fraction(1.0, 0.0)


# ----------------------------------------------------------------------------- call log

CALLS = [
    {"at": 1.0, "method": "getMe", "status": 200, "params": {}},
    {"at": 2.0, "method": "sendMessage", "status": 200, "params": {"chat_id": "42", "text": "hi"}},
    {
        "at": 3.0,
        "method": "copyMessages",
        "status": 200,
        "params": {"chat_id": "-100", "from_chat_id": "42", "message_ids": "[1, 2, 3]"},
    },
    {"at": 4.0, "method": "sendMessage", "status": 429, "params": {"chat_id": -100}},
    {"at": 5.0, "method": "createForumTopic", "status": 200, "params": {"chat_id": "-100"}},
    {"at": 6.0, "method": "sendMessage", "status": None, "params": {"chat_id": "@name"}},
]


def test_the_call_log_gives_the_sends_with_what_they_carry() -> None:
    sends = sends_from(CALLS)
    assert [(s.method, s.chat_id, s.messages, s.ok) for s in sends] == [
        ("sendMessage", 42, 1, True),
        ("copyMessages", -100, 3, True),
        ("sendMessage", -100, 1, False),
    ]
    assert rejected(CALLS) == 1
    # Every successful call about the group, topic creation included.
    assert calls_into(CALLS, -100) == [3.0, 5.0]
    # What the strict count spends of the group's 20/min: each message, and each topic.
    counted = [s for s in sends_from(CALLS, COUNTED) if s.chat_id == -100 and s.ok]
    assert [(s.method, s.messages) for s in counted] == [
        ("copyMessages", 3),
        ("createForumTopic", 1),
    ]


# ----------------------------------------------------------------------------- table


def _row(limiter: str, k: int, scenario: str = "b", rate: float | None = 1.0, r429: int = 0) -> Row:
    return Row(
        scenario=scenario,
        limiter=limiter,
        k=k,
        scale=5.0,
        delivered=60,
        expected=60,
        sends=120,
        elapsed=80.0,
        rate=rate,
        limit=group_limit(5),
        message_rate=rate,
        rejected_429=r429,
        violations=r429,
        delivery=Delivery(expected=60),
    )


def test_the_summary_is_topicdesks_worst_fraction_at_the_largest_k_and_the_429_totals() -> None:
    rows = [
        _row("topicdesk", 1, rate=0.5 * group_limit(5)),  # not the largest K: not counted
        _row("topicdesk", 16, rate=0.95 * group_limit(5)),
        _row("topicdesk", 16, scenario="c", rate=0.91 * group_limit(5), r429=2),
        _row("baseline", 16, rate=2 * group_limit(5), r429=20),
        _row("baseline", 1, r429=3),
    ]
    assert summary(rows) == "limits: topicdesk_rate=0.91 topicdesk_429=2 baseline_429=23"
    assert summary([]) == "limits: topicdesk_rate=0.00 topicdesk_429=0 baseline_429=0"
    # A scenario without a measurable rate counts as 0, not as a pass.
    assert summary([_row("topicdesk", 4, rate=None)]).startswith("limits: topicdesk_rate=0.00")


def test_the_table_is_markdown_with_one_line_per_run() -> None:
    lines = table([_row("topicdesk", 1), _row("baseline", 1, rate=None)])
    assert lines[0].startswith("| scenario | K | limiter |")
    assert lines[1].count("---") == lines[0].count("|") - 1
    assert len(lines) == 4
    assert "/min" in lines[2]
    assert "n/a" in lines[3]
    assert scopes({"group": 3, "bot": 1, "chat": 0}) == "bot 1, group 3"
    assert scopes({}) == "-"


# ----------------------------------------------------------------------------- CLI, wiring


def test_the_deadlines_count_every_unit_of_the_groups_limit() -> None:
    """(c)'s 100 messages are 102 units (with the topic and the card): 10 min at 10/min, not
    the 72 s that counting one copyMessages per 10 as one unit would allow."""
    assert run.chatty_seconds(100, 0.5) == pytest.approx(102 / 10 * 60)
    assert run.crowd_seconds(60, 5.0) == pytest.approx(180 / 100 * 60)
    # 450 chats at 15/s, and ten notes into the group at 10/min.
    assert run.broadcast_seconds(450, 0.5) == pytest.approx(30 + 60)


def test_the_cli_defaults_and_refusals() -> None:
    args = run.parse([])
    assert args.k == [1, 4, 16]
    assert args.scenarios == "abc"
    assert args.limiters == ["topicdesk", "baseline"]
    assert run.parse(["--k", "2,8", "--limiters", "baseline"]).k == [2, 8]
    with pytest.raises(SystemExit):
        run.parse(["--scenarios", "abx"])
    with pytest.raises(SystemExit):
        run.parse(["--limiters", "other"])


def test_the_consumers_get_the_scaled_limits_and_the_limiter_switch() -> None:
    aws = world.Aws(endpoint="http://127.0.0.1:1", sqs=None, dynamodb=None, secrets=None)
    stack = world.RunStack("run", "url", "arn", "dlq", "data", "limits", "idem", "secret")
    env = world.consumer_env(
        aws, stack, api_url="http://127.0.0.1:2", operator_chat_id=-100, limiter="baseline", scale=5
    )
    assert env[Env.LIMIT_BOT_PER_SECOND] == "140"
    assert env[Env.LIMIT_GROUP_PER_MINUTE] == "95"
    assert env[Env.LIMIT_CHAT_PER_SECOND] == "4.75"
    assert int(env[Env.LIMIT_PERSON_BURST]) >= 100_000  # the product's pace rule, out of the way
    assert int(env[Env.LIMIT_NEW_TOPICS_PER_HOUR]) >= 100_000  # a crowd is not held in line
    assert env["BENCH_LIMITER"] == "baseline"
    assert env["BENCH_SCALE"] == "5"
    assert env["AWS_ENDPOINT_URL"] == aws.endpoint
    assert env[Env.OPERATOR_CHAT_IDS] == "-100"


def test_the_baseline_bot_carries_ptbs_limiter_at_the_scaled_rates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(consumer.SCALE, "5")
    bot = consumer.build_rate_limited_bot("123:abc", "http://127.0.0.1:9")
    assert isinstance(bot, ExtBot)
    assert isinstance(bot.rate_limiter, AIORateLimiter)
    monkeypatch.setenv(consumer.SWITCH, "baseline")
    assert consumer.limiter_name() == "baseline"
    monkeypatch.setenv(consumer.SWITCH, "something-else")
    with pytest.raises(ValueError):
        consumer.limiter_name()
