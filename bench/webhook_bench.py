"""``make bench``: Topicdesk's webhook and consumer against a naive inline webhook, same run.

1. Webhook cold import: each module imported in fresh interpreters (``--import-runs`` each,
   interleaved, after one discarded warm-up), median of wall time and of memory, memory being
   the growth of the process's own peak RSS (``VmHWM`` in ``/proc/self/status``) across the
   import.
2. Webhook latency per request: ``--requests`` real updates (written by emulated people) posted
   as Function URL events; Topicdesk's handler enqueues to SQS on moto in-process, the naive
   handler runs PTB and one ``copyMessage`` against the Bot API emulator (its own process, on
   loopback). The first request of each (container init) is reported apart; p50/p99 over the
   rest. moto's own work (the AWS side) is inside Topicdesk's numbers and also shown removed.
3. CPU per update (``time.process_time``): Topicdesk's consumer handler driven with SQS batches
   from the queue the webhook filled (as Lambda's event source mapping does), minus the CPU
   moto spends playing AWS; the naive handler's CPU for the same updates.
4. Cost per million updates from what was counted (see ``bench.cost`` for prices and
   assumptions) - DynamoDB request units and SQS requests as the code really made them.

Everything runs on loopback, bounded by the request counts; the emulator is stopped by its pid.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.cost import (
    ASSUMED_RTT_MS,
    FLOOR_TARGET_RATIO,
    PRICES_AS_OF,
    PRICES_REGION,
    LambdaUse,
    UpdateCost,
    billed_ms,
    floor_cost,
)
from bench.meter import WRITE_OPERATIONS, AwsMeter, Usage, max_item_bytes
from bench.world import BASE_ENV, ROOT, WEBHOOK_SECRET, Emulator, emulator_process, moto_world
from devkit.moto.sqs import empty_queue
from devkit.processes import run_python
from infra.definitions import CONSUMER, WEBHOOK

TOPICDESK_WEBHOOK = "topicdesk.handlers.webhook"
NAIVE_WEBHOOK = "bench.naive_webhook"
WEBHOOK_MEMORY_MB = WEBHOOK.memory_size
CONSUMER_MEMORY_MB = CONSUMER.memory_size
CONSUMER_MEMORY_CHOICES_MB = (256, 512, 1024)
"""The consumer's memory sizes whose cost the report prints beside the deployed one."""

# Memory is the growth of the child's own peak RSS (VmHWM, per process image). Not ru_maxrss:
# Linux keeps it across exec, so a child starts at its parent's peak (about 40 MiB here) and
# ru_maxrss growth measured only what went past the parent's peak.
_IMPORT_PROBE = """
import importlib, json, sys, time
def peak_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
before = peak_kib()
start = time.perf_counter()
importlib.import_module(sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rss_kib": peak_kib() - before}))
"""


# --------------------------------------------------------------------------- helpers


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in (0, 1])."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send fd 1 (Powertools' log lines and EMF metrics) to /dev/null for a measurement; the
    writes still happen, as they would to Lambda's log pipe."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


_STARTED = time.perf_counter()


