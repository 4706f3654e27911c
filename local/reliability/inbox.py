"""The inbox's nudges under load (issue 15): 100 conversations over 30 simulated minutes.

Time runs ``TIME_SCALE`` times faster, honestly: the stage is *configured* for it rather than
fooled. The SLA is the stage's setting scaled down (15 minutes -> ``SLA_MINUTES`` = 1.5), the
scenario plays EventBridge by invoking the deployed schedule function with its rule's event
once per simulated minute (the rule's ``rate(1 minute)`` / ``TIME_SCALE``), and Telegram's
limits and the product's are scaled by the same factor (the emulator's group limit is 200 a
minute: 20 a minute in simulated time; the product 5 % under it, as shipped). The product's
clocks are real: its waits, nudges and their texts are in real seconds; only the numbers it
is configured with are scaled. (Its own coalescing constants, a label's 10 s of stability and
the overview's one edit a minute, are not scaled: they only make it edit less.)

Who does what (simulated minutes; a message "shows" when its copy is in the topic):
- 100 people write once, one every 11 simulated seconds (the first 18 minutes);
- the office closes for 10 simulated minutes (one minute of wall time, from the first whole
  minute 5 simulated minutes in: business hours are in minutes): whoever writes meanwhile
  gets the away message, once per conversation, and waits count only business time;
- 40 are answered 5 minutes after their message shows: no nudge is due; half of them then
  write again a minute later and are not answered: one nudge for that second wait;
- 30 are never answered: one nudge each, once their wait lasted the SLA;
- 30 are answered a minute after their nudge shows (an operator reacting to it), then write
  again a minute later and are answered 2 minutes after that: no second nudge.

Checks (``checker.check_nudges`` per topic): each wait that lasted past the SLA (plus the
grace of a sweep period and the pipeline) has exactly one nudge; none before its wait lasted
the SLA, none while nobody waits (after an answer); the emulator saw no 429 in the group and
no violation; and lost / duplicated / reordered in both directions, as for every scenario.
The clock stops by itself: when everything planned is done and every open wait is past its
grace, or after ``LIMIT_MINUTES`` simulated minutes whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from topicdesk.contract import Env

from local.deployment import ScheduleSpec
from local.reliability.checker import (
    ANSWER,
    NUDGE,
    PERSON,
    NudgeCheck,
    check_nudges,
    count_notices,
    messages_into,
    most_in_window,
)
from local.reliability.harness import Harness, Outcome, Person, scenario

TIME_SCALE = 10
"""Simulated seconds per second."""
SLA_MINUTES = 15
PEOPLE = 100
ARRIVAL_MINUTES = 18
"""The first messages' span: a new conversation costs the group three messages (its topic,
its card, the copy), so 100 of them take 15 of the group's 20 a minute over 18 minutes (over
10 minutes they overran it, and the nudges, which yield to relayed messages, waited for
minutes: faithful, but then the scenario measured the overload, not the nudges)."""
ANSWER_AFTER = 5
"""Minutes after a message shows that the 'answered in time' ones are answered."""
GRACE_MINUTES = 4
"""How late a nudge may come and still count as on time: a sweep period (1), the queue and
the consumer, and a wait behind relayed messages for the group's slot (nudges yield to them)."""
LIMIT_MINUTES = 60
CLOSED_AFTER_MINUTES = 5
"""The office closes at the first whole minute (UTC) this long after the start ..."""
CLOSED_SECONDS = 60
"""... for one minute of wall time: 10 simulated minutes (business hours have minutes)."""
EDGE = 2.0
"""Seconds either side of closing and opening where a message may count as either."""
AWAY = "Inbox scenario: we are away for a moment; we answer when we are back."
TICK = 0.5
NUDGE_PREFIX = "⏰ Waiting for an answer"
SWEEP_EVENT = {"job": "sweep"}
TELEGRAM_GROUP_PER_MINUTE = 20


def wall(minutes: float) -> float:
    """Simulated minutes in seconds of wall time."""
    return minutes * 60 / TIME_SCALE


def rate_seconds(expression: str) -> float | None:
    """An EventBridge ``rate(N minute[s]|hour[s])`` in seconds (None: not a rate)."""
    found = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression)
    if found is None:
        return None
    return int(found[1]) * {"minute": 60, "hour": 3600, "day": 86400}[found[2]]


