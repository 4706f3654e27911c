"""The relay rules, against in-memory fakes (no network)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from topicdesk.domain.errors import (
    NotCopyable,
    RateLimited,
    RecipientBlocked,
    StorageUnavailable,
    TopicBeingCreated,
    TopicClosed,
    TopicMissing,
    TransientFailure,
)
from topicdesk.domain.model import ChatMessage, MessageRef, Person, SessionStatus
from topicdesk.domain.relay import Pace, RelaySettings, ShardPicker
from topicdesk.domain.relay import context as relay_module
from topicdesk.domain.steps import REPLAYED, Steps

from tests.support.fakes import InMemoryMessageMap, InMemorySessions, InMemoryStepLog
from tests.support.relay_world import GROUP, RelayWorld, relay_world

OTHER_GROUP = -1002
ANNA = Person(user_id=501, first_name="Anna", last_name="K", username="anna", language_code="de")
BEN = Person(user_id=502, first_name="Ben")
OPERATOR = Person(user_id=900, first_name="Olga")


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


class CountingGate:
    """The greeting gate: ``burst`` per person, refilled only when the test says so."""

    def __init__(self, burst: int) -> None:
        self.burst = burst
        self.used: dict[int, int] = {}

    def admit(self, user_id: int, now: float) -> float:
        if self.used.get(user_id, 0) >= self.burst:
            return 8.0
        self.used[user_id] = self.used.get(user_id, 0) + 1
        return 0.0


def make_world(
    *groups: int,
    greeting: str = "Hi there",
    pace: Pace | None = None,
    flood_policy: str = "hold",
    messages: InMemoryMessageMap | None = None,
    backlog: Callable[[int], float] | None = None,
    greetings: CountingGate | None = None,
) -> RelayWorld:
    sessions, groups = InMemorySessions(), groups or (GROUP,)
    return relay_world(
        settings=RelaySettings(
            operator_chat_ids=groups, greeting=greeting, flood_policy=flood_policy
        ),
        sessions=sessions,
        messages=messages,
        pace=pace,
        greetings=greetings,
        shard_picker=ShardPicker(sessions, groups, backlog=backlog),
    )


def private(person: Person, message_id: int, text: str = "hello", **kw: Any) -> ChatMessage:
    return ChatMessage(
        chat_id=person.user_id,
        message_id=message_id,
        sender=person,
        kind=kw.pop("kind", "text"),
        text=text,
        **kw,
    )


def in_topic(thread_id: int, message_id: int, text: str = "answer", **kw: Any) -> ChatMessage:
    return ChatMessage(
        chat_id=kw.pop("chat_id", GROUP),
        message_id=message_id,
        sender=kw.pop("sender", OPERATOR),
        kind=kw.pop("kind", "text"),
        text=text,
        thread_id=thread_id,
        is_topic_message=True,
        **kw,
    )


def test_first_message_creates_one_topic_with_a_contact_card_then_copies() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))

    created = world.telegram.called("create_topic")
    assert created == [{"chat_id": GROUP, "name": "Anna K (@anna)"}]
    card = world.telegram.called("send_text")[0]
    assert card["chat_id"] == GROUP and card["thread_id"] == 11
    assert "@anna" in card["text"] and "id: 501" in card["text"] and "language: de" in card["text"]
    copy = world.telegram.called("copy_message")[0]
    assert copy == {
        "chat_id": GROUP,
        "from_chat_id": 501,
        "message_id": 1,
        "thread_id": 11,
        "reply_to": None,
    }
    # The card comes before the message.
    assert [c.method for c in world.telegram.calls] == ["create_topic", "send_text", "copy_message"]
    session = world.sessions.get(501)
    assert session is not None and session.thread_id == 11 and session.card_posted


def test_later_messages_reuse_the_topic() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(world.relay.private_messages([private(ANNA, 2)]))
    assert len(world.telegram.called("create_topic")) == 1
    assert [c["message_id"] for c in world.telegram.called("copy_message")] == [1, 2]
    assert world.sessions.get(501).messages_in == 2  # type: ignore[union-attr]


def counting(fake: object, method: str, calls: Counter[str]) -> None:
    """Count the calls of ``fake``'s ``method`` in ``calls``."""
    original = getattr(fake, method)

    def counted(*args: Any) -> Any:
        calls[method] += 1
        return original(*args)

    setattr(fake, method, counted)


