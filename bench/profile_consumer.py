"""Where the consumer's CPU per update goes: ``make bench``'s consumer workload, sampled.

``python -m bench.profile_consumer [--updates 300] [--people 30] [--top 25] [--out FILE]``

The same world as ``make bench`` (the Bot API emulator in its own process, the stack's queues
and tables on moto in-process, updates written by emulated people and queued by Topicdesk's
own webhook); then the consumer handler runs on SQS batches, as Lambda's event source mapping
would drive it, while a ``SIGPROF`` timer samples its stack about every millisecond of CPU.
Samples inside moto (playing AWS) are set aside, as ``make bench`` subtracts moto's CPU.
Printed in milliseconds per update: by owner (the innermost frame outside the standard
library: botocore, telegram, httpx, aws_lambda_powertools, topicdesk.<layer>, ...), by leaf
package, the inclusive time of the calls that matter (botocore's stages, PTB, Powertools,
ours) and the hottest functions. ``--out`` writes collapsed stacks for a flame graph.

Sampling has an error of about the square root of a count: a line of 100 samples is +-10 %.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import Any, TypeVar

from bench.meter import AwsMeter
from bench.webhook_bench import note, quiet, run_consumer, seed, webhook_events
from bench.world import BASE_ENV, emulator_process, moto_world

# (label, file path fragment, function name): inclusive times worth reading on their own.
MARKERS: tuple[tuple[str, str, str], ...] = (
    ("botocore: a whole API call", "botocore/client.py", "_make_api_call"),
    ("botocore: serialize the request", "botocore/serialize.py", "serialize_to_request"),
    ("botocore: sign (SigV4)", "botocore/signers.py", "sign"),
    ("botocore: endpoint resolution", "botocore/regions.py", "construct_endpoint"),
    ("botocore: endpoint ruleset", "botocore/endpoint_provider.py", "resolve_endpoint"),
    ("botocore: send (hooks, http)", "botocore/endpoint.py", "_send"),
    ("botocore: parse the response", "botocore/parsers.py", "parse"),
    ("botocore: event hooks (emit)", "botocore/hooks.py", "emit"),
    ("boto3: resource/table action", "boto3/resources/action.py", "__call__"),
    ("boto3: TypeSerializer", "boto3/dynamodb/types.py", "serialize"),
    ("boto3: TypeDeserializer", "boto3/dynamodb/types.py", "deserialize"),
    ("boto3: condition/expr build", "boto3/dynamodb/conditions.py", "build_expression"),
    ("PTB: Update.de_json", "telegram/_update.py", "de_json"),
    ("PTB: Application.process_update", "telegram/ext/_application.py", "process_update"),
    ("PTB: Bot._post", "telegram/_bot.py", "_post"),
    ("PTB: BaseRequest.post", "telegram/request/_baserequest.py", "post"),
    ("PTB: RequestData.json_parameters", "telegram/request/_requestdata.py", "json_parameters"),
    ("PTB: Bot._insert_defaults", "telegram/_bot.py", "_insert_defaults"),
    ("PTB: TelegramObject.de_json", "telegram/_telegramobject.py", "_de_json"),
    ("httpx: AsyncClient.request", "httpx/_client.py", "request"),
    ("httpx: build_request", "httpx/_client.py", "build_request"),
    (
        "Powertools: batch process_partial_response",
        "batch/decorators.py",
        "process_partial_response",
    ),
    ("logging: Logger.handle (any logger)", "logging/__init__.py", "handle"),
    ("Powertools: log_metrics flush", "metrics/provider/cloudwatch.py", "flush_metrics"),
    ("Powertools: add_metric", "metrics/provider/cloudwatch.py", "add_metric"),
    ("ours: Worker.update", "topicdesk/runtime/work.py", "update"),
    ("ours: Steps.load", "topicdesk/domain/steps.py", "load"),
    ("ours: Steps.finish", "topicdesk/domain/steps.py", "finish"),
    ("ours: RelayApplication.process", "topicdesk/runtime/ptb.py", "process"),
    ("ours: gateway._call", "topicdesk/adapters/telegram.py", "_call"),
    ("ours: throttle before_send", "topicdesk/domain/throttle.py", "before_send"),
    ("ours: BatchPlan", "topicdesk/domain/batch.py", "__init__"),
    ("ours: FailurePolicy.suspect", "topicdesk/runtime/failures.py", "suspect"),
    ("ours: RetrySchedule.apply", "topicdesk/runtime/retries.py", "apply"),
    ("json.loads", "json/__init__.py", "loads"),
    ("json.dumps", "json/__init__.py", "dumps"),
)


K = TypeVar("K")
Stack = tuple[tuple[str, str], ...]
"""(file, function) pairs, the innermost last."""


class GcClock:
    """CPU time in the cyclic garbage collector, by generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds: defaultdict[int, float] = defaultdict(float)
        self.collections: defaultdict[int, int] = defaultdict(int)
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds[info["generation"]] += time.process_time() - self._started
            self.collections[info["generation"]] += 1

    @contextmanager
    def running(self) -> Iterator[None]:
        gc.callbacks.append(self)
        try:
            yield
        finally:
            gc.callbacks.remove(self)


