"""The whole `local` stage, as `make local` runs it: moto server, cdk deploy, the local Lambda
runtime and the emulator, in a subprocess; then the demo's transcripts, a duplicate delivery,
and a poison update that the DLQ processor archives and the ops CLI replays."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devkit.processes import run_python
from devkit.telegram_emulator import DEFAULT_TOKEN, EmulatorClient
from tests.support.local_stage import stage_environment

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 300.0

pytestmark = pytest.mark.slow


@dataclass
class Stage:
    process: subprocess.Popen[str]
    output: Path
    state_dir: Path
    description: dict[str, Any]
    client: EmulatorClient

    def text(self) -> str:
        return self.output.read_text()

    def ops(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "TOPICDESK_LOCAL_DIR": str(self.state_dir)}
        return run_python("-m", "ops", "--stage", "local", *args, cwd=ROOT, env=env, timeout=120)


def wait_until(what: str, check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


def listening(url: str) -> bool:
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, int(port))) == 0


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    state_dir = tmp_path_factory.mktemp("local-stage")
    output = state_dir / "terminal.txt"
    env = stage_environment(state_dir)
    with output.open("w") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local.stage",
                # Quick retries so a poison update reaches the DLQ in seconds.
                "--env",
                "RETRY_BASE_SECONDS=1",
                "--env",
                "MAX_ATTEMPTS=3",
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        wait_until(
            "the demo",
            lambda: "Demo finished" in output.read_text() or process.poll() is not None,
            START_TIMEOUT,
        )
        assert process.poll() is None, output.read_text()[-3000:]
        description = json.loads((state_dir / "stage.json").read_text())
        client = EmulatorClient(description["telegram_api_url"])
        yield Stage(process, output, state_dir, description, client)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def topics(stage: Stage) -> list[dict[str, Any]]:
    return stage.client.topics(stage.description["operator_chat_ids"][0])


def texts(stage: Stage, chat_id: int, thread_id: int | None = None) -> list[str]:
    return [str(m.get("text") or "") for m in stage.client.transcript(chat_id, thread_id)]


def test_the_demo_ran_through_the_real_pipeline(stage: Stage) -> None:
    terminal = stage.text()
    assert "Topicdesk local stage is ready" in terminal
    group = stage.description["operator_chat_ids"][0]
    live = [t for t in topics(stage) if not t.get("deleted")]
    names = sorted(t["name"] for t in live)
    assert names == ["Anna Schmidt (@anna_s)", "Ben (@ben_k)", "visitor@example.com"]
    deleted = [t for t in topics(stage) if t.get("deleted")]
    assert [t["name"] for t in deleted] == ["Anna Schmidt (@anna_s)"]
    anna_topic = next(t for t in live if t["name"].startswith("Anna"))["message_thread_id"]
    ben_topic = next(t for t in live if t["name"].startswith("Ben"))["message_thread_id"]
    anna_texts = texts(stage, group, anna_topic)
    assert "previous topic was deleted" in anna_texts[1]
    assert anna_texts[-1] == "Thanks! And can I change the address?"
    ben_texts = texts(stage, group, ben_topic)
    assert ben_texts[2:] == [
        "Hello, how do I reset my password?",
        "🚫 Ben blocked the bot. Answers will not reach them until they unblock it.",
        "Use the 'Forgot password' link.",
        "⚠️ Not delivered: Ben has blocked the bot.",
    ]
    # The web visitor's topic, named by their e-mail: the card, the question, the answer.
    visitor_topic = next(t for t in live if t["name"] == "visitor@example.com")
    visitor_texts = texts(stage, group, visitor_topic["message_thread_id"])
    assert any("visitor@example.com" in text for text in visitor_texts[:-2])  # the card
    assert visitor_texts[-2:] == ["Hi! Is there a free trial?", "Yes: 14 days, no card needed."]
    # The live transcript in the terminal tells the same story.
    assert "[bot → Anna] Sorry, Anna! It ships tomorrow." in terminal
    assert "[widget → visitor] Yes: 14 days, no card needed." in terminal
    assert stage.client.violations() == []


def test_a_duplicate_delivery_is_relayed_once(stage: Stage) -> None:
    group = stage.description["operator_chat_ids"][0]
    carla = int(stage.client.create_user("Carla", username="carla")["user_id"])
    stage.client.set_fault(duplicate_deliveries=1)
    stage.client.send_as_user(carla, "hello twice?")
    wait_until("Carla's topic", lambda: any(t["name"].startswith("Carla") for t in topics(stage)))
    thread = next(t for t in topics(stage) if t["name"].startswith("Carla"))["message_thread_id"]
    wait_until("the message in the topic", lambda: "hello twice?" in texts(stage, group, thread))
    [delivery] = [d for d in stage.client.deliveries() if d.get("chat_id") == carla]
    # The webhook really received it twice (the emulator posts the copy right after)...
    webhook_log = next((stage.state_dir / "logs").glob("*-webhook*.log")).read_text()
    queued = [
        line
        for line in webhook_log.splitlines()
        if '"update queued"' in line and f'"correlation_id":"{delivery["update_id"]}"' in line
    ]
    assert len(queued) == 2
    time.sleep(3)  # ...and a wrongly processed copy would have shown up by now
    assert texts(stage, group, thread).count("hello twice?") == 1


def test_a_poison_update_is_archived_then_replayed_by_the_cli(stage: Stage) -> None:
    group = stage.description["operator_chat_ids"][0]
    dave = int(stage.client.create_user("Dave", username="dave")["user_id"])
    stage.client.send_as_user(dave, "first")
    wait_until("Dave's topic", lambda: any(t["name"].startswith("Dave") for t in topics(stage)))
    thread = next(t for t in topics(stage) if t["name"].startswith("Dave"))["message_thread_id"]
    wait_until("first message", lambda: "first" in texts(stage, group, thread))
    stage.client.set_fault(
        "copyMessage", status=400, description="Bad Request: CHAT_WRITE_FORBIDDEN", times=1000
    )
    stage.client.send_as_user(dave, "poison pill")

    def archived() -> bool:
        return "CHAT_WRITE_FORBIDDEN".lower() in stage.ops("dlq", "list").stdout.lower()

    wait_until("the dead letter in the archive", archived, 120)
    listing = stage.ops("dlq", "list").stdout
    archive_id = listing.splitlines()[2].split()[0]
    wait_until(
        "Dave being told",
        lambda: any("could not be delivered" in t for t in texts(stage, dave)),
    )
    wait_until(
        "the alert in the ops topic",
        lambda: any(t["name"].endswith("Topicdesk alerts") for t in topics(stage)),
    )
    stage.client.clear_faults()
    replay = stage.ops("dlq", "replay", archive_id)
    assert replay.returncode == 0, replay.stderr
    assert "replayed 1" in replay.stdout
    wait_until("the replayed message", lambda: "poison pill" in texts(stage, group, thread))
    assert "0 archived" in stage.ops("dlq", "list").stdout


def test_no_secret_in_any_function_log(stage: Stage) -> None:
    logs = list((stage.state_dir / "logs").glob("*.log"))
    assert len(logs) == 4  # webhook, consumer, DLQ processor and the widget's edge all ran
    secrets = [stage.description["webhook_secret"], DEFAULT_TOKEN]
    for log in logs:
        text = log.read_text()
        assert text, log
        for secret in secrets:
            assert secret not in text, f"{log.name} leaks a secret"


def test_ctrl_c_stops_everything(stage: Stage) -> None:
    urls = [
        stage.description["webhook_url"],
        stage.description["aws_endpoint_url"],
        stage.description["telegram_api_url"],
    ]
    assert all(listening(url) for url in urls)
    stage.process.send_signal(signal.SIGINT)
    assert stage.process.wait(60) == 0
    assert not any(listening(url) for url in urls)
    assert not (stage.state_dir / "stage.json").exists()
    assert "stopped: moto, local runtime and Telegram link are down." in stage.text()
