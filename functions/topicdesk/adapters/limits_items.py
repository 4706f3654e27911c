"""Where each limiter key lives in the limits table (``LIMITS_TABLE``, key ``pk``), and the
one write that reserves an operators' group's slot and the bot's together.

A key is its own item (``tat``, ``hold_until``, TTL ``expires_at`` an hour past the TAT),
except an operators' group's (``kept_with_bot``): its TAT and hold are attributes of the
``bot`` item (``tat@group#<id>``, ``hold@group#<id>``), so a group send's two keys are one
conditional UpdateItem. The bot's item never expires (every write to it removes the TTL
attribute): it keeps the groups' bookings, hours ahead, which a TTL following the bot's own
TAT would drop. The groups are a handful (the stage's operators' groups), so the item stays
well under the 1 KB of one write unit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from topicdesk.domain.limiter import BOT_KEY, NEAR_SECONDS, Reservation, Rule, kept_with_bot

EXPIRY_SECONDS = 3600
TTL = "expires_at"


def location(key: str) -> tuple[str, str, str]:
    """(item, TAT attribute, hold attribute) of a limiter key."""
    if kept_with_bot(key):
        return BOT_KEY, f"tat@{key}", f"hold@{key}"
    return key, "tat", "hold_until"


def number(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))


def old_number(error: ClientError, attribute: str) -> float | None:
    """An attribute of the item a failed condition returned (``ALL_OLD``)."""
    value = (error.response.get("Item") or {}).get(attribute)
    if isinstance(value, dict) and "N" in value:  # low-level shape on a failed condition
        return float(value["N"])
    if isinstance(value, int | float | Decimal):
        return float(value)
    return None


def write(
    item: str,
    sets: str,
    condition: str | None,
    names: Mapping[str, str],
    values: Mapping[str, Any],
    expires: float,
) -> dict[str, Any]:
    """UpdateItem's arguments: ``sets`` (a SET clause's actions) and the item's TTL, an hour
    past ``expires`` (the furthest TAT the write may leave), or none for the bot's item.
    Placeholders the expressions do not use are left out (DynamoDB refuses them)."""
    if item == BOT_KEY:
        update = f"SET {sets} REMOVE {TTL}"
    else:
        update = f"SET {sets}, {TTL} = :expires"
        values = {**values, ":expires": int(expires) + EXPIRY_SECONDS}
    text = f"{update} {condition or ''}"
    arguments: dict[str, Any] = {
        "Key": {"pk": item},
        "UpdateExpression": update,
        "ExpressionAttributeNames": {k: v for k, v in names.items() if _uses(text, k)},
        "ExpressionAttributeValues": {k: v for k, v in values.items() if _uses(text, k)},
    }
    if condition:
        arguments["ConditionExpression"] = condition
    return arguments


def _uses(text: str, placeholder: str) -> bool:
    return re.search(re.escape(placeholder) + r"(?![\w])", text) is not None


def wait_after(rule: Rule, new_tat: float, now: float) -> float:
    """Seconds from ``now`` to the slot of the call that moved the TAT to ``new_tat``."""
    return max(0.0, new_tat - rule.cost + rule.lead - rule.tolerance - now)


class Pair:
    """A group send's two reservations in one conditional UpdateItem on the bot's item.

    Each key's condition has two forms, as a key alone does: idle (no TAT, or one in the
    past: the slot is ``now``) and busy (a TAT from ``now`` to the furthest acceptable one:
    the slot is the TAT). The group's busy form accepts only a near TAT (``NEAR_SECONDS``);
    the bot's slot starts at the group's (``:now`` or the group's TAT), so the bot is never
    reserved before the group's slot. The forms are guessed from the TATs last seen; a wrong
    guess fails the condition, whose ``ALL_OLD`` gives both TATs for the retry."""

    def __init__(
        self, group: Rule, bot: Rule, now: float, max_wait: float, bot_wait: float
    ) -> None:
        self.group, self.bot, self.now = group, bot, now
        self.near = now + min(NEAR_SECONDS, max_wait)
        self.latest = now + bot.tolerance + bot_wait - bot.lead
        self.item, self.group_tat, _ = location(group.key)

    @staticmethod
    def applies(group: Rule, bot: Rule) -> bool:
        """Both keys in one item, and the group's slot is its TAT (one message, no burst)."""
        return location(group.key)[0] == location(bot.key)[0] and not (
            group.lead or group.tolerance
        )

    def far(self, group_tat: float | None) -> bool:
        return group_tat is not None and group_tat > self.near

    def refusal(self, group_tat: float | None, bot_tat: float | None) -> float | None:
        """The bot's wait when it is beyond ``bot_wait`` (nothing to reserve), else None."""
        start = max(group_tat or 0.0, self.now)
        if bot_tat is None or bot_tat <= self.latest:
            return None
        return max(bot_tat, start) + self.bot.lead - self.bot.tolerance - self.now

    def update(self, group_tat: float | None, bot_tat: float | None) -> dict[str, Any]:
        """The write for the forms these TATs (seen or returned) call for."""
        group_idle = group_tat is None or group_tat < self.now
        start = ":now" if group_idle else "#g"
        bot_idle = bot_tat is None or bot_tat < max(group_tat or 0.0, self.now)
        condition = " AND ".join(
            [
                "(attribute_not_exists(#g) OR #g < :now)"
                if group_idle
                else "#g BETWEEN :now AND :near",
                f"(attribute_not_exists(#t) OR #t < {start})"
                if bot_idle
                else f"#t BETWEEN {start} AND :latest",
            ]
        )
        # Every action reads the item as it was before the update (DynamoDB's rule); the bot's
        # is written first all the same, so that it never depends on that.
        sets = ", ".join(
            [
                ("#t = :bot_new" if group_idle else "#t = #g + :bot_cost")
                if bot_idle
                else "#t = #t + :bot_cost",
                "#g = :group_new" if group_idle else "#g = #g + :group_cost",
            ]
        )
        values = {
            ":now": number(self.now),
            ":near": number(self.near),
            ":latest": number(self.latest),
            ":bot_new": number(self.now + self.bot.cost),
            ":bot_cost": number(self.bot.cost),
            ":group_new": number(self.now + self.group.cost),
            ":group_cost": number(self.group.cost),
        }
        arguments = write(
            self.item, sets, condition, {"#g": self.group_tat, "#t": "tat"}, values, 0.0
        )
        return {
            **arguments,
            "ReturnValues": "UPDATED_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def reservations(self, attributes: Mapping[str, Any]) -> list[Reservation]:
        group_tat, bot_tat = float(attributes[self.group_tat]), float(attributes["tat"])
        return [
            Reservation(
                self.group.key, wait_after(self.group, group_tat, self.now), self.group.cost
            ),
            Reservation(self.bot.key, wait_after(self.bot, bot_tat, self.now), self.bot.cost),
        ]
