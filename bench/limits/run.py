"""``python -m bench.limits`` (``make bench-limits``): Telegram's flood limits under load, with
Topicdesk's shared limiter and with python-telegram-bot's ``AIORateLimiter``.

Phase 1, the broadcasts (a), one run at a time (they are CPU-bound: every delivery is several
DynamoDB calls on one moto server), on one emulator whose N people are seeded once.
Phase 2, (b) then (c), every (limiter, K) lane side by side, each on its own emulator (its own
bot and limits), released together by a barrier: these runs wait on the group's 20/min, not
on the CPU.

stdout: the table (Markdown), then as the last line
``limits: topicdesk_rate=<min fraction, largest K> topicdesk_429=<total> baseline_429=<total>``.
Progress goes to stderr; logs of the consumers and emulators to ``.local/bench-limits/``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from bench.limits.checks import Row, scopes, summary, table
from bench.limits.consumer import BASELINE, TOPICDESK
from bench.limits.scenarios import (
    BroadcastWorld,
    Lane,
    broadcast,
    chatty,
    crowd,
    note,
)
from bench.limits.world import ROOT, Aws, Emulator
from devkit.moto import MotoServer, start_server

LOGS = ROOT / ".local" / "bench-limits"
LIMITERS = {"topicdesk": TOPICDESK, "baseline": BASELINE}


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.limits", description=__doc__)
    parser.add_argument("--k", type=_ints, default=[1, 4, 16], help="consumer counts (1,4,16)")
    parser.add_argument(
        "--scenarios", default="abc", help="which of a (broadcast), b (crowd), c (chatty)"
    )
    parser.add_argument(
        "--limiters",
        default="topicdesk,baseline",
        help="topicdesk and/or baseline (PTB's AIORateLimiter)",
    )
    parser.add_argument("--chats", type=int, default=3000, help="(a) broadcast recipients")
    parser.add_argument("--people", type=int, default=60, help="(b) people writing at once")
    parser.add_argument("--messages", type=int, default=100, help="(c) one person's messages")
    parser.add_argument(
        "--broadcast-scale",
        type=float,
        default=0.5,
        help="(a) limits factor for the emulator, Topicdesk and AIORateLimiter alike",
    )
    parser.add_argument(
        "--crowd-scale", type=float, default=5.0, help="(b) limits factor, likewise"
    )
    parser.add_argument(
        "--chatty-scale",
        type=float,
        default=5.0,
        help="(c) limits factor, likewise (strict counting: a copyMessages of 10 spends 10"
        " units, so a batch of 10 has 10 intervals for moto's bookkeeping, 6.3 s at 5x)",
    )
    parser.add_argument(
        "--slack",
        type=float,
        default=2.0,
        help="deadline of a run: slack x its time at exactly the limit, plus 30 s",
    )
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set("abc")
    if unknown:
        parser.error(f"unknown scenarios: {''.join(sorted(unknown))}")
    args.limiters = [name.strip() for name in args.limiters.split(",") if name.strip()]
    for name in args.limiters:
        if name not in LIMITERS:
            parser.error(f"unknown limiter {name!r} (topicdesk, baseline)")
    return args


@contextlib.contextmanager
def _motos(count: int, label: str) -> Iterator[list[Aws]]:
    """One moto server per lane: lanes side by side share no interpreter lock."""
    servers: list[MotoServer] = []
    try:
        for index in range(count):
            server = start_server(log_path=LOGS / f"moto-{label}-{index}.log", speed=True)
            servers.append(server)
            note(f"moto {label}-{index} on {server.endpoint} (pid {server.pid})")
        yield [Aws.connect(server.endpoint, server.pid) for server in servers]
    finally:
        for server in servers:
            server.stop()


@contextlib.contextmanager
def _emulators(scale: float, count: int, label: str) -> Iterator[list[Emulator]]:
    started: list[Emulator] = []
    try:
        for index in range(count):
            emulator = Emulator(scale, log_path=LOGS / f"emulator-{label}-{index}.log")
            started.append(emulator)
        yield started
    finally:
        for emulator in started:
            emulator.stop()


def _deadline(args: argparse.Namespace, seconds_at_limit: float) -> float:
    return float(args.slack) * seconds_at_limit + 30.0


def broadcast_seconds(chats: int, scale: float) -> float:
    """(a) at exactly the limits: every chat at the bot's 30/s, and the broadcast's ten notes
    into the group (progress every 10 %, the final report) at its 20/min: with few chats the
    notes queued on the group's key outlast the deliveries."""
    return chats / (30.0 * scale) + 10 * 60 / (20.0 * scale)


