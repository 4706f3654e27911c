"""The new-people line's shared facts, next to its places (``newtopics#<chat>``) in the limits
table (``LIMITS_TABLE``): ``line#<chat>`` holds when the current burst of waiting ends, the
burst's note and when it was last written. Each waiting person's own place (when it is due)
is kept in their partition of the data table (``PERSON#<user>`` / ``LINE#<chat>``), so that
erasing the person takes it along and any record of theirs finds it. Conditional writes
only; items expire a day after the burst (or the place) ends."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from topicdesk.adapters.dynamodb.common import (
    conditional_failed,
    conditionally,
    decimal,
    storage_errors,
)
from topicdesk.adapters.dynamodb.sessions import person_partition

KEPT_AFTER_BURST_SECONDS = 24 * 3600


class DynamoWaitingLine:
    def __init__(self, table: Any, people: Any) -> None:
        """``table``: the limits table; ``people``: the data table (people's partitions)."""
        self._table = table
        self._people = people

    @staticmethod
    def _key(chat_id: int) -> dict[str, str]:
        return {"pk": f"line#{chat_id}"}

    @staticmethod
    def _place_key(chat_id: int, user_id: int) -> dict[str, str]:
        return {"pk": person_partition(user_id), "sk": f"LINE#{chat_id}"}

    def place_of(self, chat_id: int, user_id: int) -> float | None:
        with storage_errors():
            item = self._people.get_item(
                Key=self._place_key(chat_id, user_id), ConsistentRead=True
            ).get("Item")
        return float(item["due_at"]) if item else None

    def keep_place(self, chat_id: int, user_id: int, due: float) -> float | None:
        item = {
            **self._place_key(chat_id, user_id),
            "due_at": decimal(due),
            "expires_at": int(due) + KEPT_AFTER_BURST_SECONDS,
        }
        if conditionally(
            lambda: self._people.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        ):
            return None
        return self.place_of(chat_id, user_id)  # another of their records wrote it first

    def join(self, chat_id: int, until: float, now: float) -> bool:
        values = {":until": decimal(until), ":expires": int(until) + KEPT_AFTER_BURST_SECONDS}
        # A new burst forgets the last one's note.
        began = self._update(
            chat_id,
            "SET until_at = :until, expires_at = :expires REMOVE note_id, written_at",
            "attribute_not_exists(until_at) OR until_at < :now",
            {**values, ":now": decimal(now)},
        )
        if not began:  # a burst is on: it lasts until its last person's place at least
            self._update(
                chat_id, "SET until_at = :until, expires_at = :expires", "until_at < :until", values
            )
        return began

    def _update(self, chat_id: int, expression: str, condition: str, values: Any) -> bool:
        return conditionally(
            lambda: self._table.update_item(
                Key=self._key(chat_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        )

    def remember_note(self, chat_id: int, message_id: int, now: float) -> None:
        with storage_errors():
            self._table.update_item(
                Key=self._key(chat_id),
                UpdateExpression="SET note_id = :note, written_at = :now",
                ExpressionAttributeValues={":note": message_id, ":now": decimal(now)},
            )

    def note_to_edit(self, chat_id: int, now: float, every: float) -> int | None:
        """Claims the edit with a conditional write, so one instance edits per ``every``."""
        try:
            answer = self._table.update_item(
                Key=self._key(chat_id),
                UpdateExpression="SET written_at = :now",
                ConditionExpression="attribute_exists(note_id) AND written_at <= :due",
                ExpressionAttributeValues={":now": decimal(now), ":due": decimal(now - every)},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if conditional_failed(error):
                return None  # no note yet, or written lately
            with storage_errors():
                raise
        except BotoCoreError:
            with storage_errors():
                raise
        note = answer.get("Attributes", {}).get("note_id")
        return int(note) if note is not None else None