def test_a_message_reads_the_session_once_and_never_the_map() -> None:
    """Each read is a DynamoDB call (issue 16): a person's message reads their session once
    (for the relayed check, the new-people question and the topic). A person without a
    topic cannot have been relayed; with one, the session's ``relayed_up_to`` (written with
    the count) says whether it was: the message map is not asked either way."""
    calls: Counter[str] = Counter()
    sessions, messages = InMemorySessions(), InMemoryMessageMap()
    counting(sessions, "get", calls)
    counting(messages, "peer", calls)
    world = relay_world(sessions=sessions, messages=messages)
    run(world.relay.private_messages([private(ANNA, 1)]))
    assert calls["peer"] == 0
    calls.clear()
    run(world.relay.private_messages([private(ANNA, 2)]))
    assert (calls["get"], calls["peer"]) == (1, 0)
    assert [c["message_id"] for c in world.telegram.called("copy_message")] == [1, 2]
    assert world.sessions.get(501).relayed_up_to == 2  # type: ignore[union-attr]


def test_a_session_counted_before_the_relayed_mark_asks_the_map_until_counted() -> None:
    """Sessions written before ``relayed_up_to`` existed: the message map answers, and the
    count's write sets the mark for the next message."""
    calls: Counter[str] = Counter()
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    del world.sessions.items[501]["relayed_up_to"]  # as an older deployment left it
    counting(world.messages, "peer", calls)
    # Another container (no memory of message 1), on the same stores:
    other = relay_world(sessions=world.sessions, messages=world.messages, telegram=world.telegram)
    run(other.relay.private_messages([private(ANNA, 1)]))  # a later copy of message 1
    assert calls["peer"] == 1
    run(other.relay.private_messages([private(ANNA, 2)]))  # asks too, then sets the mark
    run(other.relay.private_messages([private(ANNA, 3)]))
    assert calls["peer"] == 2
    assert [c["message_id"] for c in world.telegram.called("copy_message")] == [1, 2, 3]


def test_a_replayed_dead_letter_below_the_mark_is_relayed_and_leaves_the_mark() -> None:
    """Message 1 went to the DLQ and 2 was relayed after it: the replay (its record says
    ``REPLAYED``) is copied, and the mark stays at 2, so a later copy of 2 still stops."""
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 2)]))
    other = relay_world(sessions=world.sessions, messages=world.messages, telegram=world.telegram)
    run(other.relay.private_messages([private(ANNA, 1)], Steps(done={REPLAYED: True})))
    assert world.sessions.get(501).relayed_up_to == 2  # type: ignore[union-attr]
    third = relay_world(sessions=world.sessions, messages=world.messages, telegram=world.telegram)
    run(third.relay.private_messages([private(ANNA, 2)]))
    assert [c["message_id"] for c in world.telegram.called("copy_message")] == [2, 1]


def test_an_older_message_delivered_after_a_newer_one_is_relayed_not_taken_for_a_copy() -> None:
    """Telegram may deliver a webhook's updates out of order (the Bot API says so of
    ``update_id``): message 1 arriving after 2 is below the mark but not in its run, so the
    message map decides, and it was never relayed. The mark stays at 2."""
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(world.relay.private_messages([private(ANNA, 3)]))  # 2 is late
    other = relay_world(sessions=world.sessions, messages=world.messages, telegram=world.telegram)
    run(other.relay.private_messages([private(ANNA, 2)]))
    run(other.relay.private_messages([private(ANNA, 1)]))  # a copy of 1: its link stops it
    assert [c["message_id"] for c in world.telegram.called("copy_message")] == [1, 3, 2]
    assert world.sessions.get(501).relayed_up_to == 3  # type: ignore[union-attr]


def test_an_older_answer_delivered_after_a_newer_one_reaches_the_person() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(world.relay.group_messages([in_topic(11, 72)]))  # 71 is late
    other = relay_world(sessions=world.sessions, messages=world.messages, telegram=world.telegram)
    run(other.relay.group_messages([in_topic(11, 71)]))
    run(other.relay.group_messages([in_topic(11, 72)]))  # a copy of 72: the mark stops it
    answers = [c for c in world.telegram.called("copy_message") if c["chat_id"] == 501]
    assert [c["message_id"] for c in answers] == [72, 71]


