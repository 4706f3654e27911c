"""Run the emulator on its own: ``python -m devkit.telegram_emulator --port 8081``.

Serves on 127.0.0.1, seeds a bot, an operators' forum group and a few people,
prints the base URL, the token and the ids, and stops cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys

from .limits import Limits
from .server import DEFAULT_TOKEN, EmulatorServer


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devkit.telegram_emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8081, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the seeded bot's token")
    parser.add_argument("--people", type=int, default=2, help="people to seed (started the bot)")
    parser.add_argument("--operators", type=int, default=2, help="operators in the forum group")
    parser.add_argument("--limits-scale", type=float, default=1.0, help="multiply all flood rates")
    parser.add_argument("--no-limits", action="store_true", help="switch flood control off")
    parser.add_argument(
        "--count-per-call",
        action="store_true",
        help="relaxed counting: one message per call (albums, copyMessages), createForumTopic"
        " not counted (default: every message and every createForumTopic counts)",
    )
    parser.add_argument("--no-seed", action="store_true", help="only the bot, nothing else")
    return parser.parse_args(argv)


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(
        scale=args.limits_scale,
        enabled=not args.no_limits,
        count_each_message=not args.count_per_call,
    )


async def _serve(args: argparse.Namespace) -> dict[str, object]:
    limits = _limits(args)
    server = EmulatorServer(port=args.port, token=args.token, limits=limits)
    await server.start()
    info: dict[str, object] = {
        "base_url": server.base_url,
        "api_url": server.api_url(),
        "ptb_base_url": f"{server.base_url}/bot",
        "token": server.token,
        "bot_id": server.bot_id,
        "bot_username": server.bot.user.username,
    }
    if not args.no_seed:
        names = ["Olga", "Oskar", "Omar", "Ona", "Otto"]
        group = server.control.create_group(
            {
                "title": "Topicdesk operators",
                "operator_names": [names[i % len(names)] for i in range(args.operators)],
            }
        )
        people = [
            server.control.create_user(
                {"first_name": name, "last_name": "Example", "started": True}
            )["user_id"]
            for name in ["Alice", "Bob", "Carol", "Dave", "Erin"][: args.people]
        ]
        info.update(
            operators_chat_id=group["chat_id"],
            operator_user_ids=group["operators"],
            person_user_ids=people,
        )
    print(json.dumps(info, indent=2), flush=True)
    print("Telegram Bot API emulator running; Ctrl-C to stop.", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return info


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
