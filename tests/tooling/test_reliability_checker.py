"""The one checker the reliability suite trusts: lost, duplicated, reordered per chat."""

from __future__ import annotations

from local.reliability.checker import (
    check_albums,
    check_chat,
    count_notices,
    delivery_times,
    mark_of,
    notes_per_answer,
    receive_counts,
    total,
)


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
