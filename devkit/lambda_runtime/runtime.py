"""The local runtime: Function URL server + SQS event source pollers over local functions."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devkit.lambda_runtime.functions import FunctionPool, FunctionSpec
from devkit.lambda_runtime.sqs_source import BatchOutcome, SqsEventSource
from devkit.lambda_runtime.url_server import FunctionUrlServer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MappingSpec:
    """An SQS event source mapping as deployed."""

    function: str
    queue_url: str
    queue_arn: str
    batch_size: int
    max_concurrency: int
    """How many pollers (each with its own instance of the function) share the queue."""
    enabled: bool = True


class LocalRuntime:
    def __init__(
        self,
        *,
        sqs: Any,
        functions: dict[str, FunctionSpec],
        mappings: list[MappingSpec],
        url_function: str | None,
        url_host: str = "127.0.0.1",
        url_port: int = 0,
        on_batch: Callable[[str, BatchOutcome], None] | None = None,
        pool_sizes: dict[str, int] | None = None,
    ) -> None:
        self._sqs = sqs
        self._mappings = mappings
        self._on_batch = on_batch
        sizes: dict[str, int] = {}
        for mapping in mappings:
            sizes[mapping.function] = sizes.get(mapping.function, 0) + mapping.max_concurrency
        if url_function:
            sizes[url_function] = max(sizes.get(url_function, 0), 4)
        for name, size in (pool_sizes or {}).items():  # e.g. the WebSocket API's function
            sizes[name] = max(sizes.get(name, 0), size)
        self.pools = {
            name: FunctionPool(spec, sizes.get(name, 1)) for name, spec in functions.items()
        }
        self._url_function = url_function
        self._url_host, self._url_port = url_host, url_port
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._url_server: FunctionUrlServer | None = None
        self.url = ""

    def start(self) -> None:
        if self._url_function:
            self._start_url_server(self.pools[self._url_function])
        for mapping in self._mappings:
            if not mapping.enabled:
                continue
            source = SqsEventSource(
                sqs=self._sqs,
                queue_url=mapping.queue_url,
                queue_arn=mapping.queue_arn,
                handler=self.pools[mapping.function],
                function_name=mapping.function,
                batch_size=mapping.batch_size,
                timeout_seconds=self.pools[mapping.function].spec.timeout_seconds,
            )
            for index in range(mapping.max_concurrency):
                thread = threading.Thread(
                    target=self._poll,
                    args=(mapping.function, source),
                    name=f"poller-{mapping.function}-{index}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def _start_url_server(self, pool: FunctionPool) -> None:
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop
        server = FunctionUrlServer(pool, self._url_host, self._url_port)
        self._url_server = server

        def run() -> None:
            asyncio.set_event_loop(loop)
            self.url = loop.run_until_complete(server.start())
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="function-url", daemon=True)
        thread.start()
        self._threads.append(thread)
        if not ready.wait(30):
            raise RuntimeError("the Function URL server did not start")

    def _poll(self, function: str, source: SqsEventSource) -> None:
        while not self._stop.is_set():
            try:
                outcome = source.poll_once(wait_seconds=1)
            except Exception:
                logger.exception("polling %s failed; retrying", source.queue_url)
                self._stop.wait(1)
                continue
            if outcome.received and self._on_batch is not None:
                self._on_batch(function, outcome)

    def stop(self) -> None:
        self._stop.set()
        if self._loop is not None and self._url_server is not None:
            future = asyncio.run_coroutine_threadsafe(self._url_server.stop(), self._loop)
            future.result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        deadline = time.monotonic() + 10
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        for pool in self.pools.values():
            pool.stop()