def crowd_seconds(people: int, scale: float) -> float:
    """(b) at exactly the group's limit: topic creation + contact card + the message, three
    units of the group's 20/min per person."""
    return 3 * people / (20.0 * scale) * 60


def chatty_seconds(messages: int, scale: float) -> float:
    """(c) at exactly the group's limit: topic creation + contact card + every message, one
    unit each (strict counting: a copyMessages of 10 spends 10 units, not one)."""
    return (messages + 2) / (20.0 * scale) * 60


def _broadcasts(args: argparse.Namespace, aws: Aws) -> list[Row]:
    rows: list[Row] = []
    scale = args.broadcast_scale
    with _emulators(scale, 1, "a") as (emulator,):
        started = time.monotonic()
        world = BroadcastWorld.seed(aws, emulator, args.chats)
        note(f"(a) {args.chats} people seeded in {time.monotonic() - started:.1f} s")
        deadline = _deadline(args, broadcast_seconds(args.chats, scale))
        for k in args.k:
            for limiter in args.limiters:
                lane = Lane(LIMITERS[limiter], k, emulator, aws, LOGS)
                note(f"(a) {lane.name}: starting (deadline {deadline:.0f} s)")
                row = broadcast(lane, world, scale=scale, deadline=deadline)
                note(f"(a) {lane.name}: {row.delivered}/{row.expected} in {row.elapsed:.1f} s")
                rows.append(row)
                time.sleep(1.5)  # the bot's 1-second window empties before the next run
    return rows


Runner = Callable[[Lane, Callable[[], None]], Row]
Task = tuple[Lane, Runner, str]


