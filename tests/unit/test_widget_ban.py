"""/ban at the widget's edge: a banned visitor's send is refused with ``banned`` (nothing
queued, no pace spent), not acknowledged and then dropped by the consumer."""

from __future__ import annotations

import dataclasses

from topicdesk.domain.model import Person
from topicdesk.domain.relay.visitors import visitor_user_id

from tests.support.fakes import InMemorySessions
from tests.unit.test_widget_edge import World, world  # noqa: F401  (the fixture)


def _ban(sessions: InMemorySessions, session_id: str, banned: bool) -> None:
    user_id = visitor_user_id(session_id)
    person = Person(user_id=user_id, first_name="Anon_ABCDEF")
    sessions.items[user_id] = {"person": person, "operator_chat_id": -100123, "banned": banned}


def test_a_banned_visitor_is_refused_at_the_edge(world: World) -> None:  # noqa: F811
    sessions = InMemorySessions()
    world.edge = dataclasses.replace(world.edge, sessions=sessions)
    world.welcome("c1")  # session0000
    assert world.frame("c1", action="send", id="m1", text="first") == {"type": "ack", "id": "m1"}
    _ban(sessions, "session0000", banned=True)
    for n in range(12):  # more than the burst: a ban spends none of the pace
        refused = world.frame("c1", action="send", id=f"b{n}", text="after the ban")
        assert refused["type"] == "error" and refused["code"] == "banned"
        assert refused["id"] == f"b{n}" and "retryAfter" not in refused
    assert len(world.queue.sent) == 1
    assert world.metrics.counts["WidgetBannedRefused"] == 12
    _ban(sessions, "session0000", banned=False)  # unbanned: accepted again
    assert world.frame("c1", action="send", id="m2", text="again") == {"type": "ack", "id": "m2"}
    assert len(world.queue.sent) == 2


def test_a_visitor_without_a_relay_session_yet_may_send(world: World) -> None:  # noqa: F811
    world.edge = dataclasses.replace(world.edge, sessions=InMemorySessions())
    world.welcome("c1")
    assert world.frame("c1", action="send", id="m1", text="hi") == {"type": "ack", "id": "m1"}
    assert len(world.queue.sent) == 1
