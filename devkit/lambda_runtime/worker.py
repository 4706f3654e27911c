"""One Lambda execution environment: a process with the function's environment and code.

Started by ``LocalFunction`` with multiprocessing's ``spawn`` (a clean interpreter, like a
cold start). It imports the handler once and then serves invocations from a pipe, one at a
time, until the pipe closes. Logs go to the function's log file, as CloudWatch would get them.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from devkit.lambda_runtime.context import FakeLambdaContext


def _code_first(code_dir: str, package: str) -> None:
    """The function's code (``package``, the handler's top-level package) comes from its
    deployed asset, never from a source tree on this interpreter's path, nor from modules the
    parent had loaded. Third-party packages come from this interpreter's site-packages: the
    asset's are built for linux/arm64 and may not load here."""
    code = Path(code_dir).resolve()

    def shadows(entry: str) -> bool:
        where = Path(entry or ".").resolve()
        return where != code and (
            (where / package / "__init__.py").is_file() or (where / f"{package}.py").is_file()
        )

    sys.path[:] = [p for p in sys.path if not shadows(p)]
    sys.path.insert(0, code_dir)
    for name in list(sys.modules):
        if name == package or name.startswith(f"{package}."):
            del sys.modules[name]


def serve(
    connection: Connection,
    handler_path: str,
    environment: dict[str, str],
    code_dir: str,
    log_path: str,
    function_name: str,
    timeout_seconds: float,
    memory_mb: int,
    code_package: str,
) -> None:
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    sys.stdout = sys.stderr = log
    os.environ.clear()
    os.environ.update(environment)
    _code_first(code_dir, code_package)
    module_name, _, attribute = handler_path.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except Exception:
        connection.send({"ok": False, "error": "init: " + traceback.format_exc(limit=5)})
        return
    connection.send({"ok": True, "ready": True})
    while True:
        try:
            event: Any = connection.recv()
        except (EOFError, OSError):
            return
        context = FakeLambdaContext(
            function_name,
            timeout_seconds,
            memory_limit_in_mb=memory_mb,
            region=environment.get("AWS_REGION", "us-east-1"),
        )
        started = time.perf_counter()
        try:
            result = handler(event, context)
        except Exception as error:
            traceback.print_exc(file=log)
            _report(log, context, started, memory_mb)
            connection.send({"ok": False, "error": f"{type(error).__name__}: {error}"})
            continue
        _report(log, context, started, memory_mb)
        connection.send({"ok": True, "result": result})


def _peak_memory_mb() -> int:
    """This process's peak resident set (what Lambda reports as "Max Memory Used")."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return math.ceil(int(line.split()[1]) / 1024)
    return 0


def _report(log: Any, context: FakeLambdaContext, started: float, memory_mb: int) -> None:
    """Lambda's REPORT line after every invocation, in its format, so that what CloudWatch
    Logs Insights queries read (duration, max memory used) can be read here too."""
    duration_ms = (time.perf_counter() - started) * 1000
    print(
        f"REPORT RequestId: {context.aws_request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {_peak_memory_mb()} MB",
        file=log,
    )
