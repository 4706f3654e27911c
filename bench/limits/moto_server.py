"""moto's server for ``make bench-limits``: ``local.moto_stage serve`` with SQS receives fixed.

Two things in moto's ``ReceiveMessage`` (5.2.5) that real SQS does not do, and that the
benchmark's many pollers on few FIFO groups run into:

* Two receives running at once in the server's threads may both take messages of the same
  FIFO group (each checks "group in flight?" and then marks its messages, without a lock): one
  group's messages go to two consumers at once and arrive interleaved (seen in scenario c:
  ``copyMessages [21, 23, 24, 27 ...]`` and ``[22, 25, 26, 30 ...]`` from two consumers).
* A long poll waits for "any visible message"; on a FIFO queue a visible message may be
  undeliverable (its group is in flight), so the wait returns at once and the receive loop
  spins for the whole ``WaitTimeSeconds`` holding the interpreter lock; and a message that
  becomes visible when its deferral ends wakes no waiter (picked up only up to 1 s later).

The fix: every receive is a sequence of non-waiting scans under one lock (so a group is handed
to one receiver at a time, with the in-flight groups read afresh each scan); between scans a
long poll sleeps until a message is added, the next invisible one becomes visible, or
``RESCAN_SECONDS`` pass (groups are freed by deletes, which notify nobody). moto's request log
is silenced (a line per request costs the server time), and its SQS clock made cheap
(``fix_clock``) and its queue counts too (``fix_counters``): with 3,000 queued messages moto
spent tens of milliseconds of its one interpreter on every send and receive. Semantics are
unchanged. local/moto_fixes.py still applies.

    python -m bench.limits.moto_server --host 127.0.0.1 --port 5000

Started by ``start`` as a subprocess on loopback and stopped by its pid (``MotoServer.stop``).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from local.moto_stage import MotoServer, free_port

ROOT = Path(__file__).resolve().parents[2]
RESCAN_SECONDS = 0.25


def next_change(visible_at: list[float], delayed_until: list[float], now: float) -> float | None:
    """Milliseconds until the next waiting message becomes receivable (None: none waits)."""
    upcoming = [t for t in (*visible_at, *delayed_until) if t > now]
    return min(upcoming) - now if upcoming else None


def fix_clock() -> None:
    """moto's SQS asks ``unix_time_millis()`` for every message on every scan (is it visible?
    delayed?), and ``ApproximateNumberOfMessages*`` are read on every send; moto computes the
    time through two naive datetimes (about 10 us), so with 3,000 queued messages a single
    receive or send costs the server tens of milliseconds. The same number from ``time.time``."""
    import moto.sqs.models as sqs_models

    module: Any = sqs_models
    slow_seconds, slow_millis = module.unix_time, module.unix_time_millis

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else float(slow_seconds(dt))

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(slow_millis(dt))

    module.unix_time, module.unix_time_millis = unix_time, unix_time_millis


def fix_counters() -> None:
    """``Queue.attributes`` counts the queue (three passes over every message) and moto reads
    it several times per sent message and once per received message (the retention check):
    with thousands of messages queued that is most of the server's time. Count in one pass,
    at most once per millisecond and queue length (the counts are approximate in SQS too), and
    read the retention period directly."""
    from moto.sqs.models import Queue, SQSBackend

    def counts(queue: Any) -> tuple[int, int, int]:
        key = (len(queue._messages), int(time.time() * 1000))
        cached = getattr(queue, "_bench_counts", None)
        if cached is not None and cached[0] == key:
            visible, not_visible, delayed = cached[1]
            return int(visible), int(not_visible), int(delayed)
        now = time.time() * 1000.0
        visible = not_visible = delayed = 0
        for message in list(queue._messages):
            is_delayed = now < message.delayed_until
            is_visible = now > message.visible_at
            visible += is_visible and not is_delayed
            not_visible += not is_visible
            delayed += is_delayed
        queue._bench_counts = (key, (visible, not_visible, delayed))
        return visible, not_visible, delayed

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        period = int(self.get_queue(queue_name).message_retention_period)
        return bool(period + message.sent_timestamp / 1000 > time.time())

    queue_class: Any = Queue
    queue_class.approximate_number_of_messages = property(lambda q: counts(q)[0])
    queue_class.approximate_number_of_messages_not_visible = property(lambda q: counts(q)[1])
    queue_class.approximate_number_of_messages_delayed = property(lambda q: counts(q)[2])
    backend_class: Any = SQSBackend
    backend_class.is_message_valid_based_on_retention_period = retained


def fix_receive() -> None:
    from moto.sqs.models import SQSBackend

    from local.moto_fixes import fix_fifo_redelivery_order

    fix_fifo_redelivery_order()  # first, so that it runs inside the lock below
    original = SQSBackend.receive_message
    scanning = threading.Lock()

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        deadline = time.monotonic() + float(wait_seconds_timeout or 0)
        while True:
            with scanning:
                found = original(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
                queue = self.get_queue(queue_name)
                messages = list(queue._messages)
                change = next_change(
                    [m.visible_at for m in messages],
                    [m.delayed_until for m in messages],
                    time.time() * 1000.0,
                )
            remaining = deadline - time.monotonic()
            if found or remaining <= 0:
                return found
            wait = min(remaining, RESCAN_SECONDS)
            if change is not None:
                wait = min(wait, change / 1000 + 0.002)
            with queue._messages_lock:  # notified when a message is added
                queue._messages_lock.wait(timeout=max(0.002, wait))

    backend_class: Any = SQSBackend
    backend_class.receive_message = receive_message


def start(*, log_path: Path | None = None, ready_timeout: float = 30.0) -> MotoServer:
    """The server as a subprocess on 127.0.0.1 (a free port); wait until it answers."""
    host, port = "127.0.0.1", free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "functions")])}
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.limits.moto_server", "--host", host, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log_path and not isinstance(log, int):
            log.close()
    server = MotoServer(host=host, port=port, process=process, log_path=log_path)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto exited with code {process.returncode} (log: {log_path})")
        try:
            with urllib.request.urlopen(f"{server.endpoint}/moto-api/", timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"moto on {server.endpoint} not ready after {ready_timeout:.0f} s")


def _log_long_collections(threshold: float = 0.1) -> None:
    """Garbage collections that stop the server longer than ``threshold`` go to its log (every
    lane's consumers wait on this one interpreter)."""
    import gc

    started: list[float] = []

    def timing(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[:] = [time.monotonic()]
        elif started and time.monotonic() - started[0] > threshold:
            print(
                f"moto gc: generation {info.get('generation')} took"
                f" {time.monotonic() - started[0]:.2f} s",
                file=sys.stderr,
                flush=True,
            )

    gc.callbacks.append(timing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.limits.moto_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _log_long_collections()
    fix_clock()
    fix_counters()
    fix_receive()
    # Through the importable module (moto files model classes by module name).
    from local.moto_stage import serve

    serve(args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
