"""The baseline: a naive Telegram webhook Lambda that does the work inline.

What many bots on Lambda look like: python-telegram-bot imported by the webhook itself, an
``Application`` with a handler, and each update processed before answering - here one
``copyMessage`` of the person's message into the operators' group, as the real relay would
(without topics, sessions, limits, retries or a queue). It is a generous baseline: the
Application is built and initialised once per container (not per request, as tutorials often
do), on one event loop that lives as long as the container.

Environment: ``NAIVE_BOT_TOKEN``, ``TELEGRAM_API_URL``, ``OPERATOR_CHAT_ID``,
``NAIVE_WEBHOOK_SECRET``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import os
from functools import cache
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters
from topicdesk.contract import Env


class NaiveBot:
    def __init__(self, token: str, api_url: str, operator_chat_id: int) -> None:
        self.operator_chat_id = operator_chat_id
        self.loop = asyncio.new_event_loop()
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(f"{api_url}/bot")
            .base_file_url(f"{api_url}/file/bot")
            .updater(None)
            .build()
        )
        self.application.add_handler(MessageHandler(filters.ChatType.PRIVATE, self._relay))
        self.loop.run_until_complete(self.application.initialize())

    async def _relay(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        await context.bot.copy_message(
            chat_id=self.operator_chat_id,
            from_chat_id=message.chat_id,
            message_id=message.message_id,
        )

    def process(self, data: dict[str, Any]) -> None:
        update = Update.de_json(data, self.application.bot)
        self.loop.run_until_complete(self.application.process_update(update))

    def close(self) -> None:
        self.loop.run_until_complete(self.application.shutdown())
        self.loop.close()


@cache
def bot() -> NaiveBot:
    return NaiveBot(
        os.environ["NAIVE_BOT_TOKEN"],
        os.environ[Env.TELEGRAM_API_URL],
        int(os.environ["OPERATOR_CHAT_ID"]),
    )


def _answer(status: int) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps({"ok": status == 200})}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["requestContext"]["http"]["method"] != "POST":
        return _answer(405)
    presented = (event.get("headers") or {}).get("x-telegram-bot-api-secret-token", "")
    if not hmac.compare_digest(presented.encode(), os.environ["NAIVE_WEBHOOK_SECRET"].encode()):
        return _answer(401)
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
        data = json.loads(raw)
    except (ValueError, binascii.Error):
        return _answer(400)
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return _answer(400)
    bot().process(data)  # PTB logs and swallows handler errors: the answer is 200 regardless
    return _answer(200)
