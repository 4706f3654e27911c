"""Broadcast integrity (issue 13): ids per operators' group, a conditional create, a second
admin's confirmation, content frozen at /confirm, jobs only while running, /cancel, and who
asked and who confirmed in the reports."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

from topicdesk.domain.broadcast import Actor, Broadcast, BroadcastJob, BroadcastService
from topicdesk.domain.broadcast.model import CANCELLED, DONE, PENDING, PROGRESS_STEPS, RUNNING
from topicdesk.domain.commands import Registry
from topicdesk.domain.model import ChatMessage, Person
from topicdesk.domain.roles import Roles
from topicdesk.domain.steps import Steps

from tests.support import fakes
from tests.support.fakes import FakeMetrics, FakeTelegram
from tests.support.relay_world import GROUP, OLGA, relay_world

OTHER_GROUP = -1002  # GROUP: the stage's first; OLGA: an admin
IVAN = Person(user_id=901, first_name="Ivan")  # another admin
AGENT = Person(user_id=902, first_name="Petr")  # a member, not an admin
PEOPLE = (501, 502, 503)


class InMemoryBroadcasts(fakes.InMemoryItems[Broadcast]):
    """The broadcast repository with the DynamoDB adapter's conditions."""

    def __init__(self) -> None:
        super().__init__()
        self.creates = 0

    def create(self, broadcast: Broadcast) -> bool:
        self.creates += 1
        return self._create(broadcast.broadcast_id, broadcast)

    def active(self, chat_id: int) -> list[Broadcast]:
        live = (PENDING, RUNNING)
        return [b for b in self.items.values() if b.chat_id == chat_id and b.status in live]

    def _move(self, broadcast_id: str, allowed: tuple[str, ...], **fields: Any) -> bool:
        return self._update(broadcast_id, lambda item: item.status in allowed, **fields)

    def start(self, broadcast_id: str, total: int, **confirmation: Any) -> bool:
        """``confirmation``: ``confirmed_by`` and ``frozen_message_id``."""
        return self._move(broadcast_id, (PENDING,), status=RUNNING, total=total, **confirmation)

    def cancel(self, broadcast_id: str, by: Actor | None) -> bool:
        return self._move(broadcast_id, (PENDING, RUNNING), status=CANCELLED, cancelled_by=by)

    def count(self, broadcast_id: str, outcome: str) -> Broadcast:
        item = self.items[broadcast_id]
        self.items[broadcast_id] = replace(item, **{outcome: getattr(item, outcome) + 1})
        return self.items[broadcast_id]

    def advance_progress(self, broadcast_id: str, step: int) -> bool:
        item = self.items[broadcast_id]
        if item.progress_posted >= step or item.status != RUNNING:
            return False
        status = DONE if step >= PROGRESS_STEPS else RUNNING
        self.items[broadcast_id] = replace(item, progress_posted=step, status=status)
        return True


@dataclass
class World:
    """The service on in-memory fakes; ``world()`` builds it."""

    service: BroadcastService = field(init=False)
    repository: InMemoryBroadcasts = field(default_factory=InMemoryBroadcasts)
    telegram: FakeTelegram = field(default_factory=FakeTelegram)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)
    clock: fakes.FakeClock = field(default_factory=fakes.FakeClock)
    queued: list[BroadcastJob] = field(default_factory=list)
    next_id: int = 100

    def say(
        self, person: Person, text: str, *, reply_to: int | None = None, chat: int = GROUP
    ) -> int:
        """``person`` writes ``text`` in the group's General; returns its message id."""
        self.next_id += 1
        message = ChatMessage(
            chat_id=chat,
            message_id=self.next_id,
            sender=person,
            kind="text",
            text=text,
            reply_to_message_id=reply_to,
        )
        asyncio.run(self.service.command(message, reply_to, Steps()))
        return self.next_id

    def answer_to(self, message_id: int) -> str:
        [note] = [c for c in self.telegram.acted("send_text") if c["reply_to"] == message_id]
        return str(note["text"])

    def deliver_all(self) -> None:
        while self.queued:
            job = self.queued.pop(0)
            asyncio.run(self.service.deliver(job, Steps()))

    def texts(self, chat_id: int) -> list[str]:
        return [str(c["text"]) for c in self.telegram.acted("send_text") if c["chat_id"] == chat_id]

    def copies_to(self, user_id: int) -> list[dict[str, Any]]:
        return [c for c in self.telegram.acted("copy_message") if c["chat_id"] == user_id]


