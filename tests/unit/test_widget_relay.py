"""Web widget visitors through the relay, against in-memory fakes: topic and card, answers
pushed or kept, what cannot be sent, and the operators' commands on a visitor's topic."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from topicdesk.contract import Env
from topicdesk.domain.errors import TransientFailure
from topicdesk.domain.model import VISITOR_ID_BASE, ChatMessage, Person, SessionStatus
from topicdesk.domain.relay import Relay, RelaySettings, WidgetNotConfigured
from topicdesk.domain.relay.visitors import (
    anon_name,
    browser_of,
    operator_message_id,
    visitor_user_id,
)
from topicdesk.domain.steps import Steps
from topicdesk.domain.widget import PageInfo, WidgetRecord
from topicdesk.settings import ConsumerSettings, SettingsError

from tests.support.fakes import (
    FakeClock,
    FakeMetrics,
    FakeTelegram,
    InMemoryMessageMap,
    InMemorySessions,
    InMemoryStepLog,
    InMemoryWidgetConversations,
)

GROUP = -1001
OPERATOR = Person(user_id=900, first_name="Olga")
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
PAGE = PageInfo(url="https://shop.example/checkout", language="de-DE", user_agent=FIREFOX)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


@dataclass
class FakePush:
    """API Gateway's management API: what was posted where; ``gone`` connections answer 410."""

    frames: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)

    async def post(self, connection_id: str, frame: Mapping[str, Any]) -> bool:
        if connection_id in self.gone:
            return False
        self.frames.append((connection_id, dict(frame)))
        return True


@dataclass
class World:
    relay: Relay
    sessions: InMemorySessions
    telegram: FakeTelegram
    store: InMemoryWidgetConversations
    push: FakePush
    metrics: FakeMetrics
    clock: FakeClock

    def visitor_says(
        self, text: str, client_id: str, session: str = "sess-anna-0001", **kw: Any
    ) -> None:
        steps = kw.pop("steps", None)
        self.store.start_session(session, "shop", self.clock.now())
        record = WidgetRecord(
            project="shop",
            session_id=session,
            client_message_id=client_id,
            text=text,
            ts=int(self.clock.now() * 1000),
            page=PAGE,
            **kw,
        )
        run(self.relay.visitor_message(record, steps))

    def connect(self, connection_id: str, session: str = "sess-anna-0001") -> None:
        self.store.open_connection(connection_id, "shop", self.clock.now())
        self.store.bind(connection_id, session, self.clock.now())

    def thread(self, session: str = "sess-anna-0001") -> int:
        found = self.sessions.get(visitor_user_id(session))
        assert found is not None and found.thread_id is not None
        return found.thread_id

    def operator(self, message_id: int, text: str | None = "Hello from support", **kw: Any) -> None:
        message = ChatMessage(
            chat_id=GROUP,
            message_id=message_id,
            sender=OPERATOR,
            kind=kw.pop("kind", "text"),
            text=text,
            thread_id=self.thread(),
            is_topic_message=True,
        )
        run(self.relay.group_messages([message], kw.pop("steps", None)))

    def topic_texts(self) -> list[str]:
        return [
            call["text"] for call in self.telegram.called("send_text") if call["chat_id"] == GROUP
        ]


def make_world(*, widget: bool = True) -> World:
    sessions, telegram, clock = InMemorySessions(), FakeTelegram(), FakeClock()
    store, push, metrics = InMemoryWidgetConversations(), FakePush(), FakeMetrics()
    relay = Relay(
        sessions=sessions,
        messages=InMemoryMessageMap(),
        telegram=telegram,
        settings=RelaySettings(operator_chat_ids=(GROUP,)),
        clock=clock,
        metrics=metrics,
        widget=store if widget else None,
        push=push if widget else None,
    )
    return World(relay, sessions, telegram, store, push, metrics, clock)


# ---------------------------------------------------------------------- visitor -> topic