class CpuSampler:
    """Samples the main thread's stack on a ``SIGPROF`` timer (which runs on the process's CPU
    time): a sample lands where CPU is spent, never in a wait, and costs one stack walk (a few
    microseconds), so the code runs at nearly its own speed and the flood limiter's timing
    (which reserves a new slot for a send that woke late) is not disturbed, as it is under
    cProfile. The kernel fires the timer on its scheduler tick at best, so each sample weighs
    the CPU time since the one before, not the nominal interval."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.samples: defaultdict[Stack, float] = defaultdict(float)
        """CPU seconds per stack."""
        self._last = 0.0

    def _sample(self, _signum: int, frame: FrameType | None) -> None:
        now = time.process_time()
        spent, self._last = now - self._last, now
        stack: list[tuple[str, str]] = []
        while frame is not None:
            stack.append((frame.f_code.co_filename, frame.f_code.co_name))
            frame = frame.f_back
        self.samples[tuple(reversed(stack))] += spent

    @contextmanager
    def running(self) -> Iterator[None]:
        previous = signal.signal(signal.SIGPROF, self._sample)
        self._last = time.process_time()
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0, 0)
            signal.signal(signal.SIGPROF, previous)


def package_of(filename: str) -> str:
    """A file -> the package it belongs to (``topicdesk.<layer>`` for ours)."""
    path = filename.replace("\\", "/")
    if path.startswith("<"):
        return "(frozen/builtins)"
    if "/topicdesk/" in path:
        rest = path.split("/topicdesk/", 1)[1].split("/")
        return "topicdesk." + (rest[0] if len(rest) > 1 else rest[0].removesuffix(".py"))
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/")[0].removesuffix(".py")
    if "/bench/" in path:
        return "bench"
    parts = path.split("/")
    for index, part in enumerate(parts):
        if part.startswith("python3") and index + 1 < len(parts):
            return "stdlib." + parts[index + 1].removesuffix(".py")
    return path


def owner_of(stack: Stack) -> str:
    """The innermost frame that is not the standard library's: whose work the sample is
    (``email``'s header parsing under botocore's signer is botocore's)."""
    for filename, _function in reversed(stack):
        package = package_of(filename)
        if not package.startswith(("stdlib.", "(frozen")):
            return package
    return package_of(stack[-1][0]) if stack else "?"


def side_of(stack: Stack) -> str | None:
    """Samples that are not the Lambda's: moto playing AWS (``make bench`` subtracts it) and
    the benchmark's meter reading each call (``make bench`` counts it as the consumer's)."""
    files = [filename for filename, _ in stack]
    if any("/moto/" in f for f in files):
        return "moto"
    if any(f.endswith("bench/meter.py") for f in files):
        return "meter"
    return None


def largest(values: Mapping[K, float], top: int) -> list[tuple[K, float]]:
    return sorted(values.items(), key=lambda item: -item[1])[:top]


def summarize(samples: Mapping[Stack, float], updates: int, top: int) -> str:
    per = 1000.0 / updates  # CPU seconds -> ms per update
    leaf: defaultdict[str, float] = defaultdict(float)
    owner: defaultdict[str, float] = defaultdict(float)
    functions: defaultdict[tuple[str, str], float] = defaultdict(float)
    marked: defaultdict[str, float] = defaultdict(float)
    aside: defaultdict[str, float] = defaultdict(float)
    for stack, count in samples.items():
        side = side_of(stack)
        if side is not None:
            aside[side] += count
            continue
        leaf[package_of(stack[-1][0])] += count
        owner[owner_of(stack)] += count
        functions[(package_of(stack[-1][0]), stack[-1][1])] += count
        for label, fragment, function in MARKERS:
            if any(f.endswith(fragment) and name == function for f, name in stack):
                marked[label] += count
    total = sum(leaf.values())
    lines = [
        f"Lambda's CPU per update (sampled, {len(samples)} stacks): "
        f"{total * per:.2f} ms; left out: moto {aside['moto'] * per:.2f} ms, "
        f"the bench's meter {aside['meter'] * per:.2f} ms (make bench counts the meter's)",
        "",
        "by owner (innermost frame outside the standard library), ms per update:",
    ]
    lines += [f"  {n * per:7.3f}  {100 * n / total:5.1f} %  {k}" for k, n in largest(owner, top)]
    lines += ["", "by leaf frame's package, ms per update:"]
    lines += [f"  {n * per:7.3f}  {100 * n / total:5.1f} %  {k}" for k, n in largest(leaf, top)]
    lines += ["", "inclusive, ms per update:"]
    lines += [
        f"  {marked[label] * per:7.3f}  {100 * marked[label] / total:5.1f} %  {label}"
        for label, _, _ in MARKERS
        if marked[label]
    ]
    lines += ["", "hottest functions (own), ms per update:"]
    lines += [
        f"  {n * per:7.3f}  {name}  [{package}]" for (package, name), n in largest(functions, top)
    ]
    return "\n".join(lines)


def collapsed(samples: Mapping[Stack, float]) -> str:
    """Brendan Gregg's collapsed stacks (for flamegraph.pl / speedscope), in CPU microseconds."""
    return "\n".join(
        ";".join(f"{package_of(f)}:{name}" for f, name in stack) + f" {round(cpu * 1e6)}"
        for stack, cpu in samples.items()
    )


def sampled(
    handler: Callable[..., Any], sampler: CpuSampler | None, collector: GcClock
) -> Callable[..., Any]:
    def call(event: Any, context: Any) -> Any:
        with collector.running():
            if sampler is None:
                return handler(event, context)
            with sampler.running():
                return handler(event, context)

    return call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile_consumer", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--people", type=int, default=30)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--interval-ms", type=float, default=1.0, help="CPU time between samples")
    parser.add_argument("--out", help="also write the samples here as collapsed stacks")
    parser.add_argument(
        "--no-samples",
        action="store_true",
        help="only the CPU per update as make bench counts it (no sampling: quicker A/B runs)",
    )
    args = parser.parse_args(argv)
    os.environ.update(BASE_ENV)
    sampler, collector = CpuSampler(args.interval_ms / 1000), GcClock()
    with ExitStack() as stack:
        # make bench's world: the emulator (its own process), its people's messages, moto.
        emulator = stack.enter_context(emulator_process())
        note(f"seeding: {args.people} people, {args.updates} messages...")
        group, written = seed(emulator, people=args.people, messages=args.updates)
        meter = AwsMeter()
        stack.enter_context(meter.installed())
        world = stack.enter_context(
            moto_world(bot_token=emulator.token, operator_chat_id=group, api_url=emulator.base_url)
        )
        os.environ.update(world.env)
        from topicdesk.handlers import consumer, webhook

        from devkit.lambda_runtime import FakeLambdaContext

        with quiet():  # the consumer's input, queued by Topicdesk's own webhook
            for event in webhook_events(written):
                webhook.handler(event, FakeLambdaContext("webhook"))
        original = consumer.handler
        consumer.handler = sampled(original, None if args.no_samples else sampler, collector)
        try:
            note(f"consumer: {args.updates} updates...")
            run = run_consumer(world, meter, emulator, args.updates)
        finally:
            consumer.handler = original
    updates_done = max(run.updates, 1)
    note(
        f"{run.updates} updates in {run.invocations} invocations, {run.failed} failed; "
        f"CPU per update as make bench counts it: {run.cpu_seconds * 1000 / updates_done:.2f} ms"
    )
    print(
        "per update: Telegram calls "
        + ", ".join(f"{k} {v / updates_done:.2f}" for k, v in sorted(run.telegram_calls.items()))
        + "; AWS calls "
        + ", ".join(
            f"{k} {v / updates_done:.2f}" for k, v in sorted(run.handler_usage.calls.items())
        )
    )
    print(
        "cyclic GC (inside the handler), ms per update: "
        + ", ".join(
            f"generation {g}: {collector.seconds[g] * 1000 / updates_done:.3f} "
            f"({collector.collections[g]} collections)"
            for g in sorted(collector.seconds)
        )
    )
    if args.no_samples:
        return 1 if run.failed else 0
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(collapsed(sampler.samples) + "\n")
    print(summarize(sampler.samples, updates_done, args.top), flush=True)
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
