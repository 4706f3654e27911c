"""`make local`: Topicdesk on this machine, no AWS account, no internet.

moto's server plays AWS and receives the ordinary `cdk deploy` of the `local` stage; the local
Lambda runtime then reads what was deployed (functions, handlers, environment, code, event
source mappings) and plays Lambda: the webhook's Function URL on localhost, pollers driving
the SQS event source mappings. Telegram is the project's emulator unless TELEGRAM_API_URL or
TELEGRAM_BOT_TOKEN says otherwise (see local/telegram_link.py).

    python -m local.stage [--no-demo] [--exit-after-demo] [--port 8080] [--env NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topicdesk.contract import Env, Output

from devkit.lambda_runtime.runtime import LocalRuntime
from devkit.lambda_runtime.sqs_source import BatchOutcome
from devkit.moto import REGION, MotoServer, client
from devkit.telegram_emulator import EmulatorClient, Limits
from local.deployment import Deployment, read_deployment
from local.moto_stage import deploy_local_stage, local_stage, start_moto
from local.telegram_link import TelegramLink, TelegramLinkError
from local.widget_stage import DEFAULT_SITE_PORT, LocalWidget

ROOT = Path(__file__).resolve().parent.parent
# TOPICDESK_LOCAL_DIR moves the stage's state (stage.json, logs, unpacked code) elsewhere,
# e.g. for a test that must not disturb a developer's running stage.
STATE_DIR = Path(os.environ.get("TOPICDESK_LOCAL_DIR") or ROOT / ".local").resolve()
STAGE_FILE = STATE_DIR / "stage.json"
logger = logging.getLogger("local.stage")


def say(text: str) -> None:
    print(text, flush=True)


@dataclass
class RunningStage:
    moto: MotoServer
    runtime: LocalRuntime
    telegram: TelegramLink
    outputs: dict[str, str]
    deployment: Deployment
    operator_chat_ids: list[int]
    description: dict[str, Any]
    widget: LocalWidget | None = None
    """The WebSocket API and the demo page (when the stage has widget projects)."""

    def emulated_operator(self, client: EmulatorClient) -> int:
        """On the emulator: the person the first operators' group was made with (its human
        administrator)."""
        members = client.bot_api("getChatAdministrators", chat_id=self.operator_chat_ids[0])
        return int(next(m for m in members if not m["user"]["is_bot"])["user"]["id"])

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.telegram.disconnect()
        if self.widget is not None:
            self.widget.stop()
        self.runtime.stop()
        self.moto.stop()
        with contextlib.suppress(FileNotFoundError):
            STAGE_FILE.unlink()


def _overrides(args: argparse.Namespace, link: TelegramLink) -> dict[str, str]:
    overrides = {Env.TELEGRAM_API_URL: link.api_url}
    chat = os.environ.get("OPERATOR_CHAT_ID", "").strip()
    if chat:
        try:
            int(chat)
        except ValueError:
            raise SystemExit(f"local stage: OPERATOR_CHAT_ID={chat!r} is not a chat id") from None
        overrides[Env.OPERATOR_CHAT_IDS] = chat
    for item in args.env or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"local stage: --env {item!r} is not NAME=VALUE")
        overrides[name] = value
    return overrides


def _on_batch(function: str, outcome: BatchOutcome) -> None:
    if outcome.function_error:
        logger.warning(
            "%s: batch of %d failed: %s", function, outcome.received, outcome.function_error
        )


def start_stage(
    args: argparse.Namespace,
    *,
    on_moto: Callable[[str], dict[str, str]] | None = None,
    emulator_limits: Limits | None = None,
    context: dict[str, str] | None = None,
) -> RunningStage:
    """Start moto, deploy, start the runtime and link Telegram. ``on_moto`` (for harnesses)
    gets moto's endpoint and returns extra function environment (e.g. fault proxies);
    ``context``: stage settings changed for this deploy (``cdk deploy -c key=value``)."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    say("▶ starting moto (emulated AWS) on 127.0.0.1 …")
    moto = start_moto(log_path=STATE_DIR / "moto.log")
    try:
        say(f"  moto on {moto.endpoint} (pid {moto.pid})")
        say("▶ cdk deploy -c stage=local (to moto) …")
        outputs = deploy_local_stage(
            moto.endpoint,
            output_dir=STATE_DIR / "cdk.out",
            log_path=STATE_DIR / "cdk-deploy.log",
            context=context,
        )
        say(f"  deployed in {time.monotonic() - started:.0f} s")
        widget = LocalWidget.start(
            moto.endpoint, outputs, site_port=getattr(args, "widget_port", 0)
        )
        link = TelegramLink.choose(dict(os.environ), emulator_limits=emulator_limits)
        say(f"▶ Telegram: {link.mode} at {link.api_url}")
        secrets = client("secretsmanager", moto.endpoint)
        secrets.put_secret_value(
            SecretId=outputs[Output.BOT_TOKEN_SECRET_NAME], SecretString=link.token
        )
        webhook_secret = secrets.get_secret_value(SecretId=outputs[Output.WEBHOOK_SECRET_NAME])[
            "SecretString"
        ]
        deployment = read_deployment(
            moto.endpoint,
            outputs,
            stack_name=local_stage().stack_name,
            code_root=STATE_DIR / "functions",
            log_dir=STATE_DIR / "logs",
            environment_overrides={
                **(widget.environment if widget else {}),
                **_overrides(args, link),
                **(on_moto(moto.endpoint) if on_moto else {}),
            },
        )
        (STATE_DIR / "logs").mkdir(exist_ok=True)
        consumer_env = deployment.functions[outputs[Output.CONSUMER_FUNCTION_NAME]].environment
        chats = [int(c) for c in consumer_env[Env.OPERATOR_CHAT_IDS].split(",") if c.strip()]
        if link.emulator is not None:
            for index, chat_id in enumerate(chats):
                link.emulator.create_forum_group(
                    title="Support" if index == 0 else f"Support {index + 1}",
                    operator_names=["Olga"],
                    chat_id=chat_id,
                )
        runtime = LocalRuntime(
            sqs=client("sqs", moto.endpoint),
            functions=deployment.functions,
            mappings=deployment.mappings,
            url_function=deployment.url_function,
            url_port=args.port,
            on_batch=_on_batch,
            pool_sizes={widget.api.spec.routes["$connect"].function: 4} if widget else None,
        )
        runtime.start()
        if widget is not None:
            widget.attach(runtime.pools)
        link.connect(runtime.url, webhook_secret)
    except BaseException:
        moto.stop()
        raise
    description = {
        "stage": "local",
        "pid": os.getpid(),
        "region": REGION,
        "aws_endpoint_url": moto.endpoint,
        "webhook_url": runtime.url,
        "webhook_secret": webhook_secret,
        "telegram_mode": link.mode,
        "telegram_api_url": link.api_url,
        "operator_chat_ids": chats,
        "updates_queue_url": outputs[Output.UPDATES_QUEUE_URL],
        "dead_letter_queue_url": outputs[Output.DEAD_LETTER_QUEUE_URL],
        "data_table": outputs[Output.DATA_TABLE_NAME],
        "limits_table": outputs[Output.LIMITS_TABLE_NAME],
        "idempotency_table": outputs[Output.IDEMPOTENCY_TABLE_NAME],
        "logs": str(STATE_DIR / "logs"),
    }
    if widget is not None:
        description["widget_ws_url"] = widget.api.url
        description["widget_demo_url"] = widget.demo_url
    STAGE_FILE.write_text(json.dumps(description, indent=2) + "\n")
    return RunningStage(moto, runtime, link, outputs, deployment, chats, description, widget)