def test_first_message_opens_an_anon_topic_with_the_visitor_card_then_the_text() -> None:
    world = make_world()
    world.visitor_says("Where is my parcel?", "m1")
    name = anon_name("sess-anna-0001")
    assert name.startswith("Anon_") and len(name) == len("Anon_") + 6
    assert world.telegram.called("create_topic") == [{"chat_id": GROUP, "name": name}]
    card, text = world.topic_texts()
    assert card.splitlines() == [
        f"🌐 {name}",
        "channel: web widget",
        "e-mail: not given",
        "page: https://shop.example/checkout",
        "browser: Firefox 121 on Windows",
        "language: de-DE",
    ]
    assert text == "Where is my parcel?"
    session = world.sessions.get(visitor_user_id("sess-anna-0001"))
    assert session is not None and session.person.is_visitor and session.messages_in == 1


def test_a_visitor_who_gives_an_email_is_named_by_it() -> None:
    world = make_world()
    world.visitor_says("Hi", "m1", email="anna@example.com")
    assert world.telegram.called("create_topic")[0]["name"] == "anna@example.com"
    assert "e-mail: anna@example.com" in world.topic_texts()[0].splitlines()


def test_later_messages_go_to_the_same_topic_and_sessions_get_their_own() -> None:
    world = make_world()
    world.visitor_says("one", "m1")
    world.visitor_says("two", "m2")
    world.visitor_says("other visitor", "m1", session="sess-ben-00002")
    created = world.telegram.called("create_topic")
    assert [c["name"] for c in created] == [
        anon_name("sess-anna-0001"),
        anon_name("sess-ben-00002"),
    ]
    anna = world.thread()
    in_anna = [c["text"] for c in world.telegram.called("send_text") if c["thread_id"] == anna]
    assert in_anna[1:] == ["one", "two"]
    assert anon_name("sess-anna-0001") != anon_name("sess-ben-00002")