@pytest.mark.parametrize("side", ["person", "operator"])
def test_an_older_message_whose_links_are_lost_is_stopped_by_its_record(
    monkeypatch: pytest.MonkeyPatch, side: str
) -> None:
    """An older message (delivered after a newer one) does not move the mark, so its count's
    write does not finish the update: with its links lost to throttling, only the record's
    finished marker stops a later copy of the update (found in review)."""
    monkeypatch.setattr(relay_module, "BOOKKEEPING_RETRY_DELAYS", (0, 0, 0, 0))
    messages = FlakyMap(0)
    world = make_world(messages=messages)
    relay_of = {"person": world.relay.private_messages, "operator": world.relay.group_messages}
    older, newer = (
        (private(ANNA, 2), private(ANNA, 3))
        if side == "person"
        else (in_topic(11, 71), in_topic(11, 72))
    )
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(relay_of[side]([newer]))
    messages.failures = 99  # DynamoDB throttles every link of the older one
    log = InMemoryStepLog()
    steps = Steps(log, "update#7", deferred=True)
    run(relay_of[side]([older], steps))
    run(steps.finish())
    # A later copy of the update (another container) loads the record and is dropped whole
    # (``runtime.work``) before the relay runs.
    assert Steps.load(log, "update#7", deferred=True).finished
    copied = [c["message_id"] for c in world.telegram.called("copy_message")]
    assert copied.count(older.message_id) == 1


def test_a_deferred_record_relayed_meanwhile_as_a_follower_is_not_copied_again() -> None:
    """Message 2 was admitted and deferred on its own (its admission recorded); then it rode
    along with message 1's copyMessages. When its own record comes back it finds itself
    relayed: recorded steps before its own copy do not stop that check."""
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1), private(ANNA, 2)]))
    other = relay_world(sessions=world.sessions, messages=world.messages, telegram=world.telegram)
    run(other.relay.private_messages([private(ANNA, 2)], Steps(done={"admitted": [2]})))
    assert [c["message_ids"] for c in world.telegram.called("copy_messages")] == [[1, 2]]
    assert world.telegram.called("copy_message") == []


def test_a_record_that_made_its_own_copy_resumes_after_it() -> None:
    """A record whose own copy is recorded (an earlier attempt failed after it) resumes: the
    copy is not made again, and its bookkeeping is done."""
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    copies = len(world.telegram.called("copy_message"))
    other = relay_world(sessions=world.sessions, messages=world.messages, telegram=world.telegram)
    done = {"admitted": [2], "copy#2": 999}
    run(other.relay.private_messages([private(ANNA, 2)], Steps(done=done)))
    assert len(world.telegram.called("copy_message")) == copies  # not sent again
    assert world.sessions.get(501).relayed_up_to == 2  # type: ignore[union-attr]


