"""`make reliability` / `python -m local.reliability [--only NAME ...] [--markdown]`

Starts the local stage once (moto + cdk deploy + local runtime + emulator), with fault proxies
in front of moto's DynamoDB and SQS, then runs each scenario and prints one row per scenario
and, last, `reliability: scenarios=N lost=L duplicated=D in_doubt=K reordered=R`.

*in_doubt* counts the extra copies that follow a send whose answer never reached the bot (the
emulator's call log marks the call ``answer_dropped``: Telegram acted, the bot cannot know and
sends again, which the Bot API cannot prevent). They are reported, not failed: the exit status
is 0 only when lost, duplicated and reordered are 0 (and no other check failed or timed out).

Telegram's limits and Topicdesk's are scaled by one common factor (SCALE) so the backlog
scenario takes a few minutes, not an hour. The queue keeps its deployed visibility timeout
(180 s, 6x the consumer's timeout): shortened, a batch slowed by a cold start under load came
back while still in flight and two consumers held one chat at once (seen: a reorder).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from topicdesk.contract import Env

from devkit.telegram_emulator import EmulatorClient, Limits
from local.reliability.aws_faults import FaultProxies
from local.reliability.harness import Harness, ReceiveCounter, Row, ScenarioTimeout, dumps
from local.reliability.scenarios import SCENARIOS
from local.stage import STATE_DIR, start_stage

SCALE = 50
CONTEXT = {"inbox": "true"}
"""The local stage as cdk.json has it, but with the inbox's schedules deployed."""
COLUMNS = (
    "updates in",
    "delivered",
    "lost",
    "duplicated",
    "in doubt",
    "reordered",
    "DLQ'd",
    "replayed",
)


def _environment(proxies: FaultProxies) -> list[str]:
    return [
        f"LIMIT_BOT_PER_SECOND={28 * SCALE}",
        f"LIMIT_CHAT_PER_SECOND={0.95 * SCALE}",
        f"LIMIT_GROUP_PER_MINUTE={19 * SCALE}",
        "LIMIT_PERSON_BURST=100000",  # the product's own pacing rule is not under test here
        # The new-people cap (60 an hour as shipped) scaled like the rest: the suite's ~300
        # new people fit in its burst. new-accounts puts it back at 60 to test it.
        f"{Env.LIMIT_NEW_TOPICS_PER_HOUR}={60 * SCALE}",
        # Deployed with the inbox (its sweep's function and rule: CONTEXT), off in the
        # consumer but for the inbox scenario, which turns it on: the others run as before.
        f"{Env.INBOX}=false",
        "RETRY_BASE_SECONDS=1",
        "MAX_ATTEMPTS=3",
        f"AWS_ENDPOINT_URL_DYNAMODB={proxies.proxies['dynamodb'].url}",
        f"AWS_ENDPOINT_URL_SQS={proxies.proxies['sqs'].url}",
    ]


def _cells(row: Row) -> list[str]:
    return [
        str(v)
        for v in (
            row.updates_in,
            row.delivered,
            row.lost,
            row.duplicated,
            row.in_doubt,
            row.reordered,
            row.dead_lettered,
            row.replayed,
        )
    ]


def print_row(row: Row) -> None:
    cells = "".join(f"{c:>11}" for c in _cells(row))
    print(f"{row.scenario:<42}{cells}  {row.seconds:6.1f}s  {row.notes}", flush=True)


def markdown(rows: list[Row]) -> str:
    lines = [
        "| scenario | " + " | ".join(COLUMNS) + " | seconds | notes |",
        "|---|" + "---:|" * len(COLUMNS) + "---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.scenario} | "
            + " | ".join(_cells(row))
            + f" | {row.seconds:.0f} | {row.notes} |"
        )
    return "\n".join(lines)


def summary(rows: list[Row], timed_out: int = 0) -> tuple[str, int]:
    """The last line and the exit status. In-doubt copies are told, never failed: the Bot API
    cannot prevent them (see the module's docstring); everything else that went wrong fails."""
    lost = sum(r.lost for r in rows)
    duplicated = sum(r.duplicated for r in rows)
    in_doubt = sum(r.in_doubt for r in rows)
    reordered = sum(r.reordered for r in rows)
    problems = sum(r.problems for r in rows)
    line = (
        f"reliability: scenarios={len(rows)} lost={lost} duplicated={duplicated} "
        f"in_doubt={in_doubt} reordered={reordered}"
        + (f" problems={problems}" if problems else "")
        + (f" timed_out={timed_out}" if timed_out else "")
    )
    failed = lost or duplicated or reordered or problems or timed_out
    return line, 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.reliability",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=None)
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = parser.parse_args(argv)
    # Always in the suite's order: the last ones leave state behind them (new-accounts).
    names = [name for name in SCENARIOS if not args.only or name in args.only]

    proxies = FaultProxies("dynamodb", "sqs")
    proxies.start()

    def upstream(endpoint: str) -> dict[str, str]:
        for proxy in proxies.proxies.values():
            proxy.upstream = endpoint
        return {}

    stage_args = argparse.Namespace(port=0, env=_environment(proxies), no_demo=True)
    started = time.monotonic()
    stage = start_stage(
        stage_args, on_moto=upstream, emulator_limits=Limits(scale=SCALE), context=CONTEXT
    )
    rows: list[Row] = []
    failures: list[str] = []
    try:
        assert stage.telegram.emulator is not None, "the suite runs on the emulator"
        emulator = EmulatorClient(stage.telegram.emulator.base_url, stage.telegram.token)
        group = stage.operator_chat_ids[0]
        operator = stage.emulated_operator(emulator)
        # The pollers' own ReceiveMessage answers tell the receive counts (busy-inbox reports
        # the highest, the figure maxReceiveCount is set from).
        receives = ReceiveCounter(stage.runtime._sqs)
        print(f"local stage up in {time.monotonic() - started:.0f} s; limits scaled x{SCALE}")
        print(f"{'scenario':<42}" + "".join(f"{c:>11}" for c in COLUMNS))
        for name in names:
            harness = Harness(
                stage,
                emulator,
                group,
                operator,
                proxies.proxies["dynamodb"],
                proxies.proxies["sqs"],
                receives=receives,
            )
            receives.reset()
            try:
                row = SCENARIOS[name](harness)
            except ScenarioTimeout as error:
                failures.append(f"{name}: {error}")
                proxies.proxies["dynamodb"].clear()
                proxies.proxies["sqs"].clear()
                emulator.clear_faults()
                continue
            rows.append(row)
            print_row(row)
    finally:
        stage.stop()
        proxies.stop()
    (STATE_DIR / "reliability.json").write_text(dumps(rows))
    if args.markdown:
        print()
        print(markdown(rows))
    for failure in failures:
        print(f"TIMED OUT {failure}", file=sys.stderr)
    line, status = summary(rows, len(failures))
    print(line)
    return status


if __name__ == "__main__":
    Path(STATE_DIR).mkdir(parents=True, exist_ok=True)
    sys.exit(main())