def note(text: str) -> None:
    print(f"[bench {time.perf_counter() - _STARTED:5.1f} s] {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- 1. imports


@dataclass(frozen=True)
class ImportCost:
    seconds: float
    rss_mib: float


def measure_imports(modules: list[str], runs: int) -> dict[str, ImportCost]:
    env = {
        **os.environ,
        **BASE_ENV,
        "PYTHONPATH": str(ROOT),  # bench's probe; topicdesk is installed (pip install -e .)
        "PYTHONDONTWRITEBYTECODE": "",
    }
    samples: dict[str, list[dict[str, float]]] = {m: [] for m in modules}
    for run in range(runs + 1):  # run 0 warms the page cache and the .pyc files
        for module in modules:
            done = run_python(
                "-c", _IMPORT_PROBE, module, cwd=ROOT, env=env, timeout=120, check=True
            )
            if run:
                samples[module].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {
        module: ImportCost(
            seconds=statistics.median(s["seconds"] for s in runs_of),
            rss_mib=statistics.median(s["rss_kib"] for s in runs_of) / 1024.0,
        )
        for module, runs_of in samples.items()
    }


# --------------------------------------------------------------------------- workload


def telegram_calls(emulator: Emulator) -> Counter[str]:
    """Bot API calls the emulator has answered so far, by method."""
    by_method: dict[str, int] = emulator.client.stats()["calls_by_method"]
    return Counter(by_method)


def seed(emulator: Emulator, *, people: int, messages: int) -> tuple[int, list[dict[str, Any]]]:
    """An operators' forum group, ``people`` who started the bot, and ``messages`` texts from
    them (round robin); returns the group id and the updates Telegram would POST."""
    client = emulator.client
    group = client.create_forum_group("Support", operator_names=["Olga"])
    users = [
        int(client.create_user(f"Person{i}", "Bench", f"person{i}", started=True)["user_id"])
        for i in range(people)
    ]
    for i in range(messages):
        client.send_as_user(users[i % people], f"Hello, this is message {i}: my order is late.")
    updates: list[dict[str, Any]] = []
    offset = 0
    while len(updates) < messages:
        batch = client.bot_api("getUpdates", offset=offset, limit=100, timeout=0)
        if not batch:
            break
        updates.extend(batch)
        offset = batch[-1]["update_id"] + 1
    return int(group["chat_id"]), updates


def webhook_events(updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from devkit.lambda_runtime import function_url_event

    headers = {
        "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
        "content-type": "application/json",
        "user-agent": "TelegramBot (like TwitterBot)",
    }
    return [
        function_url_event(
            method="POST", body=json.dumps(u), headers=headers, source_ip="91.108.6.1"
        )
        for u in updates
    ]


# --------------------------------------------------------------------------- 2. latency


@dataclass
class Latency:
    first_ms: float
    wall_ms: list[float] = field(default_factory=list)
    """Per request after the first."""
    own_ms: list[float] = field(default_factory=list)
    """The same, minus moto's work (equal to wall_ms when no moto is involved)."""
    cpu_seconds: float = 0.0
    """process_time over the requests after the first, minus moto's CPU."""
    statuses: Counter[int] = field(default_factory=Counter)
    usage: Usage = field(default_factory=Usage)

    @property
    def p50(self) -> float:
        return percentile(self.wall_ms, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.wall_ms, 0.99)

    @property
    def own_mean(self) -> float:
        return statistics.fmean(self.own_ms)


@dataclass
class Side:
    """One webhook under test: its handler, its Lambda context, what it is measured into."""

    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    context: Any
    usage: Usage
    """The meter's running usage (a fresh, never-moving ``Usage`` when there is no moto)."""
    latency: Latency | None = None
    spent: Usage = field(default_factory=Usage)

    def call(self, event: dict[str, Any]) -> float:
        before, cpu = self.usage.copy(), time.process_time()
        started = time.perf_counter()
        answer = self.handler(event, self.context)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        delta = self.usage.minus(before)
        self.spent.add(delta)
        status = int(answer["statusCode"])
        if self.latency is None:
            self.latency = Latency(first_ms=wall * 1000)
        else:
            self.latency.wall_ms.append(wall * 1000)
            self.latency.own_ms.append((wall - delta.server_wall_seconds) * 1000)
            self.latency.cpu_seconds += cpu - delta.server_cpu_seconds
        self.latency.statuses[status] += 1
        return wall


def drive(
    sides: list[Side],
    events: list[dict[str, Any]],
    *,
    every: int = 100,
    between: Callable[[], None] | None = None,
) -> list[Latency]:
    """Post every event to every side, interleaved (the order alternating per event) so both
    see the same machine; ``between`` runs after each ``every`` events, outside the clocks
    and outside the usage counted for the handlers. A side's first request is its init."""
    with quiet():
        for index, event in enumerate(events):
            if between is not None and index and index % every == 0:
                between()
            for side in sides if index % 2 == 0 else reversed(sides):
                side.call(event)
    latencies = []
    for side in sides:
        assert side.latency is not None
        side.latency.usage = side.spent
        latencies.append(side.latency)
    return latencies


# --------------------------------------------------------------------------- 3. consumer


@dataclass
class ConsumerRun:
    init_ms: float
    updates: int = 0
    failed: int = 0
    invocations: int = 0
    cpu_seconds: float = 0.0
    """Inside the handler, minus moto's CPU."""
    own_wall_seconds: float = 0.0
    """Inside the handler, minus moto's wall time."""
    usage: Usage = field(default_factory=Usage)
    handler_usage: Usage = field(default_factory=Usage)
    telegram_calls: Counter[str] = field(default_factory=Counter)


@contextlib.contextmanager
def telegram_round_trips(emulator: Emulator) -> Iterator[None]:
    """The Bot API answers after the assumed round trip (the emulator's latency fault) while
    the consumers run: their billed time then holds their Telegram waits as they really
    overlap (or not), instead of a round trip added per call afterwards."""
    emulator.client.set_fault(latency=ASSUMED_RTT_MS["telegram"] / 1000, times=None)
    try:
        yield
    finally:
        emulator.client.clear_faults()


def consumer_billed_ms(run: ConsumerRun, memory_mb: int = CONSUMER_MEMORY_MB) -> float:
    """One consumer invocation's billed ms: its own wall time (Telegram's round trips
    included, ``telegram_round_trips``), its CPU at the function's share of a vCPU, and the
    AWS round trips moto does not take (boto3 blocks the event loop: they add up)."""
    invocations = max(run.invocations, 1)
    return billed_ms(
        run.own_wall_seconds * 1000 / invocations,
        run.cpu_seconds * 1000 / invocations,
        memory_mb,
        aws_rtt_ms(run.handler_usage, invocations),
    )


def run_consumer(world: Any, meter: AwsMeter, emulator: Emulator, limit: int) -> ConsumerRun:
    from topicdesk.handlers import consumer

    from devkit.lambda_runtime import SqsEventSource

    with quiet():
        started = time.perf_counter()
        consumer.runtime()  # container init: PTB Application, adapters, the secret
        run = ConsumerRun(init_ms=(time.perf_counter() - started) * 1000)
    handler_usage = Usage()

    def metered(event: dict[str, Any], context: Any) -> dict[str, Any]:
        before = meter.usage.copy()
        cpu, wall = time.process_time(), time.perf_counter()
        answer: dict[str, Any] = consumer.handler(event, context)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        spent = meter.usage.minus(before)
        run.cpu_seconds += cpu - spent.server_cpu_seconds
        run.own_wall_seconds += wall - spent.server_wall_seconds
        run.invocations += 1
        handler_usage.add(spent)
        return answer

    source = SqsEventSource(
        sqs=world.sqs,
        queue_url=world.updates_url,
        queue_arn=world.updates_arn,
        handler=metered,
        function_name="consumer",
        timeout_seconds=900,
    )
    telegram_before = telegram_calls(emulator)
    start_usage = meter.usage.copy()
    with quiet():
        while run.updates < limit:
            outcome = source.poll_once()
            if outcome.received == 0:
                break
            run.updates += outcome.succeeded
            run.failed += outcome.failed
    run.usage = meter.usage.minus(start_usage)
    run.handler_usage = handler_usage
    telegram_after = telegram_calls(emulator)
    telegram_after.subtract(telegram_before)
    run.telegram_calls = +telegram_after
    return run


# --------------------------------------------------------------------------- report


def ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.2f}" if baseline else "-"


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("metric", "topicdesk", "baseline", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]

    def line(cells: tuple[str, str, str, str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join([first, *rest]) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    rule = rule[: widths[0] + 3] + rule[widths[0] + 3 :].replace("-|", ":|")
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def telegram_rtt_ms(calls: float) -> float:
    return calls * ASSUMED_RTT_MS["telegram"]


def aws_rtt_ms(usage: Usage, per: float) -> float:
    return sum(usage.count(service) * ASSUMED_RTT_MS[service] for service in ASSUMED_RTT_MS) / per


@dataclass(frozen=True)
class Options:
    requests: int
    consumer_updates: int
    people: int
    import_runs: int


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="webhook requests per side")
    parser.add_argument(
        "--consumer-updates", type=int, default=300, help="updates the consumer processes"
    )
    parser.add_argument("--people", type=int, default=30, help="people writing (FIFO groups)")
    parser.add_argument("--import-runs", type=int, default=5, help="fresh interpreters each")
    args = parser.parse_args(argv)
    if args.requests < 10 or args.consumer_updates < 1 or args.people < 1 or args.import_runs < 1:
        parser.error("counts too small")
    return Options(
        args.requests, min(args.consumer_updates, args.requests), args.people, args.import_runs
    )


def main(argv: list[str] | None = None) -> int:
    from bench import widget_bench  # it builds on this module's helpers

    options = parse(argv)
    os.environ.update(BASE_ENV)
    began = time.perf_counter()

    note(f"cold imports ({options.import_runs} fresh interpreters each)...")
    imports = measure_imports([TOPICDESK_WEBHOOK, NAIVE_WEBHOOK], options.import_runs)

    with emulator_process() as emulator:
        note(f"seeding the emulator: {options.people} people, {options.requests} messages...")
        group_id, updates = seed(emulator, people=options.people, messages=options.requests)
        events = webhook_events(updates)
        meter = AwsMeter()
        with (
            meter.installed(),
            moto_world(
                bot_token=emulator.token, operator_chat_id=group_id, api_url=emulator.base_url
            ) as world,
        ):
            os.environ.update(world.env)
            os.environ.update(widget_bench.widget_environment(world, group_id))
            from aws_lambda_powertools.utilities import parameters
            from topicdesk.handlers import webhook

            from devkit.lambda_runtime import FakeLambdaContext

            parameters.clear_caches()  # type: ignore[no-untyped-call]
            webhook.service.cache_clear()
            os.environ.update(
                NAIVE_BOT_TOKEN=emulator.token,
                OPERATOR_CHAT_ID=str(group_id),
                NAIVE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            )
            from bench import naive_webhook

            note(
                f"webhooks: {len(events)} requests each, interleaved - Topicdesk's to SQS on "
                "moto, the naive one through PTB and copyMessage to the emulator..."
            )
            context = FakeLambdaContext("webhook", memory_limit_in_mb=WEBHOOK_MEMORY_MB)
            telegram_before = telegram_calls(emulator)
            ours, naive = drive(
                [
                    Side(webhook.handler, context, meter.usage),
                    Side(naive_webhook.handler, FakeLambdaContext("naive"), Usage()),
                ],
                events,
                between=lambda: empty_queue(world.sqs, world.updates_url),
            )
            telegram_after = telegram_calls(emulator)
            telegram_after.subtract(telegram_before)
            naive_telegram = sum((+telegram_after).values()) / len(events)
            naive_webhook.bot().close()
            empty_queue(world.sqs, world.updates_url)
            with quiet():  # the consumer's input, queued again by the webhook (not measured)
                for event in events[: options.consumer_updates]:
                    webhook.handler(event, context)
            note(
                f"topicdesk consumer: {options.consumer_updates} updates, each Bot API call "
                f"answered after {ASSUMED_RTT_MS['telegram']:.0f} ms..."
            )
            with telegram_round_trips(emulator):
                consumed = run_consumer(world, meter, emulator, options.consumer_updates)
                note("widget path: edge, consumer, answers pushed...")
                widget_run = widget_bench.run(world, meter, emulator, group_id)
            item_bytes = max(max_item_bytes(world.dynamodb, t) for t in world.tables)
            limits_table = world.tables[1]
        internal = emulator.client.stats()["internal_errors"]

    note(f"emulator internal errors: {internal}; took {time.perf_counter() - began:.0f} s")
    bad = {k: v for k, v in (ours.statuses + naive.statuses).items() if k != 200}
    if bad or consumed.failed or internal:
        note(f"unexpected: statuses {bad}, consumer failures {consumed.failed}")
    print(
        report(options, imports, ours, consumed, naive, naive_telegram, item_bytes, limits_table),
        flush=True,
    )
    print(widget_bench.report(widget_run), flush=True)
    return 1 if bad or consumed.failed or internal else 0


def report(
    options: Options,
    imports: dict[str, ImportCost],
    ours: Latency,
    consumed: ConsumerRun,
    naive: Latency,
    naive_telegram_per_update: float,
    item_bytes: int,
    limits_table: str,
) -> str:
    ours_import, naive_import = imports[TOPICDESK_WEBHOOK], imports[NAIVE_WEBHOOK]
    n = len(ours.wall_ms)
    updates = max(consumed.updates, 1)
    ours_cpu = consumed.cpu_seconds / updates * 1000
    naive_cpu = naive.cpu_seconds / len(naive.wall_ms) * 1000
    telegram_per_update = sum(consumed.telegram_calls.values()) / updates

    webhook_requests = n + 1
    webhook_ms = billed_ms(
        ours.own_mean,
        ours.cpu_seconds * 1000 / n,
        WEBHOOK_MEMORY_MB,
        aws_rtt_ms(ours.usage, webhook_requests),
    )
    consumer_ms = consumer_billed_ms(consumed)

    def cost_at(consumer_memory_mb: int) -> UpdateCost:
        return UpdateCost(
            functions=(
                LambdaUse(1.0, webhook_ms, WEBHOOK_MEMORY_MB),
                LambdaUse(
                    consumed.invocations / updates,
                    consumer_billed_ms(consumed, consumer_memory_mb),
                    consumer_memory_mb,
                ),
            ),
            sqs_requests=ours.usage.sqs_billed_requests / webhook_requests
            + consumed.usage.sqs_billed_requests / updates,
            dynamodb_read_units=consumed.usage.dynamodb_read_units / updates,
            dynamodb_write_units=consumed.usage.dynamodb_write_units / updates,
            secrets_manager_calls=(
                ours.usage.count("secrets-manager") + consumed.usage.count("secrets-manager")
            )
            / updates,
        )

    ours_cost = cost_at(CONSUMER_MEMORY_MB)
    naive_ms = billed_ms(
        statistics.fmean(naive.wall_ms),
        naive_cpu,
        WEBHOOK_MEMORY_MB,
        telegram_rtt_ms(naive_telegram_per_update),
    )
    naive_cost = UpdateCost(
        functions=(LambdaUse(1.0, naive_ms, WEBHOOK_MEMORY_MB),),
        sqs_requests=0.0,
        dynamodb_read_units=0.0,
        dynamodb_write_units=0.0,
    )
    cost, naive_usd = ours_cost.usd_per_million(), naive_cost.usd_per_million()
    floor_usd = floor_cost(
        ours_cost.sqs_requests, tuple(f.invocations_per_update for f in ours_cost.functions)
    ).usd_per_million()
    limiter_writes = sum(
        count
        for name, count in consumed.usage.dynamodb_by_table.items()
        if name.split(" ")[0] in WRITE_OPERATIONS and name.endswith(f" {limits_table}")
    )
    limiter_writes_per_call = limiter_writes / max(telegram_per_update * updates, 1)
    breakdown = ", ".join(f"{k} {v:.2f}" for k, v in ours_cost.breakdown_per_million().items())

    def ms(value: float) -> str:
        return f"{value:.2f}"

    rows = [
        (
            "webhook cold import, ms (median)",
            ms(ours_import.seconds * 1000),
            ms(naive_import.seconds * 1000),
            ratio(ours_import.seconds, naive_import.seconds),
        ),
        (
            "webhook import memory, MiB (peak-RSS growth, median)",
            f"{ours_import.rss_mib:.1f}",
            f"{naive_import.rss_mib:.1f}",
            ratio(ours_import.rss_mib, naive_import.rss_mib),
        ),
        (
            "webhook first request (init), ms",
            ms(ours.first_ms),
            ms(naive.first_ms),
            ratio(ours.first_ms, naive.first_ms),
        ),
        (
            f"webhook p50 latency, ms (n={n})",
            ms(ours.p50),
            ms(naive.p50),
            ratio(ours.p50, naive.p50),
        ),
        (
            f"webhook p99 latency, ms (n={n})",
            ms(ours.p99),
            ms(naive.p99),
            ratio(ours.p99, naive.p99),
        ),
        (
            "webhook p99 without moto's own work, ms",
            ms(percentile(ours.own_ms, 0.99)),
            ms(naive.p99),
            ratio(percentile(ours.own_ms, 0.99), naive.p99),
        ),
        (
            f"CPU per update, ms (consumer, n={consumed.updates} / inline)",
            ms(ours_cpu),
            ms(naive_cpu),
            ratio(ours_cpu, naive_cpu),
        ),
        (
            "webhook CPU per request, ms",
            ms(ours.cpu_seconds / n * 1000),
            ms(naive_cpu),
            ratio(ours.cpu_seconds / n, naive_cpu / 1000),
        ),
        (
            "Telegram calls per update",
            f"{telegram_per_update:.2f}",
            f"{naive_telegram_per_update:.2f}",
            ratio(telegram_per_update, naive_telegram_per_update),
        ),
        (
            "DynamoDB RRU / WRU per update",
            f"{ours_cost.dynamodb_read_units:.2f} / {ours_cost.dynamodb_write_units:.2f}",
            "0 / 0",
            "-",
        ),
        ("SQS billed requests per update", f"{ours_cost.sqs_requests:.2f}", "0", "-"),
        (
            "Lambda billed ms per update (model)",
            ms(webhook_ms + consumer_ms * consumed.invocations / updates),
            ms(naive_ms),
            ratio(webhook_ms + consumer_ms * consumed.invocations / updates, naive_ms),
        ),
        (
            f"cost per million updates, USD ({PRICES_REGION})",
            f"{cost:.2f}",
            f"{naive_usd:.2f}",
            ratio(cost, naive_usd),
        ),
        (
            "architecture floor, USD per million (SQS + Lambda requests only)",
            f"{cost:.2f}",
            f"{floor_usd:.2f}",
            f"{ratio(cost, floor_usd)} (target <= {FLOOR_TARGET_RATIO})",
        ),
        (
            "limiter writes per Telegram call (consumer)",
            f"{limiter_writes_per_call:.2f}",
            "-",
            "(target <= 1.5)",
        ),
    ]
    lines = [
        "",
        table(rows),
        "",
        f"consumer: {consumed.invocations} invocations for {consumed.updates} updates "
        f"(init {consumed.init_ms:.0f} ms); Telegram calls: {dict(consumed.telegram_calls)}",
        "consumer DynamoDB calls per update: "
        + ", ".join(
            f"{k} {v / updates:.2f}" for k, v in sorted(consumed.usage.dynamodb_by_table.items())
        ),
        f"SQS calls: webhook {dict(ours.usage.calls)}; consumer side "
        f"{ {k: v for k, v in consumed.usage.calls.items() if k.startswith('sqs.')} }",
        f"largest DynamoDB item after the run: {item_bytes} bytes; cost breakdown per million "
        f"(USD): {breakdown}",
        "consumer memory (model, same run), USD per million updates: "
        + ", ".join(
            f"{mb} MB {cost_at(mb).usd_per_million():.2f}"
            + (" (deployed)" if mb == CONSUMER_MEMORY_MB else "")
            for mb in sorted({*CONSUMER_MEMORY_CHOICES_MB, CONSUMER_MEMORY_MB})
        ),
        f"prices: {PRICES_AS_OF}; assumed round trips (ms): {ASSUMED_RTT_MS}; the consumer's "
        "Telegram round trips are the emulator's latency, its CPU billed at its share of a vCPU",
        "bench: "
        + " ".join(
            [
                f"webhook_import_ratio={ratio(ours_import.seconds, naive_import.seconds)}",
                f"webhook_p99_ratio={ratio(ours.p99, naive.p99)}",
                f"webhook_p99_own_ratio={ratio(percentile(ours.own_ms, 0.99), naive.p99)}",
                f"consumer_cpu_ratio={ratio(ours_cpu, naive_cpu)}",
                f"cost_per_million_usd={cost:.2f}",
                f"floor_per_million_usd={floor_usd:.2f}",
                f"cost_floor_ratio={ratio(cost, floor_usd)}",
                f"limiter_writes_per_call={limiter_writes_per_call:.2f}",
            ]
        ),
    ]
    return "\n".join(lines)