def _side_by_side(tasks: Sequence[Task]) -> list[Row]:
    """Run every task in its own thread; all are released together by one barrier (after
    every task's consumers are warm)."""
    barrier = threading.Barrier(len(tasks))
    rows: dict[int, Row] = {}
    failures: list[BaseException] = []

    def gate() -> None:
        barrier.wait(timeout=600)

    def one(index: int, lane: Lane, run: Runner, label: str) -> None:
        try:
            row = rows[index] = run(lane, gate)
            note(f"{label} {lane.name}: {row.delivered}/{row.expected} in {row.elapsed:.1f} s")
        except BaseException as error:
            failures.append(error)
            barrier.abort()

    threads = [
        threading.Thread(target=one, args=(index, *task), name=f"lane-{task[2]}-{task[0].name}")
        for index, task in enumerate(tasks)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return [rows[index] for index in sorted(rows)]


def _conversations(args: argparse.Namespace) -> list[Row]:
    """(b) and (c), one round per K: in a round, every (scenario, limiter) lane side by side,
    each on its own moto server and emulator (so no lane's DynamoDB or flood limits are
    another's); they wait on a group's pace. Every K at once (12 lanes, 80-odd consumer
    processes on two cores) starved moto until invocations ran into their timeout."""
    rows: list[Row] = []
    for k in args.k:
        rows += _conversations_at(args, [(limiter, k) for limiter in args.limiters])
    return rows


def _conversations_at(args: argparse.Namespace, pairs: list[tuple[str, int]]) -> list[Row]:
    crowd_on, chatty_on = "b" in args.scenarios, "c" in args.scenarios
    b_scale, c_scale = args.crowd_scale, args.chatty_scale
    b_deadline = _deadline(args, crowd_seconds(args.people, b_scale))
    c_deadline = _deadline(args, chatty_seconds(args.messages, c_scale))
    b_count = len(pairs) if crowd_on else 0
    c_count = len(pairs) if chatty_on else 0
    with (
        _motos(b_count, "b") as b_clouds,
        _motos(c_count, "c") as c_clouds,
        _emulators(b_scale, b_count, "b") as b_emulators,
        _emulators(c_scale, c_count, "c") as c_emulators,
    ):
        tasks: list[Task] = []
        for index, (limiter, k) in enumerate(pairs):
            if crowd_on:
                lane = Lane(LIMITERS[limiter], k, b_emulators[index], b_clouds[index], LOGS)
                tasks.append(
                    (
                        lane,
                        lambda lane, gate: crowd(
                            lane, people=args.people, scale=b_scale, deadline=b_deadline, gate=gate
                        ),
                        "(b)",
                    )
                )
            if chatty_on:
                lane = Lane(LIMITERS[limiter], k, c_emulators[index], c_clouds[index], LOGS)
                tasks.append(
                    (
                        lane,
                        lambda lane, gate: chatty(
                            lane,
                            messages=args.messages,
                            scale=c_scale,
                            deadline=c_deadline,
                            gate=gate,
                        ),
                        "(c)",
                    )
                )
        note(
            f"(b), (c): {len(tasks)} lanes side by side "
            f"(deadlines {b_deadline:.0f} s, {c_deadline:.0f} s)"
        )
        return _side_by_side(tasks)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    LOGS.mkdir(parents=True, exist_ok=True)
    command = "python -m bench.limits" + (" " + shlex.join(argv) if argv else "")
    load_before = os.getloadavg()
    started = time.monotonic()
    rows: list[Row] = []
    if "a" in args.scenarios:
        with _motos(1, "a") as (aws,):
            rows += _broadcasts(args, aws)
    if "b" in args.scenarios or "c" in args.scenarios:
        rows += _conversations(args)
    wall = time.monotonic() - started
    load_after = os.getloadavg()
    order = {"a": 0, "b": 1, "c": 2}
    rows.sort(key=lambda r: (order[r.scenario], r.k, r.limiter != TOPICDESK))
    print(f"# {command}")
    print(
        f"# chats={args.chats} people={args.people} messages={args.messages} "
        f"scales: a={args.broadcast_scale:g}x b={args.crowd_scale:g}x c={args.chatty_scale:g}x "
        f"wall={wall:.0f}s"
    )
    print(
        f"# machine: {os.cpu_count()} cores; load average (1 min) {load_before[0]:.1f} at the"
        f" start, {load_after[0]:.1f} at the end"
    )
    for line in table(rows):
        print(line)
    problems = [
        f"{r.scenario} {r.limiter} K={r.k}: lost={r.delivery.lost} "
        f"duplicated={r.delivery.duplicated} reordered={r.delivery.reordered} "
        f"dead-lettered={r.dead_lettered}"
        + (" (queue not empty at the deadline)" if r.timed_out else "")
        for r in rows
        if not r.delivery.ok or r.dead_lettered or r.timed_out
    ]
    for problem in problems:
        print(f"# not clean: {problem}")
    for r in rows:
        if r.cpu:
            used = ", ".join(f"{who} {cores:.2f}" for who, cores in r.cpu.items())
            print(f"# {r.scenario} {r.limiter} K={r.k}: cores used: {used} (of {os.cpu_count()})")
    for r in rows:
        if r.calls_rate is not None:
            print(
                f"# {r.scenario} {r.limiter} K={r.k}: every call into the group, createForumTopic"
                f" included: {r.calls_rate * 60:.1f}/min = {r.calls_rate / r.limit:.2f} of the"
                " limit"
            )
    for r in rows:
        if r.rejected_429 or r.violations:
            print(
                f"# {r.scenario} {r.limiter} K={r.k}: 429s by scope: {scopes(r.rejected_by_scope)};"
                f" violations by scope: {scopes(r.violations_by_scope)}"
            )
    print(summary(rows), flush=True)
    return 0


def entry() -> int:
    return main(sys.argv[1:])
