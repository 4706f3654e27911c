"""The widget's edge (connect, hello, send) and its session tokens, on in-memory fakes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from topicdesk.contract import WIDGET_SESSION_SECONDS
from topicdesk.domain.errors import StorageUnavailable
from topicdesk.domain.widget import WidgetMessage, WidgetRecord
from topicdesk.domain.widget_edge import MAX_FRAME_BYTES, EdgePace, WidgetEdge, WidgetProject
from topicdesk.domain.widget_tokens import TokenSigner, signing_keys

from tests.support.fakes import FakeClock, FakeMetrics, InMemoryWidgetConversations, MemoryStore

ORIGIN = "https://shop.example"
PROJECT = WidgetProject("shop", "key-shop", frozenset({ORIGIN}), (-100123,))
SIGNER = TokenSigner(signing_keys("current-key\nold-key"))


@dataclass
class FakeQueue:
    sent: list[dict[str, Any]] = field(default_factory=list)
    failures: int = 0

    def enqueue(self, body: str, *, group_id: str, deduplication_id: str) -> str:
        if self.failures:
            self.failures -= 1
            raise StorageUnavailable("SQS down")
        self.sent.append({"body": json.loads(body), "group": group_id, "dedup": deduplication_id})
        return str(len(self.sent))


@dataclass
class World:
    edge: WidgetEdge
    store: InMemoryWidgetConversations
    queue: FakeQueue
    clock: FakeClock
    metrics: FakeMetrics

    def frame(self, connection: str, **fields: Any) -> dict[str, Any]:
        reply = self.edge.message(connection, json.dumps(fields))
        assert reply.frame is not None
        return reply.frame

    def welcome(self, connection: str, session: str | None = None) -> dict[str, Any]:
        assert self.edge.connect(connection, "key-shop", ORIGIN)
        page = {"url": f"{ORIGIN}/pricing", "language": "de", "userAgent": "Firefox"}
        return self.frame(connection, action="hello", session=session, page=page)


@pytest.fixture
def world() -> World:
    store, queue, clock, metrics = (
        InMemoryWidgetConversations(),
        FakeQueue(),
        FakeClock(),
        FakeMetrics(),
    )
    ids = iter(f"session{n:04d}" for n in range(100))
    edge = WidgetEdge(
        projects=[PROJECT],
        store=store,
        queue=queue,
        limits=MemoryStore(),
        signer=lambda: SIGNER,
        metrics=metrics,
        clock=clock,
        pace=EdgePace(session_burst=8, session_interval=8.0, flood_strikes=2),
        session_ids=lambda: next(ids),
    )
    return World(edge, store, queue, clock, metrics)


def test_tokens_are_signed_expire_and_survive_a_key_rotation() -> None:
    token = SIGNER.issue("session0001", 2_000)
    assert SIGNER.verify(token, 1_999) == "session0001"
    assert SIGNER.verify(token, 2_001) is None
    session, expiry, signature = token.split(".")
    assert SIGNER.verify(f"session0002.{expiry}.{signature}", 1_000) is None
    assert SIGNER.verify(f"{session}.9999999999.{signature}", 1_000) is None
    for junk in (None, 5, "", "a.b", "a.b.c.d", "sessiön001.1.x", f"{session}.²²²²²¹.{signature}"):
        assert SIGNER.verify(junk, 1_000) is None
    rotated = TokenSigner(signing_keys("new-key\ncurrent-key"))
    assert rotated.verify(token, 1_000) == "session0001"
    assert TokenSigner(signing_keys("new-key")).verify(token, 1_000) is None


def test_connect_needs_a_known_key_and_an_allowed_origin(world: World) -> None:
    assert not world.edge.connect("c1", "wrong-key", ORIGIN)
    assert not world.edge.connect("c2", "key-shop", "https://evil.example")
    assert not world.edge.connect("c3", "key-shop", None)
    assert not world.edge.connect("c4", None, ORIGIN)
    assert world.store.connection_items == {}  # nothing stored for a refusal
    assert world.metrics.counts["WidgetConnectRefused"] == 4
    assert world.edge.connect("c5", "key-shop", ORIGIN)
    assert world.store.connection("c5") is not None


def test_hello_send_ack_and_one_record_per_message(world: World) -> None:
    welcome = world.welcome("c1")
    assert welcome["type"] == "welcome" and welcome["messages"] == []
    assert SIGNER.verify(welcome["session"], world.clock.now()) == "session0000"
    ack = world.frame("c1", action="send", id="m1", text="Hello", email="ann@example.org")
    assert ack == {"type": "ack", "id": "m1"}
    assert world.frame("c1", action="send", id="m1", text="Hello") == ack  # a resend
    assert len(world.queue.sent) == 1
    sent = world.queue.sent[0]
    assert sent["group"] == "widget:session0000"
    assert sent["dedup"] == "widget:session0000:m1"
    record = WidgetRecord.from_body(sent["body"])
    assert record is not None
    assert (record.project, record.text, record.email) == ("shop", "Hello", "ann@example.org")
    assert record.page.url == f"{ORIGIN}/pricing" and record.page.user_agent == "Firefox"


def test_a_message_whose_enqueue_failed_is_queued_by_its_resend(world: World) -> None:
    world.welcome("c1")
    world.queue.failures = 1
    with pytest.raises(StorageUnavailable):  # the runtime answers "unavailable"
        world.edge.message("c1", json.dumps({"action": "send", "id": "m1", "text": "Hi"}))
    assert world.frame("c1", action="send", id="m1", text="Hi") == {"type": "ack", "id": "m1"}
    assert world.frame("c1", action="send", id="m1", text="Hi") == {"type": "ack", "id": "m1"}
    assert len(world.queue.sent) == 1


def test_resume_welcomes_with_history_and_flushes_kept_answers_once(world: World) -> None:
    token = world.welcome("c1")["session"]
    world.frame("c1", action="send", id="m1", text="Question")
    world.edge.disconnect("c1")
    for n in (1, 2):
        answer = WidgetMessage(f"op{n}", "operator", f"Answer {n}", ts=n)
        world.store.record_operator("session0000", answer, pushed=False, now=world.clock.now())
    world.clock.current += 3600
    welcome = world.welcome("c2", token)
    assert [(m["from"], m["text"]) for m in welcome["messages"]] == [
        ("visitor", "Question"),
        ("operator", "Answer 1"),
        ("operator", "Answer 2"),
    ]
    assert world.metrics.counts["WidgetAnswersFlushed"] == 2
    assert world.store.take_pending("session0000") == []
    assert world.store.connections("session0000", world.clock.now()) == ["c2"]
    assert SIGNER.verify(welcome["session"], world.clock.now()) == "session0000"


def test_forged_expired_and_foreign_tokens_are_session_invalid(world: World) -> None:
    token = world.welcome("c1")["session"]
    session, expiry, _ = token.split(".")
    forged = f"{session}.{expiry}.{'A' * 43}"
    for bad in (forged, "not-a-token", 42):
        reply = world.welcome("c2", bad)  # type: ignore[arg-type]
        assert reply["type"] == "error" and reply["code"] == "session_invalid"
    world.clock.current += WIDGET_SESSION_SECONDS + 1
    assert world.welcome("c3", token)["code"] == "session_invalid"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        (json.dumps({"action": "send", "text": "x" * MAX_FRAME_BYTES}), "bad_frame"),
        (json.dumps({"action": "dance"}), "unknown_action"),
        (json.dumps({"text": "no action"}), "unknown_action"),
        (json.dumps({"action": "send", "id": "bad id!", "text": "x"}), "invalid"),
        (json.dumps({"action": "send", "id": "m1", "text": ""}), "invalid"),
        (json.dumps({"action": "send", "id": "m1", "text": "x" * 4097}), "invalid"),
        (json.dumps({"action": "send", "id": "m1", "text": "x", "email": "nope"}), "invalid"),
        (json.dumps({"action": "hello", "session": None, "page": "x"}), "invalid"),
    ],
)
def test_bad_frames_get_error_frames_and_queue_nothing(world: World, body: str, code: str) -> None:
    world.welcome("c1")
    reply = world.edge.message("c1", body)
    assert reply.frame is not None and reply.frame["code"] == code and not reply.close
    assert world.queue.sent == []


def test_send_before_hello_is_not_ready(world: World) -> None:
    assert world.edge.connect("c1", "key-shop", ORIGIN)
    reply = world.frame("c1", action="send", id="m1", text="Hi")
    assert reply["code"] == "not_ready" and reply["id"] == "m1"
    assert world.queue.sent == []


def test_a_flooding_client_is_paced_then_closed(world: World) -> None:
    world.welcome("c1")
    acks = [world.frame("c1", action="send", id=f"m{n}", text="spam") for n in range(8)]
    assert all(frame["type"] == "ack" for frame in acks)
    limited = world.frame("c1", action="send", id="m8", text="spam")
    assert limited["code"] == "rate_limited" and limited["retryAfter"] == 8
    world.frame("c1", action="send", id="m9", text="spam")
    last = world.edge.message("c1", json.dumps({"action": "send", "id": "m10", "text": "x"}))
    assert last.close and last.frame is not None and last.frame["code"] == "rate_limited"
    assert len(world.queue.sent) == 8
    world.clock.current += 8
    assert world.frame("c1", action="send", id="m8", text="spam")["type"] == "ack"
