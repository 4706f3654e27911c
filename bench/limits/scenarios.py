"""The three loads of ``make bench-limits`` and how each run is measured.

(a) broadcast: one broadcast (``DynamoBroadcastRepository.create`` + ``start``) to N private
    chats, one ``topicdesk.broadcast`` job per person on the updates queue (in their group),
    as ``/confirm`` queues them; every person has a session. Binding limit: the bot's 30/s.
(b) crowd: P people each write one message at once (the emulator queues the updates; they
    are enqueued the way the webhook enqueues them: canonical JSON, group = chat, dedup =
    update_id). Each first contact creates a topic (``createForumTopic``: not a message, not
    counted), posts a contact card and copies the message (both counted). Binding limit: the
    group's 20/min.
(c) chatty: one person sends M messages at once; the consumer carries consecutive ones in one
    ``copyMessages`` call (one message towards the limit, as the emulator counts it by default).
    Binding limit: the group's 20/min, in calls.

Every run: its own queues and tables, K consumer processes started (warm) before the load is
released; the clock starts when the pollers start and the run ends when the queue is empty
(everything processed or dead-lettered) or at its deadline. Then the emulator's call log gives
the rates and the 429s, its violation list the violations, and the transcripts what arrived.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topicdesk.adapters.aws import SqsJobQueue
from topicdesk.adapters.dynamodb import DynamoBroadcastRepository, DynamoSessionRepository
from topicdesk.domain.broadcast import Broadcast, BroadcastJob
from topicdesk.domain.routing import group_key

from bench.limits.checks import (
    COUNTED,
    Delivery,
    Row,
    Send,
    bot_limit,
    calls_into,
    check_conversations,
    group_limit,
    rejected,
    sends_from,
    sustained_rate,
)
from bench.limits.world import (
    Aws,
    Consumers,
    Emulator,
    RunStack,
    consumer_env,
    cpu_seconds,
    create_stack,
    wait_until_drained,
    write_sessions,
)

JSON = dict[str, Any]
Gate = Callable[[], None]
"""Called between warming the consumers and releasing the load (a barrier when lanes run
side by side), so that no lane's clock runs while another lane is still starting."""


