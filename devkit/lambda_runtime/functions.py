"""Lambda functions played locally: each instance is its own process (its own environment and
cold start); an exception is a function error, a timeout kills the instance like Lambda does."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from devkit.lambda_runtime.worker import serve

logger = logging.getLogger(__name__)
INIT_TIMEOUT_SECONDS = 60.0  # Lambda's init phase may take up to 10 s; a spawn is slower


class FunctionError(RuntimeError):
    """The handler raised (Lambda: a function error)."""


class FunctionTimeout(FunctionError):
    """The handler ran past the function's timeout; the instance was stopped."""


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    environment: dict[str, str]
    code_dir: Path
    timeout_seconds: float = 30.0
    memory_mb: int = 512
    log_path: Path = field(default=Path("/dev/null"))
    code_package: str | None = None
    """The package the code asset provides (default: the handler's top-level package). A
    handler that wraps the function's code from elsewhere (the benchmark's) names it here,
    so the wrapper stays importable and the code still comes from ``code_dir``."""

    @property
    def package(self) -> str:
        return self.code_package or self.handler.split(".")[0]


class LocalFunction:
    """One execution environment (Lambda handles one event at a time per environment)."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._lock = threading.Lock()
        self.invocations = 0
        self.cold_starts = 0

    def _start(self) -> Connection:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=serve,
            args=(
                child,
                self.spec.handler,
                self.spec.environment,
                str(self.spec.code_dir),
                str(self.spec.log_path),
                self.spec.name,
                self.spec.timeout_seconds,
                self.spec.memory_mb,
                self.spec.package,
            ),
            name=f"lambda-{self.spec.name}",
            daemon=True,
        )
        process.start()
        child.close()
        if not parent.poll(INIT_TIMEOUT_SECONDS):
            self._kill(process)
            raise FunctionTimeout(f"{self.spec.name}: init took over {INIT_TIMEOUT_SECONDS:.0f} s")
        ready = parent.recv()
        if not ready.get("ok"):
            self._kill(process)
            raise FunctionError(f"{self.spec.name}: {ready.get('error')}")
        self._process, self._connection = process, parent
        self.cold_starts += 1
        return parent

    @staticmethod
    def _kill(process: BaseProcess) -> None:
        if process.is_alive():
            process.kill()
        process.join(5)

    def invoke(self, event: Any) -> Any:
        with self._lock:
            connection = self._connection
            if connection is None or self._process is None or not self._process.is_alive():
                connection = self._start()
            self.invocations += 1
            connection.send(event)
            if not connection.poll(self.spec.timeout_seconds):
                self.stop()
                raise FunctionTimeout(
                    f"{self.spec.name} timed out after {self.spec.timeout_seconds:.0f} s"
                )
            try:
                answer = connection.recv()
            except EOFError:
                self.stop()
                raise FunctionError(f"{self.spec.name}: the runtime exited") from None
        if not answer.get("ok"):
            raise FunctionError(str(answer.get("error")))
        return answer.get("result")

    def stop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(OSError):
                self._connection.close()
        if self._process is not None:
            self._process.terminate()
            self._process.join(5)
            if self._process.is_alive():
                self._kill(self._process)
        self._process = self._connection = None


class FunctionPool:
    """Up to ``size`` environments of one function, used concurrently (Lambda's scaling)."""

    def __init__(self, spec: FunctionSpec, size: int) -> None:
        self.spec = spec
        self._all = [LocalFunction(spec) for _ in range(max(1, size))]
        self._idle: queue.Queue[LocalFunction] = queue.Queue()
        for instance in self._all:
            self._idle.put(instance)

    @contextlib.contextmanager
    def _instance(self) -> Iterator[LocalFunction]:
        instance = self._idle.get()
        try:
            yield instance
        finally:
            self._idle.put(instance)

    def invoke(self, event: Any) -> Any:
        with self._instance() as instance:
            return instance.invoke(event)

    def __call__(self, event: dict[str, Any], context: Any = None) -> Any:
        """A handler-shaped callable for the SQS event source."""
        return self.invoke(event)

    def crash(self) -> int:
        """Kill every running environment at once, mid-invocation or not (a sandbox dying:
        the fault-injection suite's consumer crash). Returns how many were running."""
        killed = 0
        for instance in self._all:
            process = instance._process
            if process is not None and process.is_alive():
                process.kill()
                killed += 1
        return killed

    def stop(self) -> None:
        for instance in self._all:
            instance.stop()