def world(*, admins: frozenset[int] | None = None, self_confirm: bool = False) -> World:
    sessions = fakes.InMemorySessions()
    for user in PEOPLE:
        sessions.items[user] = {
            "person": Person(user_id=user, first_name=f"P{user}"),
            "operator_chat_id": GROUP,
            "thread_id": user,
        }
    w = World()

    async def admins_of(chat_id: int) -> frozenset[int]:
        return frozenset({OLGA.user_id, IVAN.user_id}) if admins is None else admins

    w.service = BroadcastService(
        broadcasts=w.repository,
        roster=type("Roster", (), {"people": lambda self: list(PEOPLE)})(),
        jobs=type("Jobs", (), {"enqueue_jobs": lambda self, jobs: w.queued.extend(jobs)})(),
        sessions=sessions,
        telegram=w.telegram,
        clock=w.clock,
        metrics=w.metrics,
        admins=admins_of,
        self_confirm=self_confirm,
    )
    return w


def ask(w: World, text: str = "/broadcast Maintenance at 22:00", **kwargs: Any) -> int:
    """Olga asks for a broadcast; returns the bot's question id (the id names it)."""
    before = set(w.repository.items)
    w.say(OLGA, text, **kwargs)
    [new] = set(w.repository.items) - before
    return int(new.rpartition("_")[2])


def test_the_admin_who_asked_cannot_confirm_alone_and_a_second_admin_can() -> None:
    w = world()
    question = ask(w)
    assert "Another admin replies /confirm" in w.texts(GROUP)[-1]
    own = w.say(OLGA, "/confirm", reply_to=question)
    assert "another admin must confirm it (this group has 2 admins)" in w.answer_to(own)
    [broadcast] = w.repository.items.values()
    assert broadcast.status == PENDING and w.queued == []
    assert w.metrics.counts["BroadcastConfirmRefused"] == 1

    other = w.say(IVAN, "/confirm", reply_to=question)
    assert w.answer_to(other).startswith("📣 Broadcast started: 3 people")
    assert len(w.queued) == 3
    w.deliver_all()
    assert all(w.texts(user) == ["Maintenance at 22:00"] for user in PEOPLE)
    finished = w.texts(GROUP)[-1]
    assert finished.startswith("📣 Broadcast finished: 3 delivered")
    assert "Asked by Olga (900); confirmed by Ivan (901)." in finished
    stored = w.repository.items[broadcast.broadcast_id]
    assert (stored.requested_by, stored.confirmed_by) == (Actor(900, "Olga"), Actor(901, "Ivan"))
    assert stored.status == DONE


def test_self_confirm_when_the_stage_allows_it_or_the_group_has_one_admin() -> None:
    for w in (world(self_confirm=True), world(admins=frozenset({OLGA.user_id}))):
        question = ask(w)
        confirmed = w.say(OLGA, "/confirm", reply_to=question)
        assert w.answer_to(confirmed).startswith("📣 Broadcast started: 3 people")
        w.deliver_all()
        assert "Asked by Olga (900); confirmed by Olga (900)." in w.texts(GROUP)[-1]
    w = world(self_confirm=True)
    ask(w)
    assert "\nReply /confirm to this message within 10 minutes." in w.texts(GROUP)[0]