def test_a_record_retried_after_a_failure_resumes_without_a_second_topic_or_card() -> None:
    world = make_world()
    log = InMemoryStepLog()
    world.store.start_session("sess-anna-0001", "shop", world.clock.now())
    record = WidgetRecord("shop", "sess-anna-0001", "m1", "Hello", 1, page=PAGE)
    # The card goes out, then the text meets a 5xx: the record fails and comes back.
    calls = {"n": 0}
    original = world.telegram.send_text

    async def flaky(chat_id: int, text: str, **kw: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise TransientFailure("502")
        return await original(chat_id, text, **kw)

    world.telegram.send_text = flaky  # type: ignore[method-assign]
    with pytest.raises(TransientFailure):
        run(world.relay.visitor_message(record, Steps.load(log, "widget#1")))
    run(world.relay.visitor_message(record, Steps.load(log, "widget#1")))
    assert len(world.telegram.called("create_topic")) == 1
    assert world.topic_texts()[1:] == ["Hello"]  # one card, one text


def test_a_banned_visitor_is_dropped_and_counted() -> None:
    world = make_world()
    world.visitor_says("first", "m1")
    world.sessions.update(visitor_user_id("sess-anna-0001"), banned=True)
    world.visitor_says("spam", "m2")
    assert "spam" not in world.topic_texts()
    session = world.sessions.get(visitor_user_id("sess-anna-0001"))
    assert session is not None and session.dropped == 1


def test_a_consumer_without_the_widget_refuses_a_widget_record() -> None:
    world = make_world(widget=False)
    with pytest.raises(WidgetNotConfigured):
        world.visitor_says("hello", "m1")
    assert world.telegram.calls == []


# ---------------------------------------------------------------------- topic -> visitor


def test_an_answer_is_pushed_to_every_open_connection_with_a_reaction() -> None:
    world = make_world()
    world.visitor_says("Question", "m1")
    world.connect("conn-tab-1")
    world.connect("conn-tab-2")
    world.operator(77, "Your parcel ships today")
    assert [connection for connection, _ in world.push.frames] == ["conn-tab-1", "conn-tab-2"]
    frame = world.push.frames[0][1]
    assert frame["type"] == "message" and frame["from"] == "operator"
    assert frame["text"] == "Your parcel ships today" and frame["id"] == "op-1001-77"
    assert world.telegram.called("react") == [{"chat_id": GROUP, "message_id": 77, "emoji": "👍"}]
    history = world.store.history("sess-anna-0001")
    assert [(m.sender, m.text, m.pending) for m in history][-1] == (
        "operator",
        "Your parcel ships today",
        False,
    )
    assert world.store.take_pending("sess-anna-0001") == []


def test_an_answer_with_no_open_connection_is_kept_with_a_note() -> None:
    world = make_world()
    world.visitor_says("Question", "m1")
    world.operator(78, "Answer while away")
    assert world.push.frames == []
    assert world.telegram.called("react") == []
    assert "is not on the page now" in world.topic_texts()[-1]
    kept = world.store.take_pending("sess-anna-0001")
    assert [(m.id, m.text) for m in kept] == [("op-1001-78", "Answer while away")]
    session = world.sessions.get(visitor_user_id("sess-anna-0001"))
    assert session is not None and session.messages_out == 1


def test_a_gone_connection_is_dropped_and_the_answer_kept() -> None:
    world = make_world()
    world.visitor_says("Question", "m1")
    world.connect("conn-dead")
    world.push.gone.add("conn-dead")
    world.operator(79, "Are you there?")
    assert world.store.connections("sess-anna-0001", world.clock.now()) == []
    assert world.store.connection("conn-dead") is None
    assert [m.text for m in world.store.take_pending("sess-anna-0001")] == ["Are you there?"]


def test_a_redelivered_answer_is_pushed_and_recorded_once() -> None:
    world = make_world()
    world.visitor_says("Question", "m1")
    world.connect("conn-1")
    log = InMemoryStepLog()
    world.operator(80, "Once", steps=Steps.load(log, "update#80"))
    world.operator(80, "Once", steps=Steps.load(log, "update#80"))
    assert len(world.push.frames) == 1 and len(world.telegram.called("react")) == 1
    assert [m.text for m in world.store.history("sess-anna-0001") if m.sender == "operator"] == [
        "Once"
    ]


def test_a_non_text_answer_gets_a_note_and_nothing_is_sent() -> None:
    world = make_world()
    world.visitor_says("Question", "m1")
    world.connect("conn-1")
    world.operator(81, None, kind="photo")
    assert world.push.frames == []
    assert world.topic_texts()[-1].startswith("⚠️ Not delivered: a web visitor can receive text")
    assert "photo" in world.topic_texts()[-1]


def test_an_answer_after_the_session_ended_says_so() -> None:
    world = make_world()
    world.visitor_says("Question", "m1")
    world.clock.current += 31 * 24 * 3600
    world.operator(82, "Late answer")
    assert world.push.frames == [] and world.store.take_pending("sess-anna-0001") == []
    assert "web session has ended" in world.topic_texts()[-1]


# ---------------------------------------------------------------------- commands


def test_close_tells_the_visitor_and_their_next_message_reopens() -> None:
    world = make_world()
    world.visitor_says("Question", "m1")
    world.connect("conn-1")
    world.operator(90, "/close")
    thread = world.thread()
    assert world.telegram.called("close_topic") == [{"chat_id": GROUP, "thread_id": thread}]
    assert "closed" in world.push.frames[-1][1]["text"]
    assert (
        world.topic_texts()[-1].startswith("✅ Closed.") and "was told" in world.topic_texts()[-1]
    )
    world.visitor_says("One more thing", "m2")
    session = world.sessions.get(visitor_user_id("sess-anna-0001"))
    assert session is not None and session.status is SessionStatus.OPEN
    assert world.telegram.called("reopen_topic")


def test_info_shows_the_web_widget_channel() -> None:
    world = make_world()
    world.visitor_says("Question", "m1", email="anna@example.com")
    world.operator(91, "/info")
    info = world.topic_texts()[-1]
    assert "🌐 anna@example.com" in info and "channel: web widget" in info
    assert "messages from them: 1" in info


def test_ban_then_unban_a_visitor() -> None:
    world = make_world()
    world.visitor_says("Question", "m1")
    world.operator(92, "/ban")
    world.visitor_says("ignored", "m2")
    world.operator(93, "/unban")
    world.visitor_says("heard again", "m3")
    texts = world.topic_texts()
    assert "ignored" not in texts and "heard again" in texts


# ---------------------------------------------------------------------- values


def test_visitor_ids_are_stable_and_never_a_telegram_users() -> None:
    first = visitor_user_id("sess-anna-0001")
    assert first == visitor_user_id("sess-anna-0001") >= VISITOR_ID_BASE
    assert first < 2 * VISITOR_ID_BASE  # within 61 bits: a DynamoDB number, a JSON integer
    assert not Person(user_id=2**52 - 1, first_name="x").is_visitor


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (FIREFOX, "Firefox 121 on Windows"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            "Safari 17 on iOS",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61",
            "Edge 120 on Linux",
        ),
        ("", "unknown"),
        ("curl/8.4", "curl/8.4"),
    ],
)
def test_browser_of(agent: str, expected: str) -> None:
    assert browser_of(agent) == expected


