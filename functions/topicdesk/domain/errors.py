"""Domain errors. Adapters translate Telegram and AWS failures into these at the edge."""

from __future__ import annotations


class TopicdeskError(Exception):
    """Base of every domain error."""


class DeliveryError(TopicdeskError):
    """A Telegram call did not succeed."""


class RateLimited(DeliveryError):
    """Telegram (or our shared limiter) says: not before ``retry_after`` seconds."""

    def __init__(self, retry_after: float, *, key: str = "telegram") -> None:
        super().__init__(f"rate limited on {key}: retry after {retry_after:.2f}s")
        self.retry_after = retry_after
        self.key = key

    @property
    def by_telegram(self) -> bool:
        """Telegram's 429, not our own limiter's wait."""
        return self.key == "telegram"

    @property
    def booked(self) -> bool:
        """Our shared limiter's wait: the record's slot is booked, so it may come back a
        little early and sleep the rest. Every other wait (Telegram's 429, a person's pace,
        an album's rest) is to be waited out in full."""
        return self.key.split("#", 1)[0] in BOOKED_KEYS


BOOKED_KEYS = frozenset({"bot", "chat", "group", "topics"})
"""The shared limiter's key families (``topicdesk.domain.limiter.rules_for``)."""


class TransientFailure(DeliveryError):
    """Network error, timeout or a 5xx: worth retrying with backoff."""


class RecipientBlocked(DeliveryError):
    """403: the person blocked the bot (or deactivated their account)."""


class TopicMissing(DeliveryError):
    """The forum topic was deleted (`message thread not found`, `TOPIC_DELETED`)."""


class TopicClosed(DeliveryError):
    """The forum topic is closed and the bot may not write into it (`TOPIC_CLOSED`)."""


class NotCopyable(DeliveryError):
    """The message cannot be copied (service messages, some paid media, ...)."""


class MessageGone(DeliveryError):
    """The message to copy, edit or reply to no longer exists."""


class NotModified(DeliveryError):
    """An edit that changes nothing."""


class ChatMigrated(DeliveryError):
    """A group was upgraded to a supergroup; it now lives at ``new_chat_id``."""

    def __init__(self, new_chat_id: int) -> None:
        super().__init__(f"the group was upgraded to supergroup {new_chat_id}; configure that id")
        self.new_chat_id = new_chat_id


class Unauthorized(DeliveryError):
    """401: the bot token is wrong or was revoked (its text never carries the token)."""


class RejectedByTelegram(DeliveryError):
    """Any other refusal (400/401/404...). Not retried in-process; the record fails."""

    def __init__(self, description: str, *, code: int | None = None) -> None:
        super().__init__(description)
        self.code = code


class TopicBeingCreated(TopicdeskError):
    """Another worker holds the claim to create this person's topic; retry shortly."""


class StorageUnavailable(TopicdeskError):
    """DynamoDB/SQS throttled or failed; the record is retried."""
