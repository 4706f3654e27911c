"""The bot token never reaches a trace (issue 13, "Secrets").

The consumer runs as Lambda runs it with tracing on: Powertools' Tracer at import, with
``LAMBDA_TASK_ROOT`` and a sampled ``_X_AMZN_TRACE_ID`` set, ``POWERTOOLS_TRACE_DISABLED``
unset and ``AWS_XRAY_DAEMON_ADDRESS`` pointing at a fake X-Ray daemon (a UDP socket on
127.0.0.1 here that keeps every segment document sent to it). It relays ordinary messages
both ways through the emulator, then meets a 401 after the token's secret was changed to one
Telegram does not know: the Bot is rebuilt, and python-telegram-bot's ``InvalidToken`` carries
that token in its text. Neither token may be in any segment, nor in any log line.

Tracing is process-wide (the X-Ray SDK patches modules and keeps one recorder), so the
consumer runs in a child process (this module run with ``--child``), not in the test process.
Last, the child patches httpx too (what ``TRACED_MODULES`` must never hold: httpx's
subsegments carry the Bot API URL) and relays one more message: those segments must show the
token, which proves the daemon receives what the consumer traces and the detector sees a leak.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "7301234567:AAF-trace-check-Token_0123456789abcdefXYZ"
ROTATED = "7301234567:AAG-rotated-but-unknown-Token_9876543210zyx"
TRACE_ID = "Root=1-6750a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"


# ---------------------------------------------------------------------- the fake daemon

HEADER = b'{"format": "json", "version": 1}'
MARKER = {"test-marker": "httpx patched from here on"}


@dataclass
class FakeXRayDaemon:
    """What the X-Ray daemon listens on: UDP datagrams, each a JSON header, a newline and one
    segment (or subsegment) document."""

    sock: socket.socket = field(
        default_factory=lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    )
    datagrams: list[bytes] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def _collect(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            self.datagrams.append(data)

    @contextmanager
    def running(self) -> Iterator[FakeXRayDaemon]:
        self.sock.bind(("127.0.0.1", 0))
        thread = threading.Thread(target=self._collect, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=5)
            self.sock.close()

    def documents(self) -> list[dict[str, Any]]:
        out = []
        for datagram in self.datagrams:
            header, _, body = datagram.partition(b"\n")
            assert json.loads(header) == json.loads(HEADER), header
            out.append(json.loads(body))
        return out


def leaks(texts: list[str], secrets: tuple[str, ...]) -> list[str]:
    """Which secrets appear in which texts (by index): whole, or the part after the bot id
    (the part that is secret)."""
    found = []
    for index, text in enumerate(texts):
        for secret in secrets:
            if secret.split(":", 1)[1] in text:
                found.append(f"#{index}: …{secret[-6:]}")
    return found


# ---------------------------------------------------------------------- the parent side


@dataclass
class TracedRun:
    segments: list[dict[str, Any]]
    """Every document the daemon received while the consumer traced as the product does."""
    control: list[dict[str, Any]]
    """Those after the marker: httpx patched too."""
    output: str
    """Everything the child logged (Powertools' JSON lines, warnings, tracebacks)."""
    report: dict[str, Any]


@pytest.fixture(scope="module")
def traced() -> TracedRun:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "_X_AMZN"))}
    with FakeXRayDaemon().running() as daemon:
        env.update(
            LAMBDA_TASK_ROOT=str(ROOT),  # Powertools and the X-Ray SDK: "in Lambda"
            _X_AMZN_TRACE_ID=TRACE_ID,  # what Lambda sets for an invocation; sampled
            AWS_XRAY_DAEMON_ADDRESS=daemon.address,
            POWERTOOLS_SERVICE_NAME="topicdesk-consumer",
            POWERTOOLS_METRICS_NAMESPACE="Topicdesk/test",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
        )
        command = [sys.executable, "-m", "tests.integration.test_trace_leaks", "--child"]
        result = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        documents = daemon.documents()  # loopback UDP: all there once the child has exited
    cut = documents.index(MARKER)
    return TracedRun(
        documents[:cut],
        documents[cut + 1 :],
        output,
        json.loads(result.stdout.strip().splitlines()[-1]),
    )


