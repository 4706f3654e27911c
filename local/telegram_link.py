"""How the local stage talks to Telegram, in the issue's order of choice:

1. ``TELEGRAM_API_URL`` set: any Bot API server (self-hosted, the emulator run on its own):
   ``setWebhook`` there with the local webhook URL and secret; updates arrive by webhook.
2. ``TELEGRAM_BOT_TOKEN`` alone: real Telegram, which cannot reach localhost: delete the
   webhook and long-poll ``getUpdates``, feeding each update to the local webhook with the
   secret header; an offset is confirmed only after the webhook answered 200.
3. Neither: the project's emulator, in-process, with a bot and an operators' forum group.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from topicdesk.contract import ALLOWED_UPDATES, DEFAULT_TELEGRAM_API_URL, Env

from devkit.telegram_emulator import DEFAULT_TOKEN, EmulatorServer, Limits
from ops.resources import OpsError
from ops.telegram import call

logger = logging.getLogger(__name__)

PUBLIC_API = DEFAULT_TELEGRAM_API_URL
POLL_TIMEOUT_SECONDS = 25


class TelegramLinkError(RuntimeError):
    pass


def bot_api(
    api_url: str, token: str, method: str, http_timeout: float = 35.0, **params: Any
) -> Any:
    try:
        return call(api_url, token, method, http_timeout=http_timeout, **params)
    except OpsError as error:
        raise TelegramLinkError(str(error)) from None


@dataclass
class TelegramLink:
    mode: str
    """`emulator`, `api` (a Bot API server by URL) or `polling` (real Telegram)."""
    api_url: str
    token: str
    emulator: EmulatorServer | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    forwarded: int = 0

    @classmethod
    def choose(cls, env: dict[str, str], *, emulator_limits: Limits | None = None) -> TelegramLink:
        api_url = env.get(Env.TELEGRAM_API_URL, "").strip().rstrip("/")
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if api_url:
            return cls("api", api_url, token or DEFAULT_TOKEN)
        if token:
            return cls("polling", PUBLIC_API, token)
        server = (
            EmulatorServer(limits=emulator_limits) if emulator_limits else EmulatorServer()
        ).start_in_thread()
        return cls("emulator", server.base_url, server.token, emulator=server)

    def connect(self, webhook_url: str, secret: str) -> None:
        """Make updates reach the local webhook."""
        if self.mode == "polling":
            bot_api(self.api_url, self.token, "deleteWebhook")
            self._thread = threading.Thread(
                target=self._poll, args=(webhook_url, secret), name="telegram-poll", daemon=True
            )
            self._thread.start()
            return
        bot_api(
            self.api_url,
            self.token,
            "setWebhook",
            url=webhook_url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            max_connections=10,
        )

    def _poll(self, webhook_url: str, secret: str) -> None:
        offset = 0
        while not self._stop.is_set():
            try:
                updates = bot_api(
                    self.api_url,
                    self.token,
                    "getUpdates",
                    http_timeout=POLL_TIMEOUT_SECONDS + 10,
                    offset=offset,
                    allowed_updates=ALLOWED_UPDATES,
                    timeout=POLL_TIMEOUT_SECONDS,
                )
            except TelegramLinkError as error:
                logger.warning("getUpdates failed: %s", error)
                self._stop.wait(3)
                continue
            for update in updates:
                if not self._forward(webhook_url, secret, update):
                    break  # keep the offset: Telegram gives it to us again
                offset = int(update["update_id"]) + 1
                self.forwarded += 1

    def _forward(self, webhook_url: str, secret: str, update: dict[str, Any]) -> bool:
        request = urllib.request.Request(  # noqa: S310 - our own loopback webhook
            webhook_url,
            data=json.dumps(update).encode(),
            headers={
                "content-type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": secret,
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError) as error:
            logger.warning("local webhook refused update %s: %s", update.get("update_id"), error)
            self._stop.wait(1)
            return False

    def disconnect(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(POLL_TIMEOUT_SECONDS + 15)
        if self.mode != "polling":
            try:
                bot_api(self.api_url, self.token, "deleteWebhook", http_timeout=5)
            except TelegramLinkError as error:
                logger.info("deleteWebhook on the way out: %s", error)
        if self.emulator is not None:
            self.emulator.stop_thread()
