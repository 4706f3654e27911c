"""The one checker the reliability suite trusts: lost, duplicated, reordered per chat."""

from __future__ import annotations

from pathlib import Path

from local.reliability.__main__ import summary
from local.reliability.checker import (
    ahead_of_pace,
    check_albums,
    check_chat,
    count_notices,
    delivery_times,
    dropped_answers,
    mark_of,
    messages_in_call,
    messages_into,
    most_in_window,
    notes_per_answer,
    receive_counts,
    total,
)
from local.reliability.harness import Row


def test_a_perfect_chat() -> None:
    result = check_chat(["a", "b", "c"], ["hello", "a", "b", "note", "c"])
    assert (result.delivered, result.lost, result.duplicated, result.reordered) == (3, 0, 0, 0)


def test_lost_duplicated_and_reordered_are_told_apart() -> None:
    result = check_chat(["a", "b", "c", "d"], ["b", "a", "a", "d"])
    assert result.lost == 1  # c
    assert result.duplicated == 1  # a twice
    assert result.reordered == 1  # a must move back before b
    assert result.delivered == 3


def test_reordering_counts_the_fewest_moves() -> None:
    assert check_chat(list("abcdef"), list("fabcde")).reordered == 1
    assert check_chat(list("abcdef"), list("fedcba")).reordered == 5


def test_totals_add_up() -> None:
    summed = total([check_chat(["a"], []), check_chat(["b", "c"], ["c", "b", "b"])])
    assert (summed.expected, summed.lost, summed.duplicated, summed.reordered) == (3, 1, 1, 1)


# ---------------------------------------------------------------------- busy inbox checks


def _photo(mark: str, group: str | None) -> dict[str, object]:
    message: dict[str, object] = {"photo": [{"file_id": "f"}], "caption": mark}
    if group is not None:
        message["media_group_id"] = group
    return message


def test_a_sticker_is_known_by_its_file_and_a_caption_counts_as_text() -> None:
    assert mark_of({"sticker": {"file_unique_id": "AQx"}}) == "sticker:AQx"
    assert mark_of({"document": {}, "caption": "P-m3"}) == "P-m3"
    assert mark_of({"text": "P-m1", "caption": "ignored"}) == "P-m1"
    assert mark_of({"photo": []}) == ""


def test_an_album_is_whole_only_as_one_media_group_of_exactly_its_items() -> None:
    albums = [["a1", "a2", "a3"], ["b1", "b2"], ["c1", "c2"], ["d1", "d2"]]
    shown = [
        *(_photo(m, "g1") for m in ("a1", "a2", "a3")),  # whole
        _photo("b1", None),  # copied one by one: the album is split
        _photo("b2", None),
        *(_photo(m, "g3") for m in ("c1", "c2")),
        _photo("stray", "g3"),  # c's group holds a message that is not c's: not whole
        _photo("d1", "g4"),  # d2 never arrived
    ]
    result = check_albums(albums, shown)
    assert (result.whole, result.split, result.missing) == (1, 2, 1)


def test_an_album_split_over_two_media_groups_is_not_whole() -> None:
    shown = [_photo("a1", "g1"), _photo("a2", "g2")]
    assert check_albums([["a1", "a2"]], shown).split == 1


def test_each_undeliverable_answer_needs_exactly_one_note() -> None:
    note = "⚠️ Not delivered: Ben has blocked the bot."
    topic: list[dict[str, object]] = [
        {"text": note, "reply_to_message": {"message_id": 10}},
        {"text": note, "reply_to_message": {"message_id": 10}},  # a second note for 10
        {"text": "🚫 Ben blocked the bot.", "reply_to_message": {"message_id": 11}},
        {"text": note},  # replies to nothing: counts for no answer
    ]
    assert notes_per_answer([10, 11], topic, "⚠️ Not delivered") == (1, 1)
    assert count_notices(topic, "⚠️ Not delivered") == 3