def test_the_content_is_frozen_at_confirm_and_the_jobs_copy_the_frozen_copy() -> None:
    w = world()
    source = 42  # an admin's message in the group, replied to with /broadcast
    question = ask(w, "/broadcast", reply_to=source)
    confirmed = w.say(IVAN, "/confirm", reply_to=question)
    [frozen] = [c for c in w.telegram.acted("copy_message") if c["chat_id"] == GROUP]
    assert (frozen["from_chat_id"], frozen["message_id"], frozen["reply_to"]) == (
        GROUP,
        source,
        confirmed,
    )
    frozen_id = next(iter(w.repository.items.values())).frozen_message_id
    assert frozen_id is not None and frozen_id != source
    assert "The copy above is what they get." in w.answer_to(confirmed)
    w.deliver_all()
    # Whatever became of the source (edited, deleted), every person gets the bot's copy.
    for user in PEOPLE:
        [copy] = w.copies_to(user)
        assert (copy["from_chat_id"], copy["message_id"]) == (GROUP, frozen_id)


def test_a_source_that_cannot_be_copied_starts_nothing() -> None:
    from topicdesk.domain.errors import MessageGone

    w = world()
    question = ask(w, "/broadcast", reply_to=42)
    w.telegram.fail("copy_message", MessageGone("message to copy not found"))
    confirmed = w.say(IVAN, "/confirm", reply_to=question)
    assert "cannot be copied; nothing was sent" in w.answer_to(confirmed)
    assert w.queued == [] and next(iter(w.repository.items.values())).status == PENDING


def test_cancel_stops_a_running_broadcast_and_reports_what_was_sent() -> None:
    w = world()
    question = ask(w)
    w.say(IVAN, "/confirm", reply_to=question)
    first = w.queued.pop(0)
    asyncio.run(w.service.deliver(first, Steps()))  # one person got it
    cancel = w.say(IVAN, "/cancel")
    report = w.answer_to(cancel)
    assert report.startswith("🛑 Broadcast cancelled by Ivan (901): 1 delivered, 0 skipped")
    assert "2 not sent" in report and "Asked by Olga (900); confirmed by Ivan (901)." in report
    w.deliver_all()  # the jobs still queued
    assert [len(w.texts(user)) for user in PEOPLE] == [1, 0, 0]
    assert w.metrics.counts["BroadcastJobsSkipped"] == 2
    assert not any(t.startswith("📣 Broadcast finished") for t in w.texts(GROUP))
    stored = next(iter(w.repository.items.values()))
    assert (stored.status, stored.cancelled_by) == (CANCELLED, Actor(901, "Ivan"))


def test_cancel_names_its_broadcast_or_says_why_not() -> None:
    w = world()
    nothing = w.say(IVAN, "/cancel")
    assert w.answer_to(nothing) == "Nothing to cancel: no broadcast is waiting or running here."
    first, second = ask(w), ask(w, "/broadcast Second")
    several = w.say(IVAN, "/cancel")
    assert w.answer_to(several).startswith("2 broadcasts are waiting or running here")
    named = w.say(IVAN, "/cancel", reply_to=first)
    assert w.answer_to(named) == "🛑 Broadcast request cancelled by Ivan (901): nothing was sent."
    late = w.say(IVAN, "/confirm", reply_to=first)
    assert w.answer_to(late) == "🛑 That broadcast was cancelled."
    again = w.say(IVAN, "/cancel", reply_to=first)
    assert w.answer_to(again) == "Nothing to cancel: that broadcast is cancelled."
    assert w.repository.items[f"{GROUP}_{second}"].status == PENDING
    assert w.queued == []


def test_a_job_after_its_broadcast_finished_sends_nothing() -> None:
    w = world()
    w.say(IVAN, "/confirm", reply_to=ask(w))
    jobs = list(w.queued)
    w.deliver_all()
    sent = len(w.telegram.acted("send_text"))
    asyncio.run(w.service.deliver(jobs[0], Steps()))  # a duplicate whose record was lost
    asyncio.run(w.service.give_up(jobs[1], Steps()))
    assert len(w.telegram.acted("send_text")) == sent
    assert w.metrics.counts["BroadcastJobsSkipped"] == 2


def test_a_redelivered_broadcast_request_creates_nothing_twice() -> None:
    w = world()
    log = fakes.InMemoryStepLog()
    message = ChatMessage(
        chat_id=GROUP, message_id=7, sender=OLGA, kind="text", text="/broadcast News"
    )
    for _ in range(2):  # the same update again, with its step record
        asyncio.run(w.service.command(message, None, Steps.load(log, "update#1")))
    assert w.repository.creates == 2 and len(w.repository.items) == 1
    assert len(w.telegram.acted("send_text")) == 1
    assert w.metrics.counts["BroadcastsRequested"] == 1


