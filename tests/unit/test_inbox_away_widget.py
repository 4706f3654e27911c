"""The away message for web widget visitors (issue 15, item 5): a visitor who writes outside
business hours is told once per conversation, on the page (pushed to their open connections,
or kept for their return as an answer is), never through a Telegram chat they do not have."""

from __future__ import annotations

import asyncio
from datetime import datetime

from topicdesk.domain.inbox import Inbox
from topicdesk.domain.inbox.away import Away
from topicdesk.domain.relay.visitors import visitor_user_id
from topicdesk.domain.steps import Steps

from tests.support.fakes import FakeClock, InMemoryStepLog, InMemoryWidgetConversations
from tests.support.inbox_fakes import InboxFakeTelegram, InMemoryInbox, InMemoryJobs
from tests.support.relay_world import GROUP, OLGA, RelayWorld, relay_world, said_in_group
from tests.unit.test_inbox_nudges import NEW_YORK, OFFICE
from tests.unit.test_widget_relay import FakePush
from tests.unit.test_widget_relay import World as WidgetWorld

TUESDAY_2200 = datetime(2026, 12, 1, 22, 0, tzinfo=NEW_YORK).timestamp()
WEDNESDAY_1000 = datetime(2026, 12, 2, 10, 0, tzinfo=NEW_YORK).timestamp()
AWAY = "We're away; back at 9:00."
SESSION = "sess-away-0001"
VISITOR = visitor_user_id(SESSION)


class World:
    def __init__(self, at: float) -> None:
        self.clock = FakeClock(at)
        self.store = InMemoryInbox()
        self.telegram = InboxFakeTelegram()
        self.widget = InMemoryWidgetConversations()
        self.push = FakePush()
        self.log = InMemoryStepLog()
        inbox = Inbox(self.store, InMemoryJobs(), self.clock)
        inbox.away = Away(self.store, self.telegram, OFFICE, self.clock, AWAY)
        self.world: RelayWorld = relay_world(
            clock=self.clock,
            telegram=self.telegram,
            inbox=inbox,
            widget=self.widget,
            push=self.push,
        )
        w = self.world
        self.visitor = WidgetWorld(
            w.relay, w.sessions, w.telegram, self.widget, self.push, w.metrics, self.clock
        )

    def says(self, text: str, client_id: str) -> None:
        """The visitor's record (a retried one: the same ``client_id``, the same steps)."""
        self.clock.current += 1
        steps = Steps.load(self.log, client_id)
        self.visitor.visitor_says(text, client_id, session=SESSION, steps=steps)

    def connect(self, connection_id: str) -> None:
        self.visitor.connect(connection_id, session=SESSION)

    def pushed(self) -> list[str]:
        return [frame["text"] for _, frame in self.push.frames]

    def kept(self) -> list[str]:
        return [m.text for m in self.widget.take_pending(SESSION)]

    def telegram_chats(self) -> set[int]:
        return {call["chat_id"] for call in self.telegram.called("send_text")}

    def close(self) -> None:
        session = self.world.sessions.get(VISITOR)
        assert session is not None and session.thread_id is not None
        self.clock.current += 1
        message = said_in_group("/close", 500, thread=session.thread_id, sender=OLGA)
        asyncio.run(self.world.relay.group_messages([message]))


def test_a_visitor_out_of_hours_is_told_once_per_conversation_on_the_page() -> None:
    w = World(TUESDAY_2200)
    w.connect("conn-1")
    w.says("Hello?", "m1")
    w.says("Anyone there?", "m2")
    assert w.pushed().count(AWAY) == 1
    assert w.telegram_chats() == {GROUP}  # relayed into the topic; nothing to a Telegram chat
    # A retried record does not tell them again.
    w.says("Hello?", "m1")
    assert w.pushed().count(AWAY) == 1
    # /close ends the conversation; the next message begins one: told again, once.
    w.close()
    w.says("One more thing", "m3")
    assert w.pushed().count(AWAY) == 2


def test_a_visitor_with_no_page_open_finds_it_when_they_come_back() -> None:
    w = World(TUESDAY_2200)
    w.says("Hello?", "m1")
    assert w.pushed() == []
    assert w.kept() == [AWAY]


def test_no_away_message_to_a_visitor_within_hours() -> None:
    w = World(WEDNESDAY_1000)
    w.connect("conn-1")
    w.says("Hello?", "m1")
    assert AWAY not in w.pushed() and w.kept() == []
    record = w.store.get(GROUP, VISITOR)
    assert record is not None and record.away_for is None


def test_the_operators_still_see_every_message() -> None:
    w = World(TUESDAY_2200)
    w.says("Hello?", "m1")
    texts = [c["text"] for c in w.telegram.called("send_text") if c["chat_id"] == GROUP]
    assert texts[-1] == "Hello?"