@dataclass(frozen=True)
class Closed:
    """One closed stretch of the day, as business hours (UTC) and on the monotonic clock the
    emulator's call log and the harness share."""

    start: float
    end: float

    @classmethod
    def after(cls, seconds: float) -> Closed:
        epoch = math.ceil((time.time() + seconds) / 60) * 60
        minute = int(epoch // 60 % 1440)
        if minute in (0, 1439):  # "00:00-00:00" or "24:00-24:00" is not an interval
            epoch += 120
        offset = time.time() - time.monotonic()
        return cls(epoch - offset, epoch - offset + CLOSED_SECONDS)

    def hours(self) -> str:
        """The stage's ``businessHours``: open every day but this stretch."""
        offset = time.time() - time.monotonic()
        closing, opening = (  # whole minutes: the two clocks' offset moves by microseconds
            datetime.fromtimestamp(round((at + offset) / 60) * 60, UTC).strftime("%H:%M")
            for at in (self.start, self.end)
        )
        day = [f"00:00-{closing}", f"{opening}-24:00"]
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        return json.dumps({"timeZone": "UTC", "weekly": dict.fromkeys(days, day)})

    def business(self, start: float, stop: float) -> float:
        """Business time between two instants: all of it but the closed stretch."""
        overlap = max(0.0, min(stop, self.end) - max(start, self.start))
        return max(0.0, stop - start - overlap)

    def away_due(self, shown: list[float]) -> bool | None:
        """Whether a conversation whose messages showed at ``shown`` is owed the away
        message: True (one showed while closed), False (none did), None (one showed within
        ``EDGE`` of closing or opening: either is right)."""
        inside = [self.start + EDGE <= at <= self.end - EDGE for at in shown]
        near = [self.start - EDGE < at < self.end + EDGE for at in shown]
        if any(inside):
            return True
        return None if any(near) else False


@dataclass
class Conversation:
    person: Person
    kind: str
    """``answered`` (in time; ``again``: then writes again), ``unanswered`` or ``late``."""
    write_at: float
    again: bool = False
    thread: int | None = None
    ids: list[int] = field(default_factory=list)
    """The person's message ids, in order."""
    answers: list[float] = field(default_factory=list)
    """When each answer was sent (monotonic)."""
    next_at: float | None = None
    """When the next planned step is due (monotonic); None: waiting for something to show."""
    step: int = 0
    done: bool = False


@dataclass
class Seen:
    """What the emulator's call log showed so far: copies into the group and nudges."""

    group: int
    after_seq: int
    copies: dict[tuple[int, int], tuple[float, int]] = field(default_factory=dict)
    """(person, their message id) -> (when it was copied into the group, into which topic)."""
    nudges: dict[int, list[float]] = field(default_factory=dict)
    """Topic -> when each nudge was posted in it."""
    last_seq: int = 0

    def update(self, calls: list[dict[str, Any]]) -> None:
        for call in calls:
            seq = int(call.get("seq", 0))
            if seq <= max(self.after_seq, self.last_seq) or call.get("ok") is not True:
                continue
            self.last_seq = max(self.last_seq, seq)
            params = call.get("params") or {}
            if str(params.get("chat_id")) != str(self.group):
                continue
            thread = int(params.get("message_thread_id") or 0)
            if call["method"] in ("copyMessage", "copyMessages"):
                raw = str(params.get("message_id") or params.get("message_ids") or "")
                for message_id in re.findall(r"\d+", raw):
                    key = (int(params["from_chat_id"]), int(message_id))
                    self.copies.setdefault(key, (float(call["at"]), thread))
            elif call["method"] == "sendMessage" and str(params.get("text", "")).startswith(
                NUDGE_PREFIX
            ):
                self.nudges.setdefault(thread, []).append(float(call["at"]))

    def shown(self, person: Person, message_id: int) -> tuple[float, int] | None:
        return self.copies.get((person.user_id, message_id))


class Schedule(threading.Thread):
    """EventBridge for one rule: the function invoked with the rule's event every ``period``
    seconds (a failed invocation is not retried, like the sweep's rule)."""

    def __init__(self, h: Harness, spec: ScheduleSpec, period: float) -> None:
        super().__init__(name="eventbridge-sweep", daemon=True)
        self.pool = h.stage.runtime.pools[spec.function]
        self.event, self.period = spec.event, period
        self.stop = threading.Event()
        self.runs = self.queued = 0
        self.errors: list[str] = []

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.period
            try:
                answer = self.pool.invoke(self.event)
                self.queued += int((answer or {}).get("queued", 0))
            except Exception as error:  # told in the row; the next sweep comes anyway
                self.errors.append(f"{type(error).__name__}: {error}")
            self.runs += 1


def count_away(counts: Counter[str], c: Conversation, due: bool | None, seen: int) -> None:
    """Tally one conversation's away messages (``seen``) against what it was owed (``due``:
    see ``Closed.away_due``): exactly one if owed, none if not, at most one either way."""
    counts["either" if due is None else "owed" if due else "not owed"] += 1
    counts["told"] += int(bool(due) and seen > 0)
    counts["missing"] += int(bool(due) and seen == 0)
    counts["extra"] += max(0, seen - 1)
    counts["wrong"] += int(due is False and seen > 0)
    if (due and seen != 1) or (due is False and seen) or seen > 1:
        print(f"  {c.person.name}: {seen} away message(s), owed: {due}", file=sys.stderr)


@scenario("inbox nudges: 100 conversations, 30 simulated min")
def inbox_nudges(h: Harness) -> Outcome:
    sweeps = [s for s in h.stage.deployment.schedules if s.event == SWEEP_EVENT]
    period = rate_seconds(sweeps[0].expression) if sweeps else None
    if not sweeps or period is None:
        return Outcome(
            [], "the stage has no inbox sweep schedule (deploy it with inbox)", problems=1
        )
    limits_before = h.client.limits()
    closed = Closed.after(wall(CLOSED_AFTER_MINUTES))
    product = {
        Env.INBOX: "true",
        Env.SLA_MINUTES: f"{SLA_MINUTES / TIME_SCALE:g}",
        Env.BUSINESS_HOURS: closed.hours(),
        Env.AWAY_MESSAGE: AWAY,
        Env.LIMIT_BOT_PER_SECOND: f"{28 * TIME_SCALE}",
        Env.LIMIT_CHAT_PER_SECOND: f"{0.95 * TIME_SCALE:g}",
        Env.LIMIT_GROUP_PER_MINUTE: f"{19 * TIME_SCALE}",
    }
    schedule_env = {name: product[name] for name in (Env.SLA_MINUTES, Env.BUSINESS_HOURS)}
    before = h.reconfigure_function(sweeps[0].function, schedule_env)
    h.client.set_limits(scale=TIME_SCALE, count_each_message=True)
    try:
        with h.settings(product):
            return _run(h, sweeps[0], period / TIME_SCALE, closed)
    finally:
        h.reconfigure_function(sweeps[0].function, before)
        with contextlib.suppress(Exception):
            h.client.set_limits(
                scale=limits_before["scale"], count_each_message=limits_before["count_each_message"]
            )


def _plan(h: Harness, start: float) -> list[Conversation]:
    people = h.new_people(PEOPLE, "Inbox")
    plan = []
    for index, person in enumerate(people):
        kind = ("answered",) * 4 + ("unanswered",) * 3 + ("late",) * 3
        at = start + wall(ARRIVAL_MINUTES * index / PEOPLE)
        chosen = kind[index % 10]
        plan.append(Conversation(person, chosen, at, again=chosen == "answered" and index % 2 == 0))
    return plan


def _answer(h: Harness, c: Conversation) -> None:
    assert c.thread is not None
    mark = f"to-{c.person.name}-a{len(c.person.answers) + 1}"
    c.answers.append(time.monotonic())
    h.client.send_as_operator(h.group, c.thread, h.operator, mark)
    c.person.answers.append(mark)
    h.updates_in += 1


def _advance(h: Harness, c: Conversation, seen: Seen, now: float) -> None:
    """The conversation's next step, when its moment came (or what it waits for showed)."""
    if c.step == 0:
        if now >= c.write_at:
            c.ids += h.write(c.person)
            c.step = 1
        return
    shown = seen.shown(c.person, c.ids[-1])
    if shown is not None:
        c.thread = shown[1]
    if c.next_at is not None and now < c.next_at:
        return
    if c.kind == "unanswered" or shown is None:
        c.done = c.kind == "unanswered" and shown is not None
        return
    copied_at = shown[0]
    if c.kind == "answered":
        if c.step == 1:  # answered in time
            c.next_at, c.step = copied_at + wall(ANSWER_AFTER), 2
        elif c.step == 2:
            _answer(h, c)
            c.next_at, c.step = time.monotonic() + wall(1), 3
            c.done = not c.again
        elif c.step == 3 and c.again:  # writes again; nobody answers this time
            c.ids += h.write(c.person)
            c.next_at, c.step, c.done = None, 4, True
        return
    # late: answered a minute after the nudge shows, then a quick second exchange
    if c.step == 1:
        nudges = seen.nudges.get(c.thread or 0, [])
        if nudges:
            c.next_at, c.step = nudges[0] + wall(1), 2
    elif c.step == 2:
        _answer(h, c)
        c.next_at, c.step = time.monotonic() + wall(1), 3
    elif c.step == 3:
        c.ids += h.write(c.person)
        c.next_at, c.step = None, 4
    elif c.step == 4:
        c.next_at, c.step = copied_at + wall(2), 5
    elif c.step == 5:
        _answer(h, c)
        c.done, c.step = True, 6


def _settled(plan: list[Conversation], seen: Seen, now: float, closed: Closed) -> bool:
    """Everything planned is done, and every open wait is past its SLA and grace in business
    time (its nudge had every chance)."""
    for c in plan:
        if not c.done:
            return False
        if c.kind != "late" and not (c.kind == "answered" and not c.again):
            shown = seen.shown(c.person, c.ids[-1])
            if shown is None or closed.business(shown[0], now) < wall(SLA_MINUTES + GRACE_MINUTES):
                return False
    return True


def _run(h: Harness, sweep: ScheduleSpec, period: float, closed: Closed) -> Outcome:
    calls_before = h.client.calls()
    seen = Seen(h.group, max((int(c.get("seq", 0)) for c in calls_before), default=0))
    stats_before = h.client.stats()
    violations_before = len(h.client.violations())
    start = time.monotonic()
    plan = _plan(h, start)
    schedule = Schedule(h, sweep, period)
    schedule.start()
    try:
        while time.monotonic() < start + wall(LIMIT_MINUTES):
            now = time.monotonic()
            seen.update(h.client.calls())
            for c in plan:
                if not c.done:
                    _advance(h, c, seen, now)
            if _settled(plan, seen, now, closed):
                break
            time.sleep(TICK)
    finally:
        schedule.stop.set()
        schedule.join(60)
    end = time.monotonic()
    h.wait_quiet(timeout=300)
    calls = h.client.calls()
    seen.update(calls)
    return _outcome(
        h, plan, seen, schedule, (start, end), closed, calls, stats_before, violations_before
    )


def _outcome(
    h: Harness,
    plan: list[Conversation],
    seen: Seen,
    schedule: Schedule,
    span: tuple[float, float],
    closed: Closed,
    calls: list[dict[str, Any]],
    stats_before: dict[str, Any],
    violations_before: int,
) -> Outcome:
    start, end = span
    total = NudgeCheck()
    away: Counter[str] = Counter()
    for c in plan:
        events: list[tuple[float, str]] = [(at, ANSWER) for at in c.answers]
        shown_at = [s[0] for s in (seen.shown(c.person, i) for i in c.ids) if s is not None]
        events += [(at, PERSON) for at in shown_at]
        events += [(at, NUDGE) for at in seen.nudges.get(c.thread or -1, [])]
        check = check_nudges(
            events,
            sla=wall(SLA_MINUTES),
            grace=wall(GRACE_MINUTES),
            end=end,
            business=closed.business,
        )
        told = count_notices(h.client.transcript(c.person.user_id), AWAY)
        count_away(away, c, closed.away_due(shown_at), told)
        if check.problems or check.latest > wall(GRACE_MINUTES) or not c.done:
            # The evidence, in simulated minutes from the start (stderr keeps the row clean).
            timeline = [(round((at - start) * TIME_SCALE / 60, 1), k) for at, k in sorted(events)]
            print(
                f"  {c.person.name} ({c.kind}, step {c.step}): {check} {timeline}", file=sys.stderr
            )
        total += check
    unfinished = sum(not c.done for c in plan)
    stats = h.client.stats()
    group_429 = int((stats.get("rejected_429_by_scope") or {}).get("group", 0)) - int(
        (stats_before.get("rejected_429_by_scope") or {}).get("group", 0)
    )
    violations = h.client.violations()[violations_before:]
    for violation in violations[:5]:
        print(f"  violation: {violation}", file=sys.stderr)
    recent = [c for c in calls if float(c.get("at", 0)) >= start]
    peak = most_in_window(messages_into(recent, h.group), 60.0)
    notes = [
        f"{(end - start) * TIME_SCALE / 60:.0f} simulated min ({end - start:.0f} s)",
        f"sweeps={schedule.runs} queued={schedule.queued} errors={len(schedule.errors)}",
        f"waits={total['waits']} due={total['due']} nudges={total['nudged']}"
        f" missing={total['missing']} extra={total['extra']} early={total['early']}"
        f" after-answer={total['after_answer']}"
        f" latest={total.latest * TIME_SCALE / 60:.1f} min past the SLA",
        f"closed from simulated min {(closed.start - start) * TIME_SCALE / 60:.0f}"
        f" to {(closed.end - start) * TIME_SCALE / 60:.0f}: away messages"
        f" {away['told']}/{away['owed']} owed (+{away['either']} either way),"
        f" {away['wrong']} to someone not owed one",
        f"group peak={peak}/{TELEGRAM_GROUP_PER_MINUTE * TIME_SCALE} a minute,"
        f" group 429s={group_429} violations={len(violations)}",
    ]
    if unfinished:
        notes.append(f"UNFINISHED conversations={unfinished}")
    for error in schedule.errors[:3]:
        print(f"  sweep failed: {error}", file=sys.stderr)
    return Outcome(
        [c.person for c in plan],
        "; ".join(notes),
        lost=total["missing"] + away["missing"],
        duplicated=total["extra"] + away["extra"],
        problems=away["wrong"]
        + total["early"]
        + total["after_answer"]
        + group_429
        + len(violations)
        + unfinished
        + len(schedule.errors),
    )
