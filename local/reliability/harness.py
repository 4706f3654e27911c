"""The harness the scenarios drive: people and operators on the emulator, the AWS fault
proxies, and the bookkeeping that the checker compares against the transcripts."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from topicdesk.contract import DATA_TABLE, Output
from topicdesk.domain.inbox.display import PREFIX

from devkit.moto import client
from devkit.telegram_emulator import EmulatorClient
from local.reliability.aws_faults import FaultProxy
from local.reliability.checker import (
    ChatCheck,
    check_chat,
    dropped_answers,
    mark_of,
    receive_counts,
    total,
)
from local.stage import ROOT, STATE_DIR, RunningStage

QUIET_SECONDS = 2.0
_LABELS = tuple(f"{prefix} " for prefix in PREFIX.values())


def topic_is(topic: dict[str, Any], name: str) -> bool:
    """The topic is the person's named ``name``: its name begins with theirs (after the
    inbox's state label, ``🔴 Ann (@ann)``, on a stage with the inbox)."""
    shown = str(topic["name"])
    for label in _LABELS:
        if shown.startswith(label):
            shown = shown[len(label) :]
            break
    return shown.startswith(f"{name} ")


class ScenarioTimeout(RuntimeError):
    pass


@dataclass
class Row:
    scenario: str
    updates_in: int
    delivered: int
    lost: int
    duplicated: int
    reordered: int
    dead_lettered: int
    replayed: int
    undeliverable: int
    seconds: float
    notes: str = ""
    in_doubt: int = 0
    """Extra copies after a send whose answer never came (Telegram acted; see checker)."""
    problems: int = 0
    """Failed checks that are neither lost, duplicated nor reordered (a 429 violation, an
    album split, a late answer...): ``make reliability`` fails on them too."""


@dataclass
class Person:
    user_id: int
    name: str
    sent: list[str] = field(default_factory=list)
    """Marks the person wrote, in order (expected in their topic)."""
    answers: list[str] = field(default_factory=list)
    """Marks operators wrote in their topic, in order (expected in their chat)."""
    undeliverable: list[str] = field(default_factory=list)
    """Answers that cannot arrive (they blocked the bot): expected to be *reported*."""