def test_the_consumer_was_traced_through_sends_and_the_401(traced: TracedRun) -> None:
    # It ran what it should: a message each way, the 401, the rebuilt Bot refused too.
    assert traced.report["relayed"] == ["hello from Alice", "an answer from Olga"]
    assert traced.report["unauthorized_calls"] == 2  # the injected 401, then getMe refused
    assert "Telegram refused the bot token: reading it again" in traced.output
    assert "InvalidToken: The token `<redacted>` was rejected" in traced.output
    # And the daemon received it: the handler's subsegments and the AWS calls under them.
    names = {str(segment.get("name")) for segment in traced.segments}
    assert "## handler" in names, sorted(names)
    assert {"dynamodb", "sqs", "secretsmanager"} <= names, sorted(names)


def test_no_token_in_any_segment_nor_log_line(traced: TracedRun) -> None:
    documents = [json.dumps(segment) for segment in traced.segments]
    assert leaks(documents, (TOKEN, ROTATED)) == []
    assert leaks([traced.output], (TOKEN, ROTATED)) == []


def test_httpx_traced_would_put_the_token_in_segments_and_the_detector_sees_it(
    traced: TracedRun,
) -> None:
    documents = [json.dumps(segment) for segment in traced.control]
    assert leaks(documents, (TOKEN,)), "httpx's subsegments carry the Bot API URL"
    assert leaks(['{"url": "http://127.0.0.1/bot' + TOKEN + '/getMe"}'], (TOKEN, ROTATED)) == [
        f"#0: …{TOKEN[-6:]}"
    ]


# ---------------------------------------------------------------------- the child side


def _child(daemon: str) -> dict[str, Any]:
    from aws_lambda_powertools.utilities import parameters
    from aws_xray_sdk.core import patch
    from topicdesk.contract import Env
    from topicdesk.handlers import consumer

    from devkit.telegram_emulator import Limits
    from devkit.telegram_emulator.testing import start_emulator
    from tests.support.aws_world import aws_world
    from tests.support.pipeline import Pipeline

    emulator = start_emulator(token=TOKEN, limits=Limits(enabled=False))
    client = emulator.client
    group = client.create_forum_group("Support", operator_names=["Olga"])
    chat, olga = int(group["chat_id"]), int(group["operators"][0])
    alice = int(client.create_user("Alice", started=True)["user_id"])
    try:
        with aws_world(
            bot_token=TOKEN, operator_chat_ids=[chat], telegram_api_url=emulator.base_url
        ) as aws:
            for key, value in aws.env.items():
                if key != "POWERTOOLS_TRACE_DISABLED":  # the point of this test
                    os.environ[key] = value
            parameters.clear_caches()
            pipeline = Pipeline(emulator=emulator, aws=aws, operator_chat_id=chat, operator_id=olga)
            client.send_as_user(alice, "hello from Alice")
            pipeline.run()
            thread = pipeline.topic_of("Alice")
            client.send_as_operator(chat, thread, olga, "an answer from Olga")
            pipeline.run()
            relayed = [
                *[t for t in pipeline.topic_texts(thread) if t == "hello from Alice"],
                *[t for t in pipeline.private_texts(alice) if t == "an answer from Olga"],
            ]
            # The token is rotated to one Telegram does not know, and the next call meets a
            # 401: the consumer reads the secret again, rebuilds its Bot, and that fails too.
            secret = aws.env[Env.BOT_TOKEN_SECRET_NAME]
            aws.secrets.put_secret_value(SecretId=secret, SecretString=ROTATED)
            client.set_fault("copyMessage", status=401, description="Unauthorized", times=1)
            client.send_as_user(alice, "after the rotation")
            pipeline.run(rounds=2)
            unauthorized = sum(1 for c in emulator.server.call_log if c.get("status") == 401)

            # The control: what TRACED_MODULES must never hold. httpx patched, a new container
            # (its Bot's httpx client is made after the patch), the right token back, and a
            # new person writes (Alice's chat waits for her failed record's backoff). The
            # marker tells the daemon's datagrams before it from those after.
            _send_marker(daemon)
            patch(["httpx"])
            consumer.runtime.cache_clear()
            aws.secrets.put_secret_value(SecretId=secret, SecretString=TOKEN)
            parameters.clear_caches()
            bob = int(client.create_user("Bob", started=True)["user_id"])
            client.send_as_user(bob, "with httpx traced")
            pipeline.run()
    finally:
        emulator.server.stop_thread()
    return {"relayed": relayed, "unauthorized_calls": unauthorized}


def _send_marker(daemon: str) -> None:
    host, port = daemon.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(HEADER + b"\n" + json.dumps(MARKER).encode(), (host, int(port)))


if __name__ == "__main__" and "--child" in sys.argv:
    report = _child(os.environ["AWS_XRAY_DAEMON_ADDRESS"])
    print(json.dumps(report), flush=True)
