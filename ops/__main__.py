"""`python -m ops --stage STAGE COMMAND ...` (or `make ops STAGE=... ARGS="..."`).

webhook info | set | delete
dlq list
dlq replay ID | --all
dlq purge --older-than 7d
sessions show USER_ID
sessions erase USER_ID       (everything about the person, and their topic; prints what went)
secrets set-token            (reads the token without echo; or from stdin when piped)
stats --since 7d             (the inbox: opened, closed, response and resolution times)
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from topicdesk.adapters.aws import SqsUpdateQueue
from topicdesk.adapters.botapi_http import looks_like_token
from topicdesk.adapters.dynamodb import (
    DynamoDeadLetterArchive,
    DynamoFailureJournal,
    DynamoSessionRepository,
    DynamoStepLog,
)
from topicdesk.contract import ALLOWED_UPDATES, Output
from topicdesk.domain import texts
from topicdesk.domain.model import DeadLetter
from topicdesk.domain.routing import group_key, parse_update
from topicdesk.domain.steps import REPLAYED, update_key

from infra.config import ConfigError, load_stage_config
from ops.resources import ROOT, OpsError, StageResources, resolve
from ops.sessions import sessions_erase
from ops.stats import inbox_stats
from ops.telegram import call

DURATION = re.compile(r"^(\d+)([smhd])$")


def _secret(resources: StageResources, output: str) -> str:
    answer = resources.client("secretsmanager").get_secret_value(SecretId=resources.output(output))
    return str(answer["SecretString"]).strip()


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _stage_config_value(stage: str, name: str) -> Any:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    try:
        config = load_stage_config(lambda key: stage if key == "stage" else context.get(key))
    except ConfigError as error:
        raise OpsError(str(error)) from None
    return getattr(config, name)


# ----------------------------------------------------------------------------- webhook


def webhook_info(resources: StageResources, out: TextIO) -> int:
    token = _secret(resources, Output.BOT_TOKEN_SECRET_NAME)
    info = call(resources.telegram_api_url, token, "getWebhookInfo")
    for key in (
        "url",
        "pending_update_count",
        "max_connections",
        "allowed_updates",
        "last_error_date",
        "last_error_message",
    ):
        if key in info:
            out.write(f"{key}: {info[key]}\n")
    expected = resources.output(Output.WEBHOOK_URL)
    if info.get("url") != expected:
        out.write(f"warning: the webhook does not point at this stage ({expected})\n")
    return 0


def webhook_set(resources: StageResources, out: TextIO) -> int:
    token = _secret(resources, Output.BOT_TOKEN_SECRET_NAME)
    url = resources.output(Output.WEBHOOK_URL)
    max_connections = (
        40
        if resources.stage == "local"
        else _stage_config_value(resources.stage, "webhook_max_connections")
    )
    call(
        resources.telegram_api_url,
        token,
        "setWebhook",
        url=url,
        secret_token=_secret(resources, Output.WEBHOOK_SECRET_NAME),
        allowed_updates=ALLOWED_UPDATES,
        max_connections=max_connections,
    )
    out.write(f"webhook set to {url}\n")
    return 0


def webhook_delete(resources: StageResources, out: TextIO) -> int:
    token = _secret(resources, Output.BOT_TOKEN_SECRET_NAME)
    call(resources.telegram_api_url, token, "deleteWebhook")
    out.write("webhook deleted (updates now wait at Telegram for up to 24 h)\n")
    return 0


# ----------------------------------------------------------------------------- dead letters


def _archive(resources: StageResources) -> DynamoDeadLetterArchive:
    table = resources.resource("dynamodb").Table(resources.output(Output.DATA_TABLE_NAME))
    return DynamoDeadLetterArchive(table)


def dlq_list(resources: StageResources, out: TextIO) -> int:
    items = sorted(_archive(resources).list(), key=lambda d: d.last_failure_at)
    waiting = resources.client("sqs").get_queue_attributes(
        QueueUrl=resources.output(Output.DEAD_LETTER_QUEUE_URL),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    now = time.time()
    out.write(
        f"{len(items)} archived dead letter(s); "
        f"{int(waiting['ApproximateNumberOfMessages'])} waiting in the DLQ\n"
    )
    if items:
        out.write(f"{'id':<14} {'chat':<16} {'age':>7} {'tries':>5}  reason\n")
    for dead in items:
        chat = str(dead.chat_id) if dead.chat_id is not None else "-"
        out.write(
            f"{dead.archive_id:<14} {chat:<16} {_age(now - dead.last_failure_at):>7} "
            f"{dead.receive_count:>5}  {dead.reason[:90]}\n"
        )
    return 0


def _replay_order(items: Sequence[DeadLetter]) -> list[DeadLetter]:
    """Per chat, oldest update first (Telegram's update ids grow with time)."""
    return sorted(items, key=lambda d: (d.update_id is None, d.update_id or 0))


def dlq_replay(
    resources: StageResources, out: TextIO, archive_id: str | None, replay_all: bool
) -> int:
    archive = _archive(resources)
    if replay_all:
        items = _replay_order(archive.list())
    else:
        assert archive_id is not None
        found = archive.get(archive_id)
        if found is None:
            raise OpsError(f"no dead letter {archive_id!r}; see `dlq list`")
        items = [found]
    queue = SqsUpdateQueue(resources.client("sqs"), resources.output(Output.UPDATES_QUEUE_URL))
    table = resources.resource("dynamodb").Table(resources.output(Output.DATA_TABLE_NAME))
    journal, steps = DynamoFailureJournal(table), DynamoStepLog(table)
    replayed = skipped = 0
    stamp = int(time.time())
    for index, dead in enumerate(items, start=1):
        update = parse_update(dead.body)
        if update is None:
            out.write(f"skip {dead.archive_id}: the body is not an update (kept archived)\n")
            skipped += 1
            continue
        # A record for the replay to find: it resumes from it instead of taking the
        # session's mark (moved past this update by later messages) for "handled".
        steps.save(update_key(int(update["update_id"])), {REPLAYED: True})
        queue.enqueue(
            dead.body,
            group_id=dead.group_id or group_key(update),
            # A fresh dedup id: SQS must not drop it as a copy of the original.
            deduplication_id=f"{update['update_id']}-replay-{stamp}",
        )
        journal.clear(int(update["update_id"]))
        archive.delete(dead.archive_id)
        replayed += 1
        if len(items) > 20 and index % 20 == 0:
            out.write(f"  {index}/{len(items)}\n")
    out.write(f"replayed {replayed}, skipped {skipped}\n")
    return 0 if skipped == 0 else 1


UNPARK_MAX_BATCHES = 1000  # 10,000 messages per run: bounded, run it again for more


def dlq_purge(resources: StageResources, out: TextIO, older_than: str) -> int:
    match = DURATION.match(older_than)
    if not match:
        raise OpsError(f"--older-than {older_than!r}: use a number and s, m, h or d (e.g. 7d)")
    seconds = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    archive = _archive(resources)
    cutoff = time.time() - seconds
    purged = 0
    for dead in archive.list():
        if dead.last_failure_at < cutoff:
            archive.delete(dead.archive_id)
            purged += 1
    out.write(f"purged {purged} dead letter(s) older than {older_than}\n")
    return 0


def dlq_unpark(resources: StageResources, out: TextIO) -> int:
    """Move what the DLQ processor failed on (parked) back to the DLQ, once it is fixed:
    same message group, a fresh dedup id; each is deleted from parking only once sent."""
    sqs = resources.client("sqs")
    parking = resources.output(Output.PARKING_QUEUE_URL)
    dead_letters = resources.output(Output.DEAD_LETTER_QUEUE_URL)
    moved = 0
    for _ in range(UNPARK_MAX_BATCHES):
        answer = sqs.receive_message(
            QueueUrl=parking,
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["MessageGroupId"],
            WaitTimeSeconds=0,
        )
        messages = answer.get("Messages", [])
        if not messages:
            break
        for message in messages:
            sqs.send_message(
                QueueUrl=dead_letters,
                MessageBody=message["Body"],
                MessageGroupId=message.get("Attributes", {}).get("MessageGroupId", "unrouted"),
                MessageDeduplicationId=f"unpark-{message['MessageId']}",
            )
            sqs.delete_message(QueueUrl=parking, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    out.write(f"moved {moved} parked dead update(s) back to the DLQ\n")
    return 0


# ----------------------------------------------------------------------------- sessions


def sessions_show(resources: StageResources, out: TextIO, user_id: int) -> int:
    table = resources.resource("dynamodb").Table(resources.output(Output.DATA_TABLE_NAME))
    session = DynamoSessionRepository(table).get(user_id)
    if session is None:
        raise OpsError(f"no session for user {user_id}")
    out.write(texts.session_info(session) + "\n")
    out.write(f"operators' group: {session.operator_chat_id}, topic: {session.thread_id}\n")
    return 0


# ----------------------------------------------------------------------------- secrets


def secrets_set_token(resources: StageResources, out: TextIO, read_token: Callable[[], str]) -> int:
    token = read_token().strip()
    if not looks_like_token(token):
        raise OpsError("that does not look like a bot token (digits, a colon, then 8+ characters)")
    resources.client("secretsmanager").put_secret_value(
        SecretId=resources.output(Output.BOT_TOKEN_SECRET_NAME), SecretString=token
    )
    me = None
    try:
        me = call(resources.telegram_api_url, token, "getMe")
    except OpsError as error:
        out.write(f"token stored, but the Bot API did not accept it yet: {error}\n")
        return 1
    out.write(f"token stored for @{me.get('username')}; run `webhook set` to point it here\n")
    return 0


def _read_token() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Bot token (input hidden): ")
    return sys.stdin.readline()


# ----------------------------------------------------------------------------- main


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    root.add_argument("--stage", required=True, help="dev, prod, local, ...")
    area = root.add_subparsers(dest="area", required=True)
    webhook = area.add_parser("webhook").add_subparsers(dest="action", required=True)
    for action in ("info", "set", "delete"):
        webhook.add_parser(action)
    dlq = area.add_parser("dlq").add_subparsers(dest="action", required=True)
    dlq.add_parser("list")
    replay = dlq.add_parser("replay")
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument("archive_id", nargs="?")
    target.add_argument("--all", action="store_true")
    purge = dlq.add_parser("purge")
    purge.add_argument("--older-than", required=True)
    dlq.add_parser("unpark", help="move parked dead updates back to the DLQ")
    sessions = area.add_parser("sessions").add_subparsers(dest="action", required=True)
    show = sessions.add_parser("show")
    show.add_argument("user_id", type=int)
    erase = sessions.add_parser("erase", help="erase the person everywhere, delete their topic")
    erase.add_argument("user_id", type=int)
    secrets = area.add_parser("secrets").add_subparsers(dest="action", required=True)
    secrets.add_parser("set-token")
    stats = area.add_parser("stats", help="the inbox's stats per operators' group")
    stats.add_argument("--since", default="7d", help="7d, 24h, 90m, 2w")
    stats.set_defaults(action="show")
    return root


def run(
    argv: Sequence[str], out: TextIO = sys.stdout, read_token: Callable[[], str] = _read_token
) -> int:
    args = parser().parse_args(argv)
    resources = resolve(args.stage)
    match (args.area, args.action):
        case ("webhook", "info"):
            return webhook_info(resources, out)
        case ("webhook", "set"):
            return webhook_set(resources, out)
        case ("webhook", "delete"):
            return webhook_delete(resources, out)
        case ("dlq", "list"):
            return dlq_list(resources, out)
        case ("dlq", "replay"):
            return dlq_replay(resources, out, args.archive_id, args.all)
        case ("dlq", "purge"):
            return dlq_purge(resources, out, args.older_than)
        case ("dlq", "unpark"):
            return dlq_unpark(resources, out)
        case ("sessions", "show"):
            return sessions_show(resources, out, args.user_id)
        case ("sessions", "erase"):
            token = _secret(resources, Output.BOT_TOKEN_SECRET_NAME)
            return sessions_erase(resources, out, args.user_id, token)
        case ("secrets", "set-token"):
            return secrets_set_token(resources, out, read_token)
        case ("stats", "show"):
            chats = _stage_config_value(args.stage, "operator_chat_ids")
            return inbox_stats(resources, out, args.since, chats)
    raise OpsError(f"unknown command {args.area} {args.action}")


def main() -> int:
    try:
        return run(sys.argv[1:])
    except OpsError as error:
        print(f"ops: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
