"""moto's server with devkit's patches, as a subprocess on loopback, stopped by its pid.

    python -m devkit.moto --host 127.0.0.1 --port 5000 [--speed]

``start_server`` runs that in a subprocess on a free port and waits until it answers;
``--speed`` (the benchmarks) adds the SQS speed patches, a longer rescan, a silent request log
and a line in the log for every garbage collection that stops the server for long.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.moto.patches import MotoVersionError, check_version, install

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
SPEED_RESCAN_SECONDS = 0.25  # many pollers: fewer rescans of the server's one interpreter
_IMPORT_ROOT = Path(__file__).resolve().parents[2]  # where `devkit` is importable from


class MotoServerError(RuntimeError):
    """moto did not start; the message says why."""


@dataclass
class MotoServer:
    """A moto server subprocess; stop it with `stop()` (or use it as a context manager)."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path | None = None
    _stopped: bool = field(default=False, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for moto's account at ``endpoint``."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def start_server(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    log_path: Path | None = None,
    ready_timeout: float = 90.0,
    speed: bool = False,
) -> MotoServer:
    """``python -m devkit.moto`` in a subprocess (a free port by default); wait until it answers.

    Importing moto's every service takes about 5 s alone but over 30 s on a loaded 2-core
    machine (seen in a full test run beside other work), hence the generous bound: the wait
    ends as soon as the server answers."""
    try:
        check_version()  # the same interpreter and moto as the subprocess: say it here
    except MotoVersionError as error:
        raise MotoServerError(str(error)) from None
    port = port or free_port(host)
    pythonpath = [str(_IMPORT_ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, pythonpath))}
    command = [sys.executable, "-m", "devkit.moto", "--host", host, "--port", str(port)]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*command, *(["--speed"] if speed else [])],
            cwd=_IMPORT_ROOT,
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
            raise MotoServerError(
                f"moto server exited with code {process.returncode} before it was ready"
                + (f" (log: {log_path})" if log_path else "")
            )
        try:
            with urllib.request.urlopen(f"{server.endpoint}/moto-api/", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    server.stop()
    raise MotoServerError(f"moto server on {server.endpoint} not ready after {ready_timeout:.0f} s")


def serve(host: str, port: int, *, speed: bool = False) -> None:
    """Run moto's server in this process, patched."""
    if speed:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line a request costs time
        _log_long_collections()
        install(speed=True, rescan_seconds=SPEED_RESCAN_SECONDS)
    else:
        install()
    from moto.server import main as moto_main

    moto_main(["--host", host, "--port", str(port)])


def _log_long_collections(threshold: float = 0.1) -> None:
    """Garbage collections that stop the server longer than ``threshold`` go to its log (every
    client waits on this one interpreter)."""
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
    parser = argparse.ArgumentParser(prog="python -m devkit.moto", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--speed", action="store_true", help="the benchmarks' speed patches")
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, speed=args.speed)
    except MotoVersionError as error:
        print(error, file=sys.stderr)
        return 2
    return 0