def print_block(stage: RunningStage) -> None:
    width = max(map(len, stage.description))
    say("")
    say("━━━━━━━━━━ Topicdesk local stage is ready ━━━━━━━━━━")
    for key, value in stage.description.items():
        say(f"  {key:<{width}}  {value}")
    say(f"  (also in {STAGE_FILE}; Ctrl-C stops everything)")
    say("━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━")


@contextlib.contextmanager
def interrupts_as_exit() -> Iterator[threading.Event]:
    stop = threading.Event()

    def handle(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.stage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=0, help="webhook port (default: any free)")
    parser.add_argument("--no-demo", action="store_true", help="skip the scripted demo")
    parser.add_argument(
        "--widget-port",
        type=int,
        default=DEFAULT_SITE_PORT,
        help=f"the widget demo page's port (default {DEFAULT_SITE_PORT}, an allowed origin)",
    )
    parser.add_argument("--exit-after-demo", action="store_true")
    parser.add_argument(
        "--env",
        action="append",
        metavar="NAME=VALUE",
        help="override a function environment variable (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        stage = start_stage(args)
    except (TelegramLinkError, RuntimeError) as error:
        print(f"local stage: {error}", file=sys.stderr)
        return 1
    try:
        print_block(stage)
        with interrupts_as_exit() as stop:
            if stage.telegram.emulator is not None and not args.no_demo:
                from local.demo import DemoFailed, run_demo

                try:
                    run_demo(stage, stop)
                except DemoFailed as error:
                    print(f"local stage: {error} (logs in {STATE_DIR / 'logs'})", file=sys.stderr)
                    return 1
                if args.exit_after_demo:
                    return 0
            say("Waiting for updates (Ctrl-C to stop) …")
            stop.wait()
    finally:
        say("▶ stopping …")
        stage.stop()
        say("stopped: moto, local runtime and Telegram link are down.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