@dataclass
class Harness:
    stage: RunningStage
    client: EmulatorClient
    group: int
    operator: int
    dynamodb: FaultProxy
    sqs: FaultProxy
    deadline_seconds: float = 240.0
    receives: ReceiveCounter | None = None
    people: list[Person] = field(default_factory=list)
    updates_in: int = 0
    replayed: int = 0
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def aws(self) -> str:
        return str(self.stage.moto.endpoint)

    # ------------------------------------------------------------------ actors

    def new_people(self, count: int, prefix: str) -> list[Person]:
        made = []
        for _ in range(count):
            name = f"{prefix}{next(self._names)}"
            user = self.client.create_user(name, username=name.lower())
            made.append(Person(int(user["user_id"]), name))
        self.people.extend(made)
        return made

    def write(self, person: Person, count: int = 1) -> list[int]:
        """The person's next marks; returns their message ids (in the private chat)."""
        ids = []
        for _ in range(count):
            mark = f"{person.name}-m{len(person.sent) + 1}"
            ids.append(int(self.client.send_as_user(person.user_id, mark)["message_id"]))
            person.sent.append(mark)
            self.updates_in += 1
        return ids

    def topic_of(self, person: Person) -> int:
        for topic in reversed(self.client.topics(self.group)):
            if topic_is(topic, person.name) and not topic.get("deleted"):
                return int(topic["message_thread_id"])
        raise ScenarioTimeout(f"no topic for {person.name}")

    def answer(
        self, person: Person, count: int = 1, *, expect: bool = True, operator: int | None = None
    ) -> list[int]:
        """Operators' answers in the person's topic; returns their message ids."""
        thread = self.topic_of(person)
        sent = []
        for _ in range(count):
            mark = f"to-{person.name}-a{len(person.answers) + len(person.undeliverable) + 1}"
            result = self.client.send_as_operator(
                self.group, thread, operator or self.operator, mark
            )
            sent.append(int(result["message_id"]))
            (person.answers if expect else person.undeliverable).append(mark)
            self.updates_in += 1
        return sent

    def reconfigure(self, function_output: str, environment: dict[str, str]) -> dict[str, str]:
        """Change a function's environment as ``update-function-configuration`` does: every
        environment is stopped once it is idle, and the next invocation starts a new one with
        the new settings. Returns the previous values (for restoring)."""
        return self.reconfigure_function(self.stage.outputs[function_output], environment)

    def reconfigure_function(self, function: str, environment: dict[str, str]) -> dict[str, str]:
        """``reconfigure`` for a function by its name."""
        pool = self.stage.runtime.pools[function]
        before = {name: pool.spec.environment.get(name, "") for name in environment}
        pool.spec.environment.update(environment)
        idle = [pool._idle.get(timeout=120) for _ in pool._all]
        try:
            for instance in idle:
                instance.stop()
        finally:
            for instance in idle:
                pool._idle.put(instance)
        return before

    @contextlib.contextmanager
    def settings(self, values: dict[str, str]) -> Iterator[None]:
        """The consumer's and the DLQ processor's environment changed for a while (as
        ``reconfigure`` does), then put back."""
        functions = (Output.CONSUMER_FUNCTION_NAME, Output.DLQ_PROCESSOR_FUNCTION_NAME)
        previous = {name: self.reconfigure(name, values) for name in functions}
        try:
            yield
        finally:
            for name, before in previous.items():
                self.reconfigure(name, before)

    def log_from_now(self, function_output: str) -> LogTail:
        """What a function logs from now on (its log file in the local runtime)."""
        pool = self.stage.runtime.pools[self.stage.outputs[function_output]]
        return LogTail(Path(pool.spec.log_path))

    def held_back(self, act: Callable[[], object]) -> list[dict[str, Any]]:
        """Run ``act`` with the webhook off and return the updates it produced, taken from
        Telegram with getUpdates (confirmed there); the caller feeds them on."""
        token = self.stage.telegram.token
        info = self.client.bot_api("getWebhookInfo", token=token)
        self.client.bot_api("deleteWebhook", token=token)
        act()
        updates: list[dict[str, Any]] = self.client.bot_api("getUpdates", token=token, timeout=0)
        if updates:
            self.client.bot_api("getUpdates", token=token, offset=updates[-1]["update_id"] + 1)
        self.client.bot_api(
            "setWebhook",
            token=token,
            url=info["url"],
            secret_token=self.stage.description["webhook_secret"],
            max_connections=40,
        )
        return updates

    def release(self, updates: list[dict[str, Any]]) -> None:
        """Hand held-back updates to the webhook, as Telegram would (with the secret)."""
        import urllib.request

        for update in updates:
            request = urllib.request.Request(  # noqa: S310 - the local webhook
                self.stage.description["webhook_url"],
                data=json.dumps(update).encode(),
                headers={
                    "content-type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": self.stage.description["webhook_secret"],
                },
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                assert answer.status == 200

    def enqueue(self, update: dict[str, Any], *, group: str, dedup: str) -> None:
        """Put an update straight on the updates queue (what the webhook does)."""
        client("sqs", self.aws).send_message(
            QueueUrl=self.stage.outputs[Output.UPDATES_QUEUE_URL],
            MessageBody=json.dumps(update),
            MessageGroupId=group,
            MessageDeduplicationId=dedup,
        )

    # ------------------------------------------------------------------ waiting

    def queues_empty(self) -> bool:
        sqs = client("sqs", self.aws)
        for url in (
            self.stage.outputs[Output.UPDATES_QUEUE_URL],
            self.stage.outputs[Output.DEAD_LETTER_QUEUE_URL],
        ):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ]
            if int(attributes["ApproximateNumberOfMessages"]) or int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            ):
                return False
        return True

    def settled(self) -> bool:
        return not self.client.pending_updates() and self.queues_empty()

    def wait_until(
        self, what: str, check: Callable[[], bool], timeout: float | None = None
    ) -> None:
        deadline = time.monotonic() + (timeout or self.deadline_seconds)
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.5)
        raise ScenarioTimeout(f"{what}: not within {timeout or self.deadline_seconds:.0f} s")

    def wait_quiet(self, timeout: float | None = None) -> None:
        """Until Telegram has nothing left to deliver and both queues stay empty a while."""
        deadline = time.monotonic() + (timeout or self.deadline_seconds)
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if self.settled():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= QUIET_SECONDS:
                    return
            else:
                quiet_since = None
            time.sleep(0.3)
        raise ScenarioTimeout(f"pipeline not quiet within {timeout or self.deadline_seconds:.0f} s")

    # ------------------------------------------------------------------ checking

    def dead_letters(self) -> list[dict[str, Any]]:
        table = client("dynamodb", self.aws)
        answer = table.query(
            TableName=self.stage.outputs[Output.DATA_TABLE_NAME],
            KeyConditionExpression=f"{DATA_TABLE.partition_key} = :pk",
            ExpressionAttributeValues={":pk": {"S": "DEAD"}},
        )
        return list(answer.get("Items", []))

    @staticmethod
    def archive_id(dead_letter: dict[str, Any]) -> str:
        """A dead letter's archive id (its sort key): what `ops dlq replay` takes."""
        _, sort_key = DATA_TABLE.keys
        return str(dead_letter[sort_key]["S"])

    def ops(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "ops", "--stage", "local", *args],
            cwd=ROOT,
            env={**os.environ, "TOPICDESK_LOCAL_DIR": str(STATE_DIR)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def check(self, people: list[Person]) -> tuple[ChatCheck, int]:
        """Both directions for ``people``; returns the totals and how many undeliverable
        answers were *not* reported to the operators (those count as lost)."""
        checks = []
        unreported = 0
        dropped = dropped_answers(self.client.calls())
        topics = self.client.topics(self.group)
        for person in people:
            topic = [
                m
                for topic in topics
                if topic_is(topic, person.name)
                # A deleted topic's messages were delivered before an operator deleted them.
                for m in self.client.transcript(
                    self.group, int(topic["message_thread_id"]), include_deleted=True
                )
            ]
            chat = self.client.transcript(person.user_id)
            for expected, where, messages in (
                (person.sent, self.group, topic),
                (person.answers, person.user_id, chat),
            ):
                observed = [mark_of(m) for m in messages]
                flags = [(where, int(m["message_id"])) in dropped for m in messages]
                check = check_chat(expected, observed, flags)
                checks.append(check)
                if check.lost or check.duplicated or check.reordered or check.in_doubt:
                    # The evidence, for whoever investigates (stderr keeps the table clean).
                    shown = [t for t in observed if t in set(expected)]
                    print(f"  {person.name}: expected {expected} saw {shown}", file=sys.stderr)
            notes = [t for t in map(mark_of, topic) if t.startswith("⚠️ Not delivered")]
            unreported += max(0, len(person.undeliverable) - len(notes))
        return total(checks), unreported


@dataclass
class LogTail:
    """A function's JSON log lines written after ``offset`` (Powertools' lines and its EMF
    metrics, which the local runtime writes to the function's log file)."""

    path: Path
    offset: int = -1

    def __post_init__(self) -> None:
        if self.offset < 0:
            self.offset = self.path.stat().st_size if self.path.exists() else 0

    def lines(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as log:
            log.seek(self.offset)
            raw = log.read().decode(errors="replace")
        out = []
        for line in raw.splitlines():
            with contextlib.suppress(ValueError):
                item = json.loads(line)
                if isinstance(item, dict):
                    out.append(item)
        return out

    def metric(self, name: str) -> float:
        """The sum of an EMF metric's values in those lines."""
        total = 0.0
        for line in self.lines():
            values = line.get(name)
            if "_aws" in line and values is not None:
                total += sum(values) if isinstance(values, list) else float(values)
        return total


class ReceiveCounter:
    """The highest ApproximateReceiveCount the local runtime's pollers were handed, per queue
    (read from their own ReceiveMessage answers: a hook on the runtime's SQS client, so nothing
    is received twice to measure it)."""

    def __init__(self, sqs: Any) -> None:
        self._lock = threading.Lock()
        self.highest: dict[str, int] = {}
        sqs.meta.events.register("provide-client-params.sqs.ReceiveMessage", self._note_queue)
        sqs.meta.events.register("after-call.sqs.ReceiveMessage", self._note_counts)

    @staticmethod
    def _note_queue(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["reliability_queue"] = params.get("QueueUrl", "")

    def _note_counts(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        queue = str(context.get("reliability_queue", "")).rsplit("/", 1)[-1]
        counts = receive_counts(parsed)
        if counts:
            with self._lock:
                self.highest[queue] = max(self.highest.get(queue, 0), *counts)

    def reset(self) -> None:
        with self._lock:
            self.highest.clear()


class Outcome(NamedTuple):
    """What a scenario body hands back: whom the checker compares, and what else it found."""

    people: list[Person]
    notes: str = ""
    lost: int = 0
    """Losses the per-chat checker cannot see (a missing note or greeting)."""
    duplicated: int = 0
    problems: int = 0


def scenario(title: str) -> Callable[[Callable[[Harness], Outcome]], Callable[[Harness], Row]]:
    """A scenario's bookkeeping, written once: the clock and the dead letters before its body,
    the one checker over the people it names after it."""

    def wrap(body: Callable[[Harness], Outcome]) -> Callable[[Harness], Row]:
        @functools.wraps(body)
        def run(h: Harness) -> Row:
            started, dead = time.monotonic(), len(h.dead_letters())
            outcome = body(h)
            result = row(h, title, outcome.people, started, dead_before=dead, notes=outcome.notes)
            result.lost += outcome.lost
            result.duplicated += outcome.duplicated
            result.problems += outcome.problems
            return result

        return run

    return wrap


def row(
    harness: Harness,
    scenario: str,
    people: list[Person],
    started: float,
    *,
    dead_before: int,
    notes: str = "",
) -> Row:
    totals, unreported = harness.check(people)
    return Row(
        scenario=scenario,
        updates_in=harness.updates_in,
        delivered=totals.delivered,
        lost=totals.lost + unreported,
        duplicated=totals.duplicated,
        reordered=totals.reordered,
        in_doubt=totals.in_doubt,
        dead_lettered=len(harness.dead_letters()) - dead_before + harness.replayed,
        replayed=harness.replayed,
        undeliverable=sum(len(p.undeliverable) for p in people) - unreported,
        seconds=time.monotonic() - started,
        notes=notes,
    )


def dumps(rows: list[Row]) -> str:
    return json.dumps([r.__dict__ for r in rows], indent=2)
