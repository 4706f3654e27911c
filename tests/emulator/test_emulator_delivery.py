"""Update delivery: webhook (secret, retries, one in flight per chat), long polling, faults."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from telegram.error import NetworkError, TimedOut

from devkit.telegram_emulator.client import BotApiError, EmulatorClient
from devkit.telegram_emulator.testing import RunningEmulator, ptb_bot

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")


def chat_of(update: dict[str, Any]) -> int:
    for key, value in update.items():
        if key != "update_id":
            return int(value["chat"]["id"])
    raise AssertionError(update)


@dataclass
class Receiver:
    """A tiny webhook endpoint on 127.0.0.1 that records what arrives."""

    url: str = ""
    hold: float = 0.0
    fail_first: int = 0
    calls: list[tuple[int, int, str | None, int]] = field(default_factory=list)
    in_flight: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    max_per_chat: int = 0
    max_total: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        chat = chat_of(update)
        self.in_flight[chat] += 1
        self.max_per_chat = max(self.max_per_chat, self.in_flight[chat])
        self.max_total = max(self.max_total, sum(self.in_flight.values()))
        try:
            if self.hold:
                await asyncio.sleep(self.hold)
            status = 500 if len(self.calls) < self.fail_first else 200
            secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
            self.calls.append((update["update_id"], chat, secret, status))
            return web.Response(status=status)
        finally:
            self.in_flight[chat] -= 1

    def delivered(self) -> list[tuple[int, int]]:
        return [(u, c) for u, c, _, status in self.calls if status == 200]


@asynccontextmanager
async def receiver(**options: Any) -> AsyncIterator[Receiver]:
    recv = Receiver(**options)
    app = web.Application()
    app.router.add_post("/hook", recv.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    recv.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield recv
    finally:
        await runner.cleanup()


async def wait_for(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def test_webhook_secret_retries_and_one_in_flight_per_chat(
    fast_emulator: RunningEmulator,
) -> None:
    client = fast_emulator.client
    alice = client.create_user("Alice", started=True)["user_id"]
    bob = client.create_user("Bob", started=True)["user_id"]
    for i in range(3):  # queued while nobody listens: both chats are ready at once
        client.send_as_user(alice, f"a{i}")
        client.send_as_user(bob, f"b{i}")

    async def scenario() -> tuple[Receiver, dict[str, Any]]:
        async with receiver(hold=0.1, fail_first=1) as recv:
            await asyncio.to_thread(
                client.bot_api, "setWebhook", url=recv.url, secret_token="s3cr3t-token"
            )
            await wait_for(lambda: len(recv.delivered()) == 6)
            info = await asyncio.to_thread(client.bot_api, "getWebhookInfo")
            return recv, info

    recv, info = asyncio.run(scenario())
    assert {secret for _, _, secret, _ in recv.calls} == {"s3cr3t-token"}
    failed = [(u, c) for u, c, _, status in recv.calls if status == 500]
    assert len(failed) == 1
    assert failed[0] in recv.delivered()  # the same update again after the 500
    for chat in (alice, bob):
        ids = [u for u, c in recv.delivered() if c == chat]
        assert len(ids) == 3 and ids == sorted(ids)
    assert recv.max_per_chat == 1
    assert recv.max_total == 2  # the two chats in parallel
    assert info["pending_update_count"] == 0
    assert (
        info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
    )
    assert info["url"] == recv.url


def test_webhook_connection_errors_are_retried_and_reported(
    fast_emulator: RunningEmulator,
) -> None:
    client = fast_emulator.client
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    alice = client.create_user("Alice", started=True)["user_id"]
    client.bot_api("setWebhook", url=f"http://127.0.0.1:{port}/hook")
    client.send_as_user(alice, "hello?")
    deadline = time.monotonic() + 10
    while len(client.deliveries()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    attempts = client.deliveries()
    assert len(attempts) >= 2 and all(a["error"] == "Connection refused" for a in attempts)
    info = client.bot_api("getWebhookInfo")
    assert info["pending_update_count"] == 1
    assert info["last_error_message"] == "Connection refused"
    assert info["last_error_date"] > 0


def test_get_updates_offset_limit_and_conflict(fast_emulator: RunningEmulator) -> None:
    client = fast_emulator.client
    alice = client.create_user("Alice", started=True)["user_id"]
    for i in range(3):
        client.send_as_user(alice, f"m{i}")
    first = client.bot_api("getUpdates")
    assert [u["message"]["text"] for u in first] == ["m0", "m1", "m2"]
    assert client.bot_api("getUpdates") == first  # unconfirmed: served again
    ids = [u["update_id"] for u in first]
    assert client.bot_api("getUpdates", offset=ids[1]) == first[1:]  # confirms ids[0]
    assert client.bot_api("getUpdates", limit=1) == first[1:2]
    assert client.bot_api("getUpdates", offset=-1) == first[2:]
    assert client.bot_api("getUpdates", offset=ids[2] + 1) == []
    assert client.pending_updates() == []

    client.bot_api("setWebhook", url="http://127.0.0.1:9/hook")
    with pytest.raises(BotApiError) as info:
        client.bot_api("getUpdates")
    assert info.value.error_code == 409
    assert info.value.description == (
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first"
    )
    client.bot_api("deleteWebhook", drop_pending_updates=True)
    assert client.bot_api("getUpdates") == []


def test_long_polling_wakes_on_update_and_newer_poll_wins(fast_emulator: RunningEmulator) -> None:
    client = fast_emulator.client
    alice = client.create_user("Alice", started=True)["user_id"]
    results: dict[str, Any] = {}

    def poll(name: str, **params: Any) -> None:
        try:
            results[name] = EmulatorClient(fast_emulator.base_url, fast_emulator.token).bot_api(
                "getUpdates", **params
            )
        except BotApiError as exc:
            results[name] = exc

    older = threading.Thread(target=poll, args=("older",), kwargs={"timeout": 20})
    older.start()
    while not [c for c in client.calls("getUpdates")]:
        time.sleep(0.01)
    newer = threading.Thread(target=poll, args=("newer",), kwargs={"timeout": 20})
    newer.start()
    older.join(10)
    assert isinstance(results["older"], BotApiError)
    assert results["older"].error_code == 409
    assert "terminated by other getUpdates request" in results["older"].description
    client.send_as_user(alice, "wake up")
    newer.join(10)
    assert [u["message"]["text"] for u in results["newer"]] == ["wake up"]


def test_allowed_updates_and_update_kinds(fast_emulator: RunningEmulator) -> None:
    client = fast_emulator.client
    alice = client.create_user("Alice", started=True)["user_id"]
    sent = client.bot_api("sendMessage", chat_id=alice, text="rate me")
    client.react_as_user(alice, sent["message_id"], "👍")  # not delivered by default
    client.block_bot(alice)
    kinds = [next(k for k in u if k != "update_id") for u in client.bot_api("getUpdates")]
    assert kinds == ["my_chat_member"]
    update = client.bot_api("getUpdates")[0]["my_chat_member"]
    assert update["old_chat_member"]["status"] == "member"
    assert update["new_chat_member"]["status"] == "kicked"
    assert update["new_chat_member"]["user"]["id"] == fast_emulator.bot_id

    last = client.bot_api("getUpdates")[-1]["update_id"]
    client.bot_api("getUpdates", offset=last + 1, allowed_updates=["message_reaction"])
    client.unblock_bot(alice)  # my_chat_member: filtered out now
    client.react_as_user(alice, sent["message_id"], "🔥")
    client.send_as_user(alice, "filtered too")
    updates = client.bot_api("getUpdates")
    assert [next(k for k in u if k != "update_id") for u in updates] == ["message_reaction"]
    reaction = updates[0]["message_reaction"]
    assert reaction["old_reaction"] == [{"type": "emoji", "emoji": "👍"}]
    assert reaction["new_reaction"] == [{"type": "emoji", "emoji": "🔥"}]


def test_duplicate_and_reordered_deliveries(fast_emulator: RunningEmulator) -> None:
    client = fast_emulator.client
    alice = client.create_user("Alice", started=True)["user_id"]
    bob = client.create_user("Bob", started=True)["user_id"]
    client.send_as_user(alice, "first")
    client.send_as_user(bob, "second")
    client.set_fault(duplicate_deliveries=1, reorder_across_chats=True)

    async def scenario() -> Receiver:
        async with receiver() as recv:
            await asyncio.to_thread(client.bot_api, "setWebhook", url=recv.url, max_connections=1)
            await wait_for(lambda: len(recv.calls) == 3)
            await asyncio.sleep(0.05)
            return recv

    recv = asyncio.run(scenario())
    chats = [c for _, c, _, _ in recv.calls]
    assert chats == [bob, bob, alice]  # newest chat first, and its update twice
    assert recv.calls[0][0] == recv.calls[1][0]


def test_method_faults_errors_hangs_and_latency(fast_emulator: RunningEmulator) -> None:
    client = fast_emulator.client
    alice = client.create_user("Alice", started=True)["user_id"]
    client.set_fault("sendMessage", status=500, times=2)
    client.set_fault("getChat", hang=0.5)

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {"errors": []}
        async with ptb_bot(fast_emulator) as bot:
            for _ in range(2):
                try:
                    await bot.send_message(alice, "hello")
                except NetworkError as exc:
                    out["errors"].append(exc)
            out["third"] = await bot.send_message(alice, "hello")
            try:
                await bot.get_chat(alice, read_timeout=0.1)
            except TimedOut as exc:
                out["timed_out"] = exc
        return out

    out = asyncio.run(scenario())
    assert len(out["errors"]) == 2
    assert "Internal Server Error" in str(out["errors"][0])
    assert out["third"].text == "hello"
    assert isinstance(out["timed_out"], TimedOut)
    assert [m["text"] for m in client.transcript(alice)] == ["hello"]
    assert [c["status"] for c in client.calls("sendMessage")] == [500, 500, 200]
    faults = client.set_fault(latency=0.01)["methods"]
    assert [(f["latency"], f["times"]) for f in faults] == [(0.01, None)]  # until cleared
    assert client.bot_api("getMe")["id"] == fast_emulator.bot_id
    assert client.bot_api("getMe")["id"] == fast_emulator.bot_id
    assert client.clear_faults()["methods"] == []