def test_delivery_times_take_the_first_successful_copy_of_each_message() -> None:
    group = -1001
    calls = [
        {
            "method": "copyMessage",
            "ok": False,
            "at": 1.0,
            "params": {"chat_id": "7", "from_chat_id": str(group), "message_id": "5"},
        },
        {
            "method": "copyMessage",
            "ok": True,
            "at": 2.5,
            "params": {"chat_id": "7", "from_chat_id": str(group), "message_id": "5"},
        },
        {
            "method": "copyMessage",
            "ok": True,
            "at": 9.0,  # a duplicate, later
            "params": {"chat_id": "7", "from_chat_id": str(group), "message_id": "5"},
        },
        {
            "method": "copyMessages",
            "ok": True,
            "at": 3.0,
            "params": {"chat_id": 8, "from_chat_id": group, "message_ids": "[6, 7]"},
        },
        {
            "method": "copyMessage",
            "ok": True,
            "at": 4.0,  # from a person, not the group
            "params": {"chat_id": str(group), "from_chat_id": "7", "message_id": "5"},
        },
        {"method": "sendMessage", "ok": True, "at": 0.5, "params": {"chat_id": "7"}},
    ]
    assert delivery_times(calls, group) == {(7, 5): 2.5, (8, 6): 3.0, (8, 7): 3.0}


def test_receive_counts_are_read_from_a_receive_answer() -> None:
    parsed = {
        "Messages": [
            {"Attributes": {"ApproximateReceiveCount": "3"}},
            {"Attributes": {"ApproximateReceiveCount": "11"}},
            {"Attributes": {}},
        ]
    }
    assert receive_counts(parsed) == [3, 11]
    assert receive_counts({}) == []


