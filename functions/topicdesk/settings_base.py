"""What every function's settings share, and the webhook's own settings.

Apart from ``topicdesk.settings`` because of what that module imports: the consumer's, the
inbox's and the widget's settings need domain modules (business hours, the limiter, the widget
edge), about 45 ms of the webhook's cold import for nothing the webhook reads. This module
imports only the contract; ``topicdesk.settings`` re-exports everything here, so every other
function still finds its settings there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from topicdesk.contract import Env


class SettingsError(ValueError):
    """A required environment variable is missing or malformed."""


def parse_chat_ids(raw: str) -> tuple[int, ...]:
    ids: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ids.append(int(part))
        except ValueError:
            raise SettingsError(f"{Env.OPERATOR_CHAT_IDS}: {part!r} is not a chat id") from None
    if not ids:
        raise SettingsError(f"{Env.OPERATOR_CHAT_IDS} names no chat")
    return tuple(ids)


def required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is not set")
    return value


def environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


@dataclass(frozen=True)
class WebhookSettings:
    updates_queue_url: str
    webhook_secret_name: str
    operator_chat_ids: tuple[int, ...]
    """With people's private chats, the only chats whose updates are queued."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebhookSettings:
        env = environ(env)
        return cls(
            updates_queue_url=required(env, Env.UPDATES_QUEUE_URL),
            webhook_secret_name=required(env, Env.WEBHOOK_SECRET_NAME),
            operator_chat_ids=parse_chat_ids(required(env, Env.OPERATOR_CHAT_IDS)),
        )