def test_operator_message_ids_are_stable() -> None:
    message = ChatMessage(chat_id=GROUP, message_id=5, sender=OPERATOR, kind="text", text="x")
    assert operator_message_id(message) == operator_message_id(message) == "op-1001-5"


# ---------------------------------------------------------------------- settings


def _consumer_env(**extra: str) -> dict[str, str]:
    return {
        Env.BOT_TOKEN_SECRET_NAME: "token",
        Env.OPERATOR_CHAT_IDS: "-1001",
        Env.LIMITS_TABLE: "limits",
        Env.UPDATES_QUEUE_URL: "https://sqs/updates.fifo",
        Env.DEAD_LETTER_QUEUE_URL: "https://sqs/dlq.fifo",
        Env.DATA_TABLE: "data",
        Env.IDEMPOTENCY_TABLE: "idempotency",
        **extra,
    }


def test_the_consumer_needs_the_connections_endpoint_when_the_stage_has_projects() -> None:
    assert ConsumerSettings.from_env(_consumer_env()).widget_connections_url is None
    with pytest.raises(SettingsError, match=Env.WIDGET_CONNECTIONS_URL):
        ConsumerSettings.from_env(_consumer_env(**{Env.WIDGET_PROJECTS: "[]"}))
    url = "https://abc.execute-api.eu-west-1.amazonaws.com/prod/"
    settings = ConsumerSettings.from_env(
        _consumer_env(**{Env.WIDGET_PROJECTS: "[]", Env.WIDGET_CONNECTIONS_URL: url})
    )
    assert settings.widget_connections_url == url.rstrip("/")
    with pytest.raises(SettingsError, match="http"):
        ConsumerSettings.from_env(_consumer_env(**{Env.WIDGET_CONNECTIONS_URL: "abc.example"}))


# ---------------------------------------------------------------------- the push adapter


def test_post_to_connection_gone_is_an_answer_and_other_errors_are_transient() -> None:
    import boto3
    from botocore.stub import Stubber
    from topicdesk.adapters.connections import ManagementApiPush

    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url="https://abc.execute-api.us-east-1.amazonaws.com/test",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    push = ManagementApiPush(client)
    frame = {"type": "message", "text": "héllo"}
    with Stubber(client) as stub:
        stub.add_response(
            "post_to_connection",
            {},
            {"ConnectionId": "c1", "Data": '{"type":"message","text":"héllo"}'.encode()},
        )
        stub.add_client_error("post_to_connection", "GoneException", http_status_code=410)
        stub.add_client_error("post_to_connection", "LimitExceededException", http_status_code=429)
        assert run(push.post("c1", frame)) is True
        assert run(push.post("c2", frame)) is False
        with pytest.raises(TransientFailure):
            run(push.post("c3", frame))
        stub.assert_no_pending_responses()


# ---------------------------------------------------------------------- broadcast, cap


def test_a_broadcast_reaches_telegram_people_only() -> None:
    from topicdesk.domain.broadcast.requests import reached_by_broadcast

    class Roster:
        def people(self) -> list[int]:
            return [501, visitor_user_id("sess-anna-0001"), 502]

    assert reached_by_broadcast(Roster()) == [501, 502]


def test_a_visitor_waiting_for_a_topic_is_not_told_on_telegram() -> None:
    from topicdesk.domain.relay.newcomers import NewTopicCap

    world = make_world()
    cap = NewTopicCap(world.relay._ctx, store=None, line=None, per_hour=1)  # type: ignore[arg-type]
    assert run(cap._tell_person(visitor_user_id("sess-anna-0001"), world.clock.now() + 60)) is False
    assert world.telegram.calls == []
