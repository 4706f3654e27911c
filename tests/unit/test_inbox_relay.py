"""The inbox inside the relay: its hooks (a person wrote, an operator answered, /close,
/reopen), the "Take it" button and /claim, /assign, /unassign (agents may run them), /info."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from topicdesk.domain.commands import COMMANDS, Registry, Role
from topicdesk.domain.inbox import Inbox, Owner, State
from topicdesk.domain.model import ChatMessage, Person
from topicdesk.domain.relay.challenge import CallbackQuery

from tests.support.fakes import FakeClock
from tests.support.inbox_fakes import InboxFakeTelegram, InMemoryInbox, InMemoryJobs
from tests.support.relay_world import ANNA, GROUP, OLGA, RelayWorld, relay_world, said_in_group

PETE = Person(user_id=901, first_name="Pete", username="pete")


def world(registry: Registry | None = None) -> tuple[RelayWorld, InMemoryInbox, int]:
    store, clock, telegram = InMemoryInbox(), FakeClock(), InboxFakeTelegram()
    inbox = Inbox(store, InMemoryJobs(), clock)
    w = relay_world(clock=clock, telegram=telegram, inbox=inbox, cards=telegram, commands=registry)
    return w, store, w.open_topic(ANNA)


def state(store: InMemoryInbox) -> State | None:
    record = store.get(GROUP, ANNA.user_id)
    return record.state if record else None


def say(w: RelayWorld, thread: int, text: str, message_id: int, sender: Person = OLGA) -> None:
    w.clock.current += 1
    asyncio.run(
        w.relay.group_messages([said_in_group(text, message_id, thread=thread, sender=sender)])
    )


def answer_to(w: RelayWorld, message_id: int) -> str:
    [note] = [c for c in w.telegram.called("send_text") if c["reply_to"] == message_id]
    return str(note["text"])


def test_the_relay_keeps_the_state_from_who_wrote_last_and_close() -> None:
    w, store, thread = world()
    assert state(store) is State.NEW
    say(w, thread, "hello Anna", 70)
    assert state(store) is State.WAITING_PERSON
    w.clock.current += 1
    asyncio.run(w.relay.private_messages([ChatMessage(ANNA.user_id, 2, ANNA, "text", "thanks")]))
    assert state(store) is State.WAITING_US
    say(w, thread, "/close", 71)
    assert state(store) is State.CLOSED
    say(w, thread, "/reopen", 72)
    assert state(store) is State.WAITING_US  # Anna wrote last before the close


def test_the_contact_card_has_a_take_it_button_and_a_press_claims() -> None:
    w, store, thread = world()
    [card] = w.telegram.called("send_card")
    assert card["thread_id"] == thread and card["buttons"] == [
        ("🙋 Take it", f"take:{ANNA.user_id}")
    ]

    def press(query_id: str, who: Person) -> None:
        query = CallbackQuery(query_id, who, GROUP, f"take:{ANNA.user_id}")
        asyncio.run(w.relay.callback(query))

    press("q1", OLGA)
    press("q2", PETE)
    answers = {c["query_id"]: c["text"] for c in w.telegram.called("answer_callback")}
    assert answers == {
        "q1": "🙋 Olga owns this conversation now.",
        "q2": "Olga owns this conversation already (/assign to change it).",
    }
    assert store.get(GROUP, ANNA.user_id).owner == Owner(OLGA.user_id, "Olga")  # type: ignore[union-attr]


def test_claim_assign_unassign_and_info() -> None:
    w, store, thread = world()
    say(w, thread, "/claim", 70, sender=PETE)
    assert "Pete owns" in answer_to(w, 70)
    say(w, thread, "/claim", 71)
    assert "Pete owns this conversation already" in answer_to(w, 71)
    say(w, thread, "/assign @olga", 72)
    assert "I don't know @olga yet" in answer_to(w, 72)
    say(w, thread, "/assign @pete", 73)  # Pete wrote here: he is known by his @username
    assert "👉 Pete owns" in answer_to(w, 73)
    reply = replace(
        said_in_group("/assign", 74, thread=thread), reply_to_message_id=5, reply_to_sender=OLGA
    )
    asyncio.run(w.relay.group_messages([reply]))
    assert "👉 Olga owns" in answer_to(w, 74)
    say(w, thread, "/info", 75)
    assert "owner: Olga" in answer_to(w, 75) and "state: 🆕 new" in answer_to(w, 75)
    say(w, thread, "/unassign", 76)
    assert answer_to(w, 76) == "Nobody owns this conversation now."
    assert store.get(GROUP, ANNA.user_id).owner is None  # type: ignore[union-attr]
    say(w, thread, "/unassign", 77)
    assert answer_to(w, 77) == "Nobody owns this conversation."


def test_agents_may_run_the_ownership_commands() -> None:
    roles = {c.name: c.role for c in COMMANDS}
    assert roles["claim"] is roles["assign"] is roles["unassign"] is Role.AGENT

    async def agent(message: ChatMessage) -> Role:
        return Role.AGENT

    w, store, thread = world(Registry(resolve_role=agent))
    say(w, thread, "/claim", 70)
    assert store.get(GROUP, ANNA.user_id).owner == Owner(OLGA.user_id, "Olga")  # type: ignore[union-attr]


def test_commands_are_not_answers() -> None:
    w, store, thread = world()
    say(w, thread, "/claim", 70)
    assert state(store) is State.NEW
