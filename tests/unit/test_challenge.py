"""The question for new people, against in-memory fakes: no topic until the right answer,
their messages held (not lost) and relayed after it in order, every press answered."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from topicdesk.contract import ALLOWED_UPDATES
from topicdesk.domain.errors import RateLimited, RejectedByTelegram
from topicdesk.domain.model import ChatMessage
from topicdesk.domain.relay import Pace
from topicdesk.domain.relay.challenge import CALLBACK_PREFIX, CallbackQuery, ChallengeState
from topicdesk.domain.routing import group_key, is_served
from topicdesk.domain.steps import Steps

from tests.support.fakes import FakeTelegram, InMemoryStepLog
from tests.support.relay_world import ANNA, GROUP, relay_world


@dataclass
class ButtonTelegram(FakeTelegram):
    """FakeTelegram with inline keyboards and callback answers."""

    keyboards: list[list[tuple[str, str]]] = field(default_factory=list)

    async def send_buttons(
        self, chat_id: int, text: str, buttons: Sequence[tuple[str, str]]
    ) -> int:
        self._record("send_buttons", chat_id=chat_id, text=text, buttons=list(buttons))
        self.keyboards.append(list(buttons))
        return self._id()

    async def answer_callback(self, query_id: str, text: str | None = None) -> None:
        self._record("answer_callback", query_id=query_id, text=text)


class MemoryChallenges:
    def __init__(self) -> None:
        self.items: dict[int, ChallengeState] = {}

    def get(self, user_id: int) -> ChallengeState | None:
        return self.items.get(user_id)

    def _state(self, user_id: int) -> ChallengeState:
        return self.items.get(user_id, ChallengeState(answer="", asked_at=0.0))

    def ask(self, user_id: int, answer: str, now: float) -> None:
        self.items[user_id] = replace(self._state(user_id), answer=answer, asked_at=now)

    def hold(self, user_id: int, message_id: int) -> None:
        state = self._state(user_id)
        if message_id not in state.held:
            self.items[user_id] = replace(state, held=(*state.held, message_id))

    def passed(self, user_id: int) -> None:
        self.items[user_id] = replace(self._state(user_id), passed=True)

    def release(self, user_id: int) -> None:
        self.items[user_id] = replace(self._state(user_id), held=())


class World:
    def __init__(self, *, challenge: bool = True, pace: Pace | None = None) -> None:
        self.store, self.log, telegram = MemoryChallenges(), InMemoryStepLog(), ButtonTelegram()
        world = relay_world(
            telegram=telegram,
            pace=pace,
            buttons=telegram,
            challenges=self.store if challenge else None,
        )
        self.relay, self.sessions, self.telegram = world.relay, world.sessions, telegram
        self.metrics, self.clock = world.metrics, world.clock
        self.presses = 0

    def write(self, message_id: int, text: str = "hello") -> None:
        message = ChatMessage(
            chat_id=ANNA.user_id, message_id=message_id, sender=ANNA, kind="text", text=text
        )
        run(self.relay.private_messages([message], Steps.load(self.log, f"m{message_id}")))

    def press(self, data: str | None) -> None:
        self.presses += 1
        query = CallbackQuery(f"q{self.presses}", ANNA, ANNA.user_id, data)
        steps = Steps.load(self.log, f"q{self.presses}")
        try:
            run(self.relay.callback(query, steps))
        except RateLimited:
            run(steps.flush())
            raise

    def retry_press(self) -> None:
        """The held press's record comes back (same update, same steps)."""
        query = CallbackQuery(f"q{self.presses}", ANNA, ANNA.user_id, "ignored: steps decide")
        run(self.relay.callback(query, Steps.load(self.log, f"q{self.presses}")))

    def right(self) -> str:
        return self.store.items[ANNA.user_id].answer

    def wrong(self) -> str:
        return next(data for _, data in self.telegram.keyboards[-1] if data != self.right())

    def answers(self) -> list[str | None]:
        return [c["text"] for c in self.telegram.called("answer_callback")]


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def test_a_new_person_is_asked_once_and_held_until_the_right_answer() -> None:
    world = World()
    world.write(1, "my order")
    world.write(2, "is late")
    assert world.telegram.called("create_topic") == []
    assert world.telegram.called("copy_messages") + world.telegram.called("copy_message") == []
    (question,) = world.telegram.called("send_buttons")
    assert question["chat_id"] == ANNA.user_id and len(question["buttons"]) == 4
    assert sum(data == world.right() for _, data in question["buttons"]) == 1
    assert world.store.items[ANNA.user_id].held == (1, 2)

    world.press(world.wrong())
    assert world.telegram.called("create_topic") == []
    (answer,) = world.answers()
    assert answer is not None and answer.startswith("Not quite")
    assert world.metrics.counts["ChallengesFailed"] == 1

    world.press(world.right())
    assert len(world.telegram.called("create_topic")) == 1
    (copied,) = world.telegram.called("copy_messages")
    assert copied["message_ids"] == [1, 2] and copied["chat_id"] == GROUP
    assert world.answers()[-1] is not None and world.answers()[-1].startswith("Thank you")
    assert world.store.items[ANNA.user_id].held == ()

    world.write(3, "any news?")  # passed: relayed like anyone's, no new question
    assert len(world.telegram.called("send_buttons")) == 1
    assert world.telegram.called("copy_message")[-1]["message_id"] == 3


