"""Update delivery like Telegram's: per-bot queues, webhook pushes, long polling.

* Updates get increasing ``update_id``s per bot and are kept until delivered
  (webhook: a 2xx answer) or confirmed (``getUpdates`` with a higher ``offset``).
* ``allowed_updates`` filters updates when they are created (as documented, it
  does not affect updates already queued). The default (and ``[]``) is every
  type except ``chat_member``, ``message_reaction`` and ``message_reaction_count``.
* Webhook: each update is POSTed as JSON with ``X-Telegram-Bot-Api-Secret-Token``
  (when a secret is set). One update per chat is in flight at a time (a chat's
  updates arrive in order), different chats go in parallel up to
  ``max_connections``. A non-2xx answer, a refused connection or a timeout is
  retried with exponential backoff; ``getWebhookInfo`` shows
  ``pending_update_count``, ``last_error_date`` and ``last_error_message``.
* Long polling: ``getUpdates`` waits up to ``timeout`` seconds for updates; a
  newer ``getUpdates`` ends a waiting one with ``409 Conflict: terminated by
  other getUpdates request``; while a webhook is set it answers ``409``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from .errors import ApiError, conflict
from .faults import Faults

JSON = dict[str, Any]

NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class DeliveryOptions:
    webhook_timeout: float = 10.0
    retry_base: float = 0.5
    retry_max: float = 30.0
    max_long_poll: float = 50.0


@dataclass
class PendingUpdate:
    update_id: int
    kind: str
    payload: JSON
    chat_id: int
    created: float
    attempts: int = 0

    def to_json(self) -> JSON:
        return {"update_id": self.update_id, self.kind: self.payload}


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None = None
    has_custom_certificate: bool = False


@dataclass
class DeliveryRecord:
    update_id: int
    chat_id: int
    attempt: int
    status: int | None
    error: str | None
    started: float
    finished: float

    def to_json(self) -> JSON:
        return {
            "update_id": self.update_id,
            "chat_id": self.chat_id,
            "attempt": self.attempt,
            "status": self.status,
            "error": self.error,
            "started": self.started,
            "finished": self.finished,
        }


class BotUpdates:
    """The update queue of one bot and its delivery (webhook or getUpdates)."""

    def __init__(
        self,
        bot_id: int,
        all_types: list[str],
        options: DeliveryOptions,
        faults: Faults,
        wall_clock: Callable[[], float] = time.time,
        first_update_id: int = 100_000_001,
    ) -> None:
        self.bot_id = bot_id
        self.all_types = list(all_types)
        self.options = options
        self.faults = faults
        self._wall = wall_clock
        self.next_update_id = first_update_id
        self.pending: list[PendingUpdate] = []
        self.allowed: list[str] | None = None  # None: the default set
        self.webhook: WebhookConfig | None = None
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self.deliveries: list[DeliveryRecord] = []
        self.delivered_count = 0
        self._in_flight: set[int] = set()
        self._wakeup = asyncio.Event()
        self._poll_generation = 0
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._dropped = 0
        self._closed = False

    # ------------------------------------------------------------ queueing

    def accepts(self, kind: str) -> bool:
        if self.allowed is None or not self.allowed:
            return kind not in NOT_BY_DEFAULT
        return kind in self.allowed

    def enqueue(self, kind: str, payload: JSON, chat_id: int) -> PendingUpdate | None:
        if not self.accepts(kind):
            self._dropped += 1
            return None
        update = PendingUpdate(self.next_update_id, kind, payload, chat_id, time.monotonic())
        self.next_update_id += 1
        self.pending.append(update)
        self._wakeup.set()
        return update

    def set_allowed(self, allowed: list[str] | None) -> None:
        if allowed is None:
            return
        unknown = [a for a in allowed if a not in self.all_types]
        self.allowed = [a for a in allowed if a not in unknown]

    def drop_pending(self) -> None:
        self.pending = []
        self._wakeup.set()

    # ------------------------------------------------------------ getUpdates

    async def get_updates(
        self, offset: int | None, limit: int | None, wait_seconds: int | None
    ) -> list[JSON]:
        if self.webhook is not None:
            raise conflict(
                "can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first"
            )
        limit = 100 if limit is None or limit < 1 or limit > 100 else limit
        if offset is not None:
            if offset < 0:
                keep = -offset
                self.pending = self.pending[-keep:] if keep else []
            else:
                self.pending = [u for u in self.pending if u.update_id >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._wakeup.set()  # ends an older waiting call
        wait = min(float(wait_seconds or 0), self.options.max_long_poll)
        deadline = time.monotonic() + wait
        while not self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            if self._closed:
                return []
            if generation != self._poll_generation:
                raise conflict(
                    "terminated by other getUpdates request; "
                    "make sure that only one bot instance is running"
                )
            if self.webhook is not None:
                raise conflict(
                    "can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first"
                )
        batch = self.pending[:limit]
        self.delivered_count += len(batch)
        return [u.to_json() for u in batch]

    # ------------------------------------------------------------ webhook

    def set_webhook(self, config: WebhookConfig) -> None:
        self.webhook = config
        self.last_error_date = None
        self.last_error_message = None
        self._wakeup.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run_webhook())

    async def delete_webhook(self) -> None:
        self.webhook = None
        self._wakeup.set()
        await self._stop_worker()

    async def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        tasks = list(self._tasks)
        for task in [worker, *tasks]:
            if task is not None:
                task.cancel()
        for task in [worker, *tasks]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._in_flight.clear()

    async def close(self) -> None:
        self._closed = True
        self._wakeup.set()
        await self._stop_worker()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def webhook_info(self) -> JSON:
        info: JSON = {
            "url": self.webhook.url if self.webhook else "",
            "has_custom_certificate": bool(self.webhook and self.webhook.has_custom_certificate),
            "pending_update_count": len(self.pending),
        }
        if self.webhook is not None:
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.ip_address:
                info["ip_address"] = self.webhook.ip_address
            if self.allowed:
                info["allowed_updates"] = list(self.allowed)
        if self.last_error_date is not None:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message or ""
        return info

    def _eligible(self) -> list[PendingUpdate]:
        heads: dict[int, PendingUpdate] = {}
        for update in self.pending:
            if update.chat_id not in heads:
                heads[update.chat_id] = update
        ready = [u for c, u in heads.items() if c not in self._in_flight]
        ready.sort(key=lambda u: u.update_id, reverse=self.faults.reorder_across_chats)
        return ready

    async def _run_webhook(self) -> None:
        while self.webhook is not None:
            self._wakeup.clear()
            config = self.webhook
            for update in self._eligible():
                if len(self._in_flight) >= config.max_connections:
                    break
                self._in_flight.add(update.chat_id)
                task = asyncio.get_running_loop().create_task(self._deliver(config, update))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await self._wakeup.wait()

    def _session_for(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=False),
                json_serialize=_dumps,
            )
        return self._session

    async def _post(self, config: WebhookConfig, update: PendingUpdate) -> tuple[int | None, str]:
        headers = {"Content-Type": "application/json"}
        if config.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = config.secret_token
        timeout = aiohttp.ClientTimeout(total=self.options.webhook_timeout)
        try:
            async with self._session_for().post(
                config.url, data=_dumps(update.to_json()), headers=headers, timeout=timeout
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return response.status, ""
                return (
                    response.status,
                    f"Wrong response from the webhook: {response.status} {response.reason}",
                )
        except TimeoutError:
            return None, "Read timeout expired"
        except aiohttp.ClientConnectorError:
            return None, "Connection refused"
        except aiohttp.ClientError as exc:
            return None, f"Connection error: {exc.__class__.__name__}"

    async def _deliver(self, config: WebhookConfig, update: PendingUpdate) -> None:
        try:
            while self.webhook is config:
                if self.faults.webhook_latency:
                    await asyncio.sleep(self.faults.webhook_latency)
                update.attempts += 1
                started = time.monotonic()
                status, error = await self._post(config, update)
                self.deliveries.append(
                    DeliveryRecord(
                        update.update_id,
                        update.chat_id,
                        update.attempts,
                        status,
                        error or None,
                        started,
                        time.monotonic(),
                    )
                )
                if not error:
                    self.delivered_count += 1
                    if self.faults.duplicate_deliveries > 0:
                        self.faults.duplicate_deliveries -= 1
                        await self._post(config, update)  # a duplicate, as after a lost 200
                    if update in self.pending:
                        self.pending.remove(update)
                    return
                self.last_error_date = int(self._wall())
                self.last_error_message = error
                delay = min(
                    self.options.retry_max,
                    self.options.retry_base * (2 ** (update.attempts - 1)),
                )
                await asyncio.sleep(delay)
                if update not in self.pending:
                    return
        finally:
            self._in_flight.discard(update.chat_id)
            self._wakeup.set()

    # ------------------------------------------------------------ inspection

    def pending_json(self) -> list[JSON]:
        return [u.to_json() for u in self.pending]

    def stats(self) -> JSON:
        return {
            "pending": len(self.pending),
            "delivered": self.delivered_count,
            "webhook_attempts": len(self.deliveries),
            "webhook_failures": sum(1 for d in self.deliveries if d.error),
            "filtered_out": self._dropped,
            "next_update_id": self.next_update_id,
        }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


__all__ = [
    "NOT_BY_DEFAULT",
    "ApiError",
    "BotUpdates",
    "DeliveryOptions",
    "PendingUpdate",
    "WebhookConfig",
]