def test_a_copy_counted_but_never_linked_is_not_copied_again_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The count is written before the links: a container that never saw the run (no memory
    of it), with the links lost to throttling, still finds the follower relayed."""
    monkeypatch.setattr(relay_module, "BOOKKEEPING_RETRY_DELAYS", (0, 0, 0, 0))
    world = make_world(messages=FlakyMap(99))
    run(world.relay.private_messages([private(ANNA, 1), private(ANNA, 2)]))
    other = relay_world(sessions=world.sessions, messages=world.messages, telegram=world.telegram)
    run(other.relay.private_messages([private(ANNA, 2)]))  # the follower's own record
    run(other.relay.private_messages([private(ANNA, 1)]))  # a later copy of the head
    assert [c["message_ids"] for c in world.telegram.called("copy_messages")] == [[1, 2]]
    assert world.telegram.called("copy_message") == []
    assert world.sessions.get(501).messages_in == 2  # type: ignore[union-attr]


def test_a_redelivered_message_is_not_copied_twice() -> None:
    world = make_world()
    message = private(ANNA, 1)
    run(world.relay.private_messages([message]))
    run(world.relay.private_messages([message]))
    assert len(world.telegram.called("copy_message")) == 1


def test_concurrent_claim_loses_and_retries_later() -> None:
    world = make_world()
    assert world.sessions.claim_topic_creation(ANNA, GROUP, "someone-else", world.clock.now(), 30)
    with pytest.raises(TopicBeingCreated):
        run(world.relay.private_messages([private(ANNA, 1)]))
    assert world.telegram.called("create_topic") == []
    # The other worker's lease expires without it finishing: this worker takes over.
    world.clock.current += 31
    run(world.relay.private_messages([private(ANNA, 1)]))
    assert len(world.telegram.called("create_topic")) == 1


def test_consecutive_messages_go_as_one_copy_messages_call() -> None:
    world = make_world()
    album = [private(ANNA, i, kind="photo", media_group_id="g1") for i in (5, 6, 7)]
    run(world.relay.private_messages(album))
    assert world.telegram.called("copy_messages") == [
        {"chat_id": GROUP, "from_chat_id": 501, "message_ids": [5, 6, 7], "thread_id": 11}
    ]
    # The followers' own records then find themselves relayed already.
    run(world.relay.private_messages(album[1:]))
    run(world.relay.private_messages(album[2:]))
    assert len(world.telegram.called("copy_messages")) == 1
    assert world.telegram.called("copy_message") == []
    assert world.messages.peer(MessageRef(501, 6)) is not None


def test_a_reply_breaks_the_run_and_keeps_its_threading() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    topic_copy = world.messages.peer(MessageRef(501, 1))
    assert topic_copy is not None
    run(world.relay.private_messages([private(ANNA, 2, reply_to_message_id=1), private(ANNA, 3)]))
    copies = world.telegram.called("copy_message")
    assert copies[-1]["message_id"] == 2 and copies[-1]["reply_to"] == topic_copy.message_id


def test_start_is_greeted_and_not_relayed() -> None:
    world = make_world(greeting="Welcome!")
    run(world.relay.private_messages([private(ANNA, 1, text="/start")]))
    assert world.telegram.called("send_text") == [
        {"chat_id": 501, "text": "Welcome!", "thread_id": None, "reply_to": None}
    ]
    assert world.telegram.called("create_topic") == []


def test_operator_answer_reaches_the_person_with_a_receipt() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(world.relay.group_messages([in_topic(11, 70, reply_to_message_id=None)]))
    delivered = world.telegram.called("copy_message")[-1]
    assert delivered == {
        "chat_id": 501,
        "from_chat_id": GROUP,
        "message_id": 70,
        "thread_id": None,
        "reply_to": None,
    }
    assert world.telegram.called("react") == [{"chat_id": GROUP, "message_id": 70, "emoji": "👍"}]
    assert world.sessions.get(501).messages_out == 1  # type: ignore[union-attr]


def test_an_answer_writes_no_step_record_and_a_later_copy_finds_the_mark() -> None:
    """The answer's count marks it delivered in the session (its record was empty): the
    receipt does not write the step record first, and ``finish`` writes none. A later copy
    of the update (finding no record), in another container, finds the mark and stops
    without reading the message map."""
    calls: Counter[str] = Counter()
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    log = InMemoryStepLog()
    steps = Steps(log, "update#9", deferred=True)
    run(world.relay.group_messages([in_topic(11, 70)], steps))
    run(steps.finish())
    assert log.writes == 0
    counting(world.messages, "peer", calls)
    other = relay_world(sessions=world.sessions, messages=world.messages, telegram=world.telegram)
    run(other.relay.group_messages([in_topic(11, 70)], Steps(log, "update#10", deferred=True)))
    assert len(world.telegram.called("copy_message")) == 2  # the person's 1, the answer once
    assert len(world.telegram.called("react")) == 1
    assert calls["peer"] == 0
    assert world.sessions.get(501).answered_up_to == 70  # type: ignore[union-attr]


def test_a_first_answer_in_a_new_topic_reads_no_message_map() -> None:
    calls: Counter[str] = Counter()
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    counting(world.messages, "peer", calls)
    run(world.relay.group_messages([in_topic(11, 70)]))
    assert calls["peer"] == 0
    assert len(world.telegram.called("copy_message")) == 2


def test_a_command_past_the_answers_mark_is_not_run_twice() -> None:
    """A command is marked by its answer's link, not by the count: a later copy of it (in
    another container) asks the message map and does nothing."""
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(world.relay.group_messages([in_topic(11, 70)]))
    run(world.relay.group_messages([in_topic(11, 71, text="/info")]))
    other = relay_world(sessions=world.sessions, messages=world.messages, telegram=world.telegram)
    notes = len(world.telegram.called("send_text"))
    run(other.relay.group_messages([in_topic(11, 71, text="/info")]))
    assert len(world.telegram.called("send_text")) == notes


def test_operator_reply_threads_to_the_persons_message() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    copy_in_topic = world.messages.peer(MessageRef(501, 1))
    assert copy_in_topic is not None
    run(
        world.relay.group_messages([in_topic(11, 71, reply_to_message_id=copy_in_topic.message_id)])
    )
    assert world.telegram.called("copy_message")[-1]["reply_to"] == 1


def test_bot_messages_general_topic_and_unknown_topics_are_ignored() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    before = len(world.telegram.calls)
    bot = Person(user_id=1, first_name="Bot", is_bot=True)
    run(world.relay.group_messages([in_topic(11, 80, sender=bot)]))
    run(world.relay.group_messages([in_topic(99, 81)]))  # not a person's topic
    general = ChatMessage(chat_id=GROUP, message_id=82, sender=OPERATOR, kind="text", text="hi")
    run(world.relay.group_messages([general]))
    run(world.relay.group_messages([in_topic(11, 83, kind="service", text=None)]))
    assert len(world.telegram.calls) == before


def test_blocked_person_is_marked_and_operators_told() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    world.telegram.fail("copy_message", RecipientBlocked("Forbidden: bot was blocked by the user"))
    run(world.relay.group_messages([in_topic(11, 70)]))
    assert world.sessions.get(501).blocked  # type: ignore[union-attr]
    note = world.telegram.called("send_text")[-1]
    assert note["thread_id"] == 11 and note["reply_to"] == 70
    assert "blocked the bot" in note["text"]
    assert world.telegram.called("react") == []


def test_deleted_topic_is_recreated_and_the_message_delivered() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    world.telegram.fail("copy_message", TopicMissing("Bad Request: message thread not found"))
    run(world.relay.private_messages([private(ANNA, 2)]))
    assert len(world.telegram.called("create_topic")) == 2
    copies = world.telegram.called("copy_message")
    assert copies[-1]["message_id"] == 2 and copies[-1]["thread_id"] == 12
    assert world.sessions.get(501).thread_id == 12  # type: ignore[union-attr]
    assert world.sessions.user_for_topic(GROUP, 12) == 501
    assert world.sessions.user_for_topic(GROUP, 11) is None
    assert "deleted" in world.telegram.called("send_text")[-1]["text"]


def test_closed_topic_is_reopened_and_the_message_delivered() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    world.telegram.fail("copy_message", TopicClosed("Bad Request: TOPIC_CLOSED"))
    run(world.relay.private_messages([private(ANNA, 2)]))
    assert world.telegram.called("reopen_topic") == [{"chat_id": GROUP, "thread_id": 11}]
    assert world.telegram.called("copy_message")[-1]["message_id"] == 2


def test_uncopyable_message_is_reported_to_operators() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    world.telegram.fail("copy_message", NotCopyable("Bad Request: message can't be copied"))
    run(world.relay.private_messages([private(ANNA, 2, kind="service", text=None)]))
    assert "cannot be relayed" in world.telegram.called("send_text")[-1]["text"]
    assert world.metrics.counts["NotCopyable"] == 1


def test_transient_failures_propagate_so_the_record_is_retried() -> None:
    world = make_world()
    world.telegram.fail("create_topic", TransientFailure("Bad Gateway"))
    with pytest.raises(TransientFailure):
        run(world.relay.private_messages([private(ANNA, 1)]))
    # The failed attempt released its claim: the retry goes ahead at once.
    run(world.relay.private_messages([private(ANNA, 1)]))
    assert len(world.telegram.called("copy_message")) == 1


def test_close_and_reopen_commands_tell_the_person() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(world.relay.group_messages([in_topic(11, 90, text="/close")]))
    assert world.telegram.called("close_topic") == [{"chat_id": GROUP, "thread_id": 11}]
    assert world.sessions.get(501).status is SessionStatus.CLOSED  # type: ignore[union-attr]
    to_person = [c for c in world.telegram.called("send_text") if c["chat_id"] == 501]
    assert "closed" in to_person[-1]["text"]
    # The command itself is never copied to the person.
    assert all(c["message_id"] != 90 for c in world.telegram.called("copy_message"))
    # A redelivered /close does nothing more.
    calls = len(world.telegram.calls)
    run(world.relay.group_messages([in_topic(11, 90, text="/close")]))
    assert len(world.telegram.calls) == calls
    run(world.relay.group_messages([in_topic(11, 91, text="/reopen@topicdesk_bot")]))
    assert world.telegram.called("reopen_topic")
    assert world.sessions.get(501).status is SessionStatus.OPEN  # type: ignore[union-attr]


def test_person_writing_into_a_closed_session_reopens_it() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(world.relay.group_messages([in_topic(11, 90, text="/close")]))
    run(world.relay.private_messages([private(ANNA, 2)]))
    assert world.telegram.called("reopen_topic")
    assert world.sessions.get(501).status is SessionStatus.OPEN  # type: ignore[union-attr]
    assert world.telegram.called("copy_message")[-1]["message_id"] == 2


def test_banned_people_are_dropped_and_counted() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(world.relay.group_messages([in_topic(11, 90, text="/ban")]))
    copies = len(world.telegram.called("copy_message"))
    run(world.relay.private_messages([private(ANNA, 2)]))
    run(world.relay.private_messages([private(ANNA, 3)]))
    assert len(world.telegram.called("copy_message")) == copies
    assert world.sessions.get(501).dropped == 2  # type: ignore[union-attr]
    assert world.metrics.counts["BannedDropped"] == 2
    run(world.relay.group_messages([in_topic(11, 91, text="/unban")]))
    run(world.relay.private_messages([private(ANNA, 4)]))
    assert world.telegram.called("copy_message")[-1]["message_id"] == 4


def test_info_and_unknown_commands_answer_in_the_topic() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(world.relay.group_messages([in_topic(11, 90, text="/info")]))
    info = world.telegram.called("send_text")[-1]
    assert "id: 501" in info["text"] and "messages from them: 1" in info["text"]
    run(world.relay.group_messages([in_topic(11, 91, text="/frobnicate")]))
    assert "/close" in world.telegram.called("send_text")[-1]["text"]


def test_edits_are_mirrored_both_ways() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1, text="helo")]))
    copy = world.messages.peer(MessageRef(501, 1))
    assert copy is not None
    run(world.relay.private_edit(private(ANNA, 1, text="hello")))
    assert world.telegram.called("edit_text") == [
        {"chat_id": GROUP, "message_id": copy.message_id, "text": "hello"}
    ]
    run(world.relay.group_messages([in_topic(11, 70, text="answr")]))
    delivered = world.messages.peer(MessageRef(GROUP, 70))
    assert delivered is not None
    run(
        world.relay.group_edit(in_topic(11, 70, text="answer", kind="photo", has_caption_slot=True))
    )
    assert world.telegram.called("edit_caption") == [
        {"chat_id": 501, "message_id": delivered.message_id, "caption": "answer"}
    ]


def test_block_and_unblock_are_shown_in_the_topic() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(world.relay.membership(ANNA, blocked=True))
    assert world.sessions.get(501).blocked  # type: ignore[union-attr]
    assert "blocked the bot" in world.telegram.called("send_text")[-1]["text"]
    run(world.relay.membership(ANNA, blocked=True))  # repeated: nothing new
    notes = len(world.telegram.called("send_text"))
    run(world.relay.membership(ANNA, blocked=False))
    assert not world.sessions.get(501).blocked  # type: ignore[union-attr]
    assert len(world.telegram.called("send_text")) == notes + 1


def test_new_people_go_to_the_shard_with_most_headroom_and_never_move() -> None:
    world = make_world(GROUP, OTHER_GROUP)
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(world.relay.private_messages([private(BEN, 1)]))
    assert world.sessions.get(501).operator_chat_id == GROUP  # type: ignore[union-attr]
    assert world.sessions.get(502).operator_chat_id == OTHER_GROUP  # type: ignore[union-attr]
    run(world.relay.private_messages([private(ANNA, 2)]))
    assert world.telegram.called("copy_message")[-1]["chat_id"] == GROUP


def test_a_flooding_person_is_held_back_in_order_and_told_once() -> None:
    world = make_world(pace=Pace(burst=2, interval=8.0))
    run(world.relay.private_messages([private(ANNA, 1), private(ANNA, 2), private(ANNA, 3)]))
    # Two fit the bucket and went together; the third waits for its own record.
    assert world.telegram.called("copy_messages")[0]["message_ids"] == [1, 2]
    with pytest.raises(RateLimited) as held:
        run(world.relay.private_messages([private(ANNA, 3)]))
    assert held.value.retry_after == 8.0
    with pytest.raises(RateLimited):
        run(world.relay.private_messages([private(ANNA, 4)]))
    told = [c for c in world.telegram.called("send_text") if c["chat_id"] == 501]
    assert len(told) == 1 and "steady pace" in told[0]["text"]
    assert world.metrics.counts["FloodHeld"] == 2
    # When the bucket refills, the held message goes through.
    world.clock.current += 8.0
    run(world.relay.private_messages([private(ANNA, 3)]))
    assert world.telegram.called("copy_message")[-1]["message_id"] == 3


def test_drop_policy_counts_and_tells_once() -> None:
    world = make_world(pace=Pace(burst=1, interval=8.0), flood_policy="drop")
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(world.relay.private_messages([private(ANNA, 2)]))
    run(world.relay.private_messages([private(ANNA, 3)]))
    assert [c["message_id"] for c in world.telegram.called("copy_message")] == [1]
    assert world.sessions.get(501).dropped == 2  # type: ignore[union-attr]
    told = [c for c in world.telegram.called("send_text") if c["chat_id"] == 501]
    assert len(told) == 1 and "not passed on" in told[0]["text"]


class FlakyMap(InMemoryMessageMap):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def link(self, first: MessageRef, second: MessageRef) -> None:
        if self.failures:
            self.failures -= 1
            raise StorageUnavailable("DynamoDB ProvisionedThroughputExceededException")
        super().link(first, second)


@pytest.mark.parametrize(("failures", "linked"), [(2, True), (99, False)])
def test_bookkeeping_after_a_send_never_fails_the_record(
    monkeypatch: pytest.MonkeyPatch, failures: int, linked: bool
) -> None:
    """Failing the record after Telegram took the message would send it twice on retry."""
    monkeypatch.setattr(relay_module, "BOOKKEEPING_RETRY_DELAYS", (0, 0, 0, 0))
    world = make_world(messages=FlakyMap(failures))
    run(world.relay.private_messages([private(ANNA, 1)]))
    assert len(world.telegram.called("copy_message")) == 1
    assert (world.messages.peer(MessageRef(501, 1)) is not None) is linked
    assert world.metrics.counts.get("BookkeepingSkipped", 0) == (0 if linked else 1)


def test_new_people_go_to_the_group_with_the_shortest_limiter_queue_first() -> None:
    # GROUP has 40 s of sends queued, OTHER_GROUP none.
    world = make_world(GROUP, OTHER_GROUP, backlog=lambda chat: 40.0 if chat == GROUP else 0.0)
    run(world.relay.private_messages([private(ANNA, 1)]))
    assert world.sessions.get(501).operator_chat_id == OTHER_GROUP  # type: ignore[union-attr]


def test_commands_for_another_bot_are_neither_run_nor_relayed() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    run(
        world.relay.group_messages(
            [in_topic(11, 90, text="/close@some_other_bot", bot_username="topicdesk_bot")]
        )
    )
    assert world.telegram.called("close_topic") == []
    assert [c for c in world.telegram.called("copy_message") if c["chat_id"] == ANNA.user_id] == []
    # Addressed to us, it runs.
    run(
        world.relay.group_messages(
            [in_topic(11, 91, text="/close@TopicDesk_Bot", bot_username="topicdesk_bot")]
        )
    )
    assert len(world.telegram.called("close_topic")) == 1


def test_an_anonymous_admins_answer_is_relayed_like_any_operators() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    anonymous = Person(
        user_id=1087968824, first_name="Group", username="GroupAnonymousBot", is_bot=True
    )
    run(world.relay.group_messages([in_topic(11, 92, sender=anonymous, as_group=True)]))
    delivered = [c for c in world.telegram.called("copy_message") if c["chat_id"] == ANNA.user_id]
    assert [c["message_id"] for c in delivered] == [92]
    # Another bot in the group is not an operator.
    other = Person(user_id=77, first_name="Helper", is_bot=True)
    run(world.relay.group_messages([in_topic(11, 93, sender=other)]))
    assert (
        len([c for c in world.telegram.called("copy_message") if c["chat_id"] == ANNA.user_id]) == 1
    )


def test_an_operators_album_reaches_the_person_as_one_album() -> None:
    world = make_world()
    run(world.relay.private_messages([private(ANNA, 1)]))
    album = [in_topic(11, 94 + i, kind="photo", text=None, media_group_id="M") for i in range(3)]
    run(world.relay.group_messages(album))
    [call] = world.telegram.called("copy_messages")
    assert call["chat_id"] == ANNA.user_id and call["message_ids"] == [94, 95, 96]
    # The other parts' own records find themselves relayed.
    run(world.relay.group_messages(album[1:]))
    assert len(world.telegram.called("copy_messages")) == 1
    assert world.telegram.called("copy_message") == [] or all(
        c["chat_id"] != ANNA.user_id for c in world.telegram.called("copy_message")
    )


def test_an_album_is_admitted_whole_by_the_persons_pace() -> None:
    world = make_world(pace=Pace(burst=2, interval=8.0))
    run(world.relay.private_messages([private(ANNA, 1)]))  # one of the two spent
    album = [private(ANNA, 2 + i, kind="photo", text=None, media_group_id="M") for i in range(3)]
    run(world.relay.private_messages(album))
    [call] = world.telegram.called("copy_messages")
    assert call["message_ids"] == [2, 3, 4]  # not [2]: the album is not cut by the pace


def test_a_follower_whose_link_was_not_written_is_not_copied_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DynamoDB throttled past the bookkeeping retries: the container still remembers the
    follower it relayed, and its own record (right after, same invocation) does nothing."""
    monkeypatch.setattr(relay_module, "BOOKKEEPING_RETRY_DELAYS", (0, 0, 0, 0))
    world = make_world(messages=FlakyMap(99))
    run(world.relay.private_messages([private(ANNA, 1), private(ANNA, 2)]))
    run(world.relay.private_messages([private(ANNA, 2)]))  # the follower's own record
    assert [c["message_ids"] for c in world.telegram.called("copy_messages")] == [[1, 2]]
    assert world.telegram.called("copy_message") == []