def note(text: str) -> None:
    print(f"[bench-limits {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def no_gate() -> None:
    return None


@dataclass(frozen=True)
class Lane:
    """One limiter at one K, on one emulator."""

    limiter: str
    k: int
    emulator: Emulator
    aws: Aws
    logs: Path

    @property
    def name(self) -> str:
        return f"{self.limiter}-k{self.k}"


@dataclass(frozen=True)
class Measured:
    t0: float
    end: float
    drained: bool
    calls: list[JSON]
    violations: int
    violations_by_scope: dict[str, int]
    rejected_by_scope: dict[str, int]
    cpu: dict[str, float]
    """Cores used on average during the run, by who used them."""


def _cpu(lane: Lane, consumers: Consumers) -> dict[str, float]:
    return {
        "consumers": sum(cpu_seconds(pid) for pid in consumers.pids),
        "moto": cpu_seconds(lane.aws.pid) if lane.aws.pid else 0.0,
        "emulator": cpu_seconds(lane.emulator.pid),
        "bench": cpu_seconds(os.getpid()),
    }


@dataclass(frozen=True)
class _Run:
    """One scenario on one lane: its stack, the operators' group, the scale, a tag for logs."""

    lane: Lane
    stack: RunStack
    group: int
    scale: float
    tag: str


def _run_consumers(
    run: _Run, *, release: Callable[[], None], deadline_seconds: float, gate: Gate
) -> Measured:
    """Warm K consumers, pass the gate, release the load, run until drained or the deadline."""
    lane, stack, tag = run.lane, run.stack, run.tag
    client = lane.emulator.client
    env = consumer_env(
        lane.aws,
        stack,
        api_url=lane.emulator.base_url,
        operator_chat_id=run.group,
        limiter=lane.limiter,
        scale=run.scale,
    )
    consumers = Consumers(lane.aws, stack, env, lane.k, lane.logs / f"{tag}.log")
    try:
        warm_started = time.monotonic()
        consumers.warm()
        note(f"{tag}: {lane.k} consumers warm in {time.monotonic() - warm_started:.1f} s")
        gate()
        release()
        before = client.stats()
        first_call = int(before["calls"])
        cpu_before = _cpu(lane, consumers)
        t0 = time.monotonic()
        consumers.start()
        drained = wait_until_drained(lane.aws, stack.updates_url, t0 + deadline_seconds)
        end = time.monotonic()
        if not drained:
            attributes = lane.aws.sqs.get_queue_attributes(
                QueueUrl=stack.updates_url, AttributeNames=["All"]
            )["Attributes"]
            note(
                f"{tag}: queue not empty at the deadline: "
                f"{attributes.get('ApproximateNumberOfMessages')} visible, "
                f"{attributes.get('ApproximateNumberOfMessagesNotVisible')} in flight"
            )
        cpu_after = _cpu(lane, consumers)
    finally:
        stopping = time.monotonic()
        consumers.stop()
        note(f"{tag}: consumers stopped in {time.monotonic() - stopping:.1f} s")
    calls = client.calls()[first_call:]
    (lane.logs / f"{tag}-calls.json").write_text(
        json.dumps({"t0": t0, "end": end, "drained": drained, "calls": calls})
    )
    violations = [v for v in client.violations() if float(v.get("at", 0.0)) >= t0]
    by_scope = Counter(str(v.get("scope")) for v in violations)
    after = client.stats()
    rejected_by_scope = {
        scope: int(count) - int(before["rejected_429_by_scope"].get(scope, 0))
        for scope, count in after["rejected_429_by_scope"].items()
    }
    return Measured(
        t0=t0,
        end=end,
        drained=drained,
        calls=calls,
        violations=len(violations),
        violations_by_scope=dict(by_scope),
        rejected_by_scope=rejected_by_scope,
        cpu={who: (cpu_after[who] - cpu_before[who]) / max(end - t0, 1e-6) for who in cpu_after},
    )


def _row(
    run: _Run,
    scenario: str,
    measured: Measured,
    *,
    binding: Sequence[Send],
    limit: float,
    delivery: Delivery,
    calls_rate: float | None = None,
) -> Row:
    ok = sorted((s for s in binding if s.ok), key=lambda s: s.at)
    # The last delivery ends the run; with nothing delivered, the deadline does.
    last = ok[-1].at if ok else measured.end
    return Row(
        scenario=scenario,
        limiter=run.lane.limiter,
        k=run.lane.k,
        scale=run.scale,
        delivered=delivery.expected - delivery.lost,
        expected=delivery.expected,
        sends=len(ok),
        elapsed=max(0.0, last - measured.t0),
        rate=sustained_rate([s.at for s in ok]),
        limit=limit,
        message_rate=sustained_rate([s.at for s in ok], [s.messages for s in ok]),
        rejected_429=rejected(measured.calls),
        violations=measured.violations,
        delivery=delivery,
        dead_lettered=run.lane.aws.queue_depth(run.stack.dlq_url),
        timed_out=not measured.drained,
        rejected_by_scope=measured.rejected_by_scope,
        violations_by_scope=measured.violations_by_scope,
        calls_rate=calls_rate,
        cpu=measured.cpu,
    )


# ----------------------------------------------------------------------------- (a) broadcast


@dataclass
class BroadcastWorld:
    """The 3,000 (or N) people of the broadcast runs: seeded once, shared by those runs."""

    emulator: Emulator
    group: int
    people: list[int]
    data_table: str

    @classmethod
    def seed(cls, aws: Aws, emulator: Emulator, chats: int) -> BroadcastWorld:
        client = emulator.client
        group = int(client.create_forum_group("Operators", operator_names=["Olga"])["chat_id"])

        def person(index: int) -> int:
            return int(client.create_user(f"Person{index}", started=True)["user_id"])

        with ThreadPoolExecutor(8) as pool:
            people = list(pool.map(person, range(chats)))
        table = "bench-a-data"
        aws.create_data_table(table)
        write_sessions(aws, table, people, group)
        return cls(emulator=emulator, group=group, people=people, data_table=table)


def broadcast(
    lane: Lane, world: BroadcastWorld, *, scale: float, deadline: float, gate: Gate = no_gate
) -> Row:
    tag = f"a-{lane.name}"
    aws = lane.aws
    stack = create_stack(aws, f"bench-{tag}", lane.emulator.token, data_table=world.data_table)
    text = f"Broadcast {tag}: maintenance tonight at 22:00"
    repository = DynamoBroadcastRepository(aws.dynamodb.Table(world.data_table))
    repository.create(
        Broadcast(
            broadcast_id=tag,
            chat_id=world.group,
            thread_id=None,
            source_message_id=None,
            text=text,
            status="pending",
            requested_at=time.time(),
        )
    )
    repository.start(tag, len(world.people))
    jobs = [BroadcastJob(tag, person) for person in world.people]

    def release() -> None:
        SqsJobQueue(aws.sqs, stack.updates_url).enqueue_jobs(jobs)

    run = _Run(lane, stack, world.group, scale, tag)
    measured = _run_consumers(run, release=release, deadline_seconds=deadline, gate=gate)
    client = lane.emulator.client

    def arrived(person: int) -> list[str]:
        return [str(m.get("text", "")) for m in client.transcript(person)]

    with ThreadPoolExecutor(8) as pool:
        seen = dict(zip(world.people, pool.map(arrived, world.people), strict=True))
    delivery = check_conversations({p: [text] for p in world.people}, seen)
    private = [s for s in sends_from(measured.calls) if s.chat_id > 0]
    return _row(run, "a", measured, binding=private, limit=bot_limit(scale), delivery=delivery)


# ----------------------------------------------------------------------------- (b), (c)


def _updates(client: Any, expected: int, offset: int, timeout: float = 30.0) -> list[JSON]:
    """Everything the emulator queued for the bot (getUpdates, as Telegram would post it)."""
    got: list[JSON] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        batch: list[JSON] = client.bot_api("getUpdates", offset=offset, limit=100, timeout=0)
        if batch:
            got.extend(batch)
            offset = int(batch[-1]["update_id"]) + 1
        else:
            time.sleep(0.05)
    if len(got) < expected:
        raise RuntimeError(f"the emulator queued {len(got)} of {expected} updates")
    return got


def _enqueue_updates(aws: Aws, url: str, updates: Sequence[JSON]) -> None:
    """What the webhook does with each update: canonical JSON, group = chat, dedup = id."""
    for start in range(0, len(updates), 10):
        entries = [
            {
                "Id": str(index),
                "MessageBody": json.dumps(update, ensure_ascii=False, separators=(",", ":")),
                "MessageGroupId": group_key(update),
                "MessageDeduplicationId": str(update["update_id"]),
            }
            for index, update in enumerate(updates[start : start + 10])
        ]
        answer = aws.sqs.send_message_batch(QueueUrl=url, Entries=entries)
        if answer.get("Failed"):
            raise RuntimeError(f"SQS refused {len(answer['Failed'])} updates")


class _Offsets:
    """getUpdates offsets per emulator (a lane runs (b) then (c) on one bot)."""

    def __init__(self) -> None:
        self._next: dict[int, int] = {}
        self._lock = threading.Lock()

    def take(self, emulator: Emulator, updates: Sequence[JSON]) -> None:
        if updates:
            with self._lock:
                self._next[emulator.pid] = int(updates[-1]["update_id"]) + 1

    def of(self, emulator: Emulator) -> int:
        with self._lock:
            return self._next.get(emulator.pid, 0)


OFFSETS = _Offsets()


def _conversations(
    lane: Lane,
    *,
    scenario: str,
    people: int,
    per_person: int,
    scale: float,
    deadline: float,
    gate: Gate,
) -> Row:
    tag = f"{scenario}-{lane.name}"
    aws, client = lane.aws, lane.emulator.client
    group = int(client.create_forum_group(f"Operators {tag}", operator_names=["Olga"])["chat_id"])
    persons = [
        int(client.create_user(f"P{scenario}{i}", started=True)["user_id"]) for i in range(people)
    ]
    stack = create_stack(aws, f"bench-{tag}", lane.emulator.token)
    sent = {p: [f"{tag} from {p} #{i + 1}" for i in range(per_person)] for p in persons}

    def release() -> None:
        # Everyone writes at once: all updates are queued before the consumers start polling.
        for index in range(per_person):
            for person in persons:
                client.send_as_user(person, sent[person][index])
        updates = _updates(client, people * per_person, OFFSETS.of(lane.emulator))
        OFFSETS.take(lane.emulator, updates)
        _enqueue_updates(aws, stack.updates_url, updates)

    run = _Run(lane, stack, group, scale, tag)
    measured = _run_consumers(run, release=release, deadline_seconds=deadline, gate=gate)
    sessions = DynamoSessionRepository(aws.dynamodb.Table(stack.data_table))
    transcript = client.transcript(group)
    arrived: dict[int, list[str]] = {}
    for person in persons:
        session = sessions.get(person)
        thread = session.thread_id if session is not None else None
        arrived[person] = [
            str(m.get("text", ""))
            for m in transcript
            if thread is not None and m.get("message_thread_id") == thread
        ]
    delivery = check_conversations(sent, arrived)
    # Every unit of the group's 20/min the emulator counts: messages and topic creations.
    into_group = [s for s in sends_from(measured.calls, COUNTED) if s.chat_id == group]
    return _row(
        run,
        scenario,
        measured,
        binding=into_group,
        limit=group_limit(scale),
        delivery=delivery,
        calls_rate=sustained_rate(calls_into(measured.calls, group)),
    )


def crowd(lane: Lane, *, people: int, scale: float, deadline: float, gate: Gate = no_gate) -> Row:
    return _conversations(
        lane,
        scenario="b",
        people=people,
        per_person=1,
        scale=scale,
        deadline=deadline,
        gate=gate,
    )


def chatty(
    lane: Lane, *, messages: int, scale: float, deadline: float, gate: Gate = no_gate
) -> Row:
    return _conversations(
        lane,
        scenario="c",
        people=1,
        per_person=messages,
        scale=scale,
        deadline=deadline,
        gate=gate,
    )