def test_every_press_is_answered_even_a_stale_one_or_without_the_question() -> None:
    world = World()
    world.write(1)
    world.press(world.right())
    world.press(world.right())  # the keyboard is still there: pressed again
    world.press("something else")
    assert len(world.answers()) == 3
    assert world.answers()[1] == world.answers()[2] == "This question has expired."
    assert len(world.telegram.called("create_topic")) == 1

    off = World(challenge=False)
    off.press("whatever")
    assert off.telegram.called("answer_callback") == [{"query_id": "q1", "text": None}]


def test_people_with_a_topic_are_never_asked() -> None:
    on = World()  # someone who had a topic before the stage turned the question on
    on.sessions.claim_topic_creation(ANNA, GROUP, "x", 0.0, 30.0)
    on.sessions.attach_topic(ANNA.user_id, GROUP, 77, "x")
    on.write(1)
    assert on.telegram.called("send_buttons") == []
    assert on.telegram.called("copy_message")[0]["thread_id"] == 77


def test_a_press_answered_too_late_still_counts() -> None:
    world = World()
    world.write(1)
    world.telegram.fail("answer_callback", RejectedByTelegram("query is too old", code=400))
    world.press(world.right())
    assert len(world.telegram.called("create_topic")) == 1
    assert world.metrics.counts["CallbackAnswerRefused"] == 1


def test_the_held_messages_are_copied_at_the_persons_pace_and_resume_in_order() -> None:
    world = World(pace=Pace(burst=1, interval=8.0))
    for message_id in range(1, 131):  # more than one copyMessages call can carry
        world.write(message_id, f"m{message_id}")
    assert len(world.store.items[ANNA.user_id].held) == 130
    with pytest.raises(RateLimited):  # one run went; the next waits for the pace
        world.press(world.right())
    assert [c["message_ids"][0] for c in world.telegram.called("copy_messages")] == [1]
    assert len(world.answers()) == 1
    # The first run's unit is kept in the session; the held run spent nothing.
    session = world.sessions.get(ANNA.user_id)
    assert session is not None and session.pace_tat == world.clock.now() + 8.0
    world.clock.current += 8.0  # the pace allows the next run
    world.retry_press()
    runs = [c["message_ids"] for c in world.telegram.called("copy_messages")]
    assert runs == [list(range(1, 101)), list(range(101, 131))]
    assert len(world.answers()) == 1  # answered once, however often the record came back
    assert len(world.telegram.called("create_topic")) == 1


def test_questions_are_random_but_always_have_one_right_button() -> None:
    for seed in range(20):
        world = World()
        world.relay._inbound.challenge.rng = random.Random(seed)  # type: ignore[union-attr]
        world.write(1)
        (buttons,) = world.telegram.keyboards
        assert len({data for _, data in buttons}) == 4
        assert [data for _, data in buttons].count(world.right()) == 1
        assert all(data.startswith(CALLBACK_PREFIX) for _, data in buttons)


def test_the_webhook_takes_a_press_in_a_private_chat_into_the_persons_own_group() -> None:
    def press(chat: dict[str, Any]) -> dict[str, Any]:
        message = {"message_id": 9, "date": 1, "chat": chat, "text": "Tap the apple"}
        query = {"id": "1", "from": {"id": 501}, "chat_instance": "1", "message": message}
        return {"update_id": 1, "callback_query": {**query, "data": "challenge:🍎"}}

    private = press({"id": 501, "type": "private"})
    assert is_served(private, frozenset({GROUP}))
    # Behind the person's held messages and before their next ones: one FIFO group.
    message = {"update_id": 2, "message": {"chat": {"id": 501, "type": "private"}}}
    assert group_key(private) == group_key(message) == "501"
    assert not is_served(press({"id": -100777, "type": "supergroup"}), frozenset({GROUP}))
    assert "callback_query" in ALLOWED_UPDATES