def test_two_groups_broadcasts_at_once_never_collide() -> None:
    w = world(self_confirm=True)
    questions = []
    for chat in (GROUP, OTHER_GROUP):
        w.telegram.next_id = 500  # message ids are per chat: both questions get the same one
        questions.append(ask(w, f"/broadcast From {chat}", chat=chat))
    ids = {b.broadcast_id: b.text for b in w.repository.items.values()}
    assert ids == {f"{GROUP}_501": f"From {GROUP}", f"{OTHER_GROUP}_501": f"From {OTHER_GROUP}"}
    for chat in (GROUP, OTHER_GROUP):
        w.say(OLGA, "/confirm", reply_to=501, chat=chat)
    w.deliver_all()
    for user in PEOPLE:
        assert sorted(w.texts(user)) == sorted([f"From {GROUP}", f"From {OTHER_GROUP}"])
    for chat in (GROUP, OTHER_GROUP):
        assert w.texts(chat)[-1].startswith("📣 Broadcast finished: 3 delivered")


def test_cancel_and_confirm_are_for_admins_only() -> None:
    clock = fakes.FakeClock()

    async def fetch(chat_id: int) -> list[int]:
        return [OLGA.user_id]

    directory = type(
        "Directory",
        (),
        {"admins": lambda self, chat, now: None, "remember": lambda self, *args: None},
    )()
    roles = Roles(
        directory=directory,
        fetch_admins=fetch,
        clock=clock,
        stage_admins=frozenset({IVAN.user_id}),
    )
    w = relay_world(clock=clock, commands=Registry(resolve_role=roles.role_of))
    for index, command in enumerate(("/broadcast hi", "/confirm", "/cancel"), start=80):
        message = ChatMessage(chat_id=GROUP, message_id=index, sender=AGENT, kind="text")
        asyncio.run(w.relay.group_messages([replace(message, text=command)]))
        [note] = [c for c in w.telegram.acted("send_text") if c["reply_to"] == index]
        assert "for the group's admins" in note["text"]
    # The group's administrators and the stage's admins: two, so a second must confirm.
    assert asyncio.run(roles.admins(GROUP)) == frozenset({OLGA.user_id, IVAN.user_id})


def test_a_confirm_and_a_cancel_that_meet_a_429_resume_and_do_nothing_twice() -> None:
    from topicdesk.domain.errors import RateLimited

    w = world()
    question = ask(w, "/broadcast", reply_to=42)
    log = fakes.InMemoryStepLog()

    def run_until_done(text: str, message_id: int, reply_to: int | None) -> int:
        message = ChatMessage(
            chat_id=GROUP,
            message_id=message_id,
            sender=IVAN,
            kind="text",
            text=text,
            reply_to_message_id=reply_to,
        )
        for attempt in range(1, 4):  # as the consumer retries the record
            steps = Steps.load(log, f"update#{message_id}")
            try:
                asyncio.run(w.service.command(message, reply_to, steps))
            except RateLimited:
                asyncio.run(steps.flush())
                continue
            return attempt
        raise AssertionError("never done")

    # The "started" note meets a 429: the retry neither copies again nor queues again.
    w.telegram.fail("send_text", RateLimited(1.0))
    assert run_until_done("/confirm", 300, question) == 2
    assert len([c for c in w.telegram.acted("copy_message") if c["chat_id"] == GROUP]) == 1
    assert len(w.queued) == 3
    assert len(w.texts(GROUP)) == 2  # the question and one "started" note
    assert w.metrics.counts["BroadcastsStarted"] == 1

    # The cancel's report meets a 429: cancelled once, reported once.
    w.telegram.fail("send_text", RateLimited(1.0))
    assert run_until_done("/cancel", 301, None) == 2
    assert w.metrics.counts["BroadcastsCancelled"] == 1
    assert [t for t in w.texts(GROUP) if t.startswith("🛑")] == [w.answer_to(301)]