def test_the_bot_leaves_a_strangers_group_once_and_never_an_operators_group() -> None:
    world = make_world()
    steps = Steps()
    run(world.relay.stranger_chat(-5005, steps))
    run(world.relay.stranger_chat(-5005, steps))  # a redelivery: done already
    run(world.relay.stranger_chat(GROUP))
    assert world.telegram.called("leave_chat") == [{"chat_id": -5005}]
    assert world.metrics.counts["StrangerChatsLeft"] == 1


def test_a_persons_edits_greetings_and_block_toggles_spend_their_pace() -> None:
    world = make_world(pace=Pace(burst=2, interval=8.0))
    run(world.relay.private_messages([private(ANNA, 1)]))  # 1 of 2
    edit = private(ANNA, 1, text="hello (edited)")
    run(world.relay.private_edit(edit))  # 2 of 2: mirrored
    assert len(world.telegram.called("edit_text")) == 1
    with pytest.raises(RateLimited):  # over the pace: held, comes back in order
        run(world.relay.private_edit(private(ANNA, 1, text="again")))
    with pytest.raises(RateLimited):
        run(world.relay.membership(ANNA, blocked=True))
    assert len(world.telegram.called("edit_text")) == 1
    assert not any("blocked" in c["text"] for c in world.telegram.called("send_text"))


def test_a_person_is_greeted_at_most_once_a_day() -> None:
    greetings = CountingGate(burst=1)  # the daily bucket, refilled when the test says so
    world = make_world(greetings=greetings)
    for message_id in (1, 2, 3):
        run(world.relay.private_messages([private(ANNA, message_id, text="/start")]))
    greeted = [c for c in world.telegram.called("send_text") if c["chat_id"] == ANNA.user_id]
    assert len(greeted) == 1
    assert world.metrics.counts["GreetingsSkipped"] == 2
    greetings.used.clear()  # a day later
    run(world.relay.private_messages([private(ANNA, 4, text="/start")]))
    greeted = [c for c in world.telegram.called("send_text") if c["chat_id"] == ANNA.user_id]
    assert len(greeted) == 2