def test_the_receive_counter_reads_the_pollers_own_answers_per_queue() -> None:
    import boto3
    from botocore.stub import Stubber

    from local.reliability.harness import ReceiveCounter

    sqs = boto3.client(
        "sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    counter = ReceiveCounter(sqs)
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/updates.fifo"
    with Stubber(sqs) as stub:
        for counts in (["2", "7"], ["4"]):
            stub.add_response(
                "receive_message",
                {
                    "Messages": [
                        {"MessageId": c, "Attributes": {"ApproximateReceiveCount": c}}
                        for c in counts
                    ]
                },
                {"QueueUrl": url},
            )
            sqs.receive_message(QueueUrl=url)
    assert counter.highest == {"updates.fifo": 7}
    counter.reset()
    assert counter.highest == {}


# ---------------------------------------------------------------------- in-doubt duplicates


def test_a_copy_made_by_a_call_whose_answer_was_dropped_explains_one_extra_copy() -> None:
    # b's first copy was made by a call the bot never heard back from: its resend is in doubt.
    result = check_chat(["a", "b"], ["a", "b", "b"], [False, True, False])
    assert (result.duplicated, result.in_doubt, result.lost, result.reordered) == (0, 1, 0, 0)
    # The resend may overtake the late call: still explained.
    assert check_chat(["b"], ["b", "b"], [False, True]).in_doubt == 1


def test_an_extra_copy_with_no_dropped_answer_is_a_real_duplicate() -> None:
    plain = check_chat(["a"], ["a", "a"])
    assert (plain.duplicated, plain.in_doubt) == (1, 0)
    # One dropped answer explains one extra copy, not two.
    result = check_chat(["a"], ["a", "a", "a"], [True, False, False])
    assert (result.duplicated, result.in_doubt) == (1, 1)
    # A dropped answer on another mark explains nothing here.
    result = check_chat(["a", "b"], ["a", "a", "b"], [False, False, True])
    assert (result.duplicated, result.in_doubt) == (1, 0)
    assert total([result, check_chat(["c"], ["c", "c"], [True])]).in_doubt == 1


def test_dropped_answers_are_read_from_the_call_log() -> None:
    calls = [
        # copyMessage: a MessageId, the chat from the parameters (form values are strings).
        {"method": "copyMessage", "ok": True, "answer_dropped": True,
         "params": {"chat_id": "-1001", "from_chat_id": "7", "message_id": "3"},
         "result": {"message_id": 41}},
        # copyMessages: a list of MessageIds.
        {"method": "copyMessages", "ok": True, "answer_dropped": True,
         "params": {"chat_id": "55", "message_ids": "[1, 2]"},
         "result": [{"message_id": 8}, {"message_id": 9}]},
        # sendMessage: a Message, which names its chat.
        {"method": "sendMessage", "ok": True, "answer_dropped": True,
         "params": {"chat_id": "@ops"}, "result": {"message_id": 5, "chat": {"id": -1002}}},
        # Answered (no flag), or failed: nothing was made behind the bot's back.
        {"method": "copyMessage", "ok": True, "params": {"chat_id": "55"},
         "result": {"message_id": 10}},
        {"method": "copyMessage", "ok": False, "answer_dropped": True,
         "params": {"chat_id": "55"}, "result": None},
    ]  # fmt: skip
    assert dropped_answers(calls) == {(-1001, 41), (55, 8), (55, 9), (-1002, 5)}


def _row(**counts: int) -> Row:
    base = dict(updates_in=1, delivered=1, lost=0, duplicated=0, reordered=0, dead_lettered=0)
    return Row(scenario="s", replayed=0, undeliverable=0, seconds=1.0, **{**base, **counts})


def test_the_summary_tells_in_doubt_copies_apart_and_does_not_fail_on_them() -> None:
    line, status = summary([_row(in_doubt=2), _row(in_doubt=1)])
    assert line == "reliability: scenarios=2 lost=0 duplicated=0 in_doubt=3 reordered=0"
    assert status == 0


def test_the_summary_fails_on_anything_lost_duplicated_reordered_or_otherwise_wrong() -> None:
    for bad in ({"lost": 1}, {"duplicated": 1}, {"reordered": 1}, {"problems": 1}):
        line, status = summary([_row(in_doubt=1), _row(**bad)])
        assert status == 1, bad
        assert "in_doubt=1" in line
    line, status = summary([_row()], timed_out=1)
    assert (line.endswith(" timed_out=1"), status) == (True, 1)


# ---------------------------------------------------------------------- budgets (call log)


def test_messages_are_counted_per_call_as_telegram_counts_them() -> None:
    calls = [
        {"method": "copyMessages", "ok": True, "at": 1.0,
         "params": {"chat_id": "-100", "message_ids": "[1, 2, 3]"}},
        {"method": "createForumTopic", "ok": True, "at": 2.0, "params": {"chat_id": "-100"}},
        {"method": "sendMessage", "ok": True, "at": 3.0, "params": {"chat_id": "-100"}},
        {"method": "editMessageText", "ok": True, "at": 4.0, "params": {"chat_id": "-100"}},
        {"method": "sendChatAction", "ok": True, "at": 5.0, "params": {"chat_id": "-100"}},
        {"method": "sendMessage", "ok": False, "at": 6.0, "params": {"chat_id": "-100"}},
        {"method": "sendMessage", "ok": True, "at": 7.0, "params": {"chat_id": "42"}},
    ]  # fmt: skip
    assert messages_into(calls, -100) == [(1.0, 3), (2.0, 1), (3.0, 1)]
    assert messages_in_call(calls[3]) == 0  # an edit is no new message


def test_the_busiest_sliding_window() -> None:
    stamps = [(0.0, 5), (30.0, 5), (59.9, 5), (60.0, 1), (125.0, 2)]
    assert most_in_window(stamps, 60.0) == 15  # 0..59.9; at 60.0 the first has left
    assert most_in_window([], 60.0) == 0


def test_a_pace_held_or_outrun() -> None:
    # Burst 3, then one a second: on time, and one message ahead of it.
    assert ahead_of_pace([(0.0, 3), (1.0, 1), (2.0, 1)], 3, 1.0) == 0.0
    assert ahead_of_pace([(0.0, 3), (0.5, 1), (2.0, 1)], 3, 1.0) == 0.5
    assert ahead_of_pace([(10.0, 2), (10.0, 6)], 3, 1.0) == 5.0
    assert ahead_of_pace([], 3, 1.0) == 0.0


def test_a_log_tail_reads_only_what_came_after_it_and_sums_a_metric(tmp_path: Path) -> None:
    from local.reliability.harness import LogTail

    log = tmp_path / "webhook.log"
    emf = '{"_aws": {"CloudWatchMetrics": []}, "UpdatesFromStrangers": [1.0]}\n'
    log.write_text(emf)
    tail = LogTail(log)
    log.write_text(emf + "not json\n" + emf + emf.replace("[1.0]", "[2.0, 1.0]") + '{"a": 1}\n')
    assert tail.metric("UpdatesFromStrangers") == 4.0  # the line before the tail: not counted
    assert len(tail.lines()) == 3
    assert LogTail(tmp_path / "missing.log").lines() == []
