"""/ban and /unban: a banned person's messages are dropped and counted (see /info)."""

from __future__ import annotations

from topicdesk.domain import texts
from topicdesk.domain.commands.base import Command, Invocation, Role


async def _ban(call: Invocation) -> str:
    call.ctx.sessions.update(call.session.user_id, banned=True)
    return texts.BANNED_ACK.format(name=call.name)


async def _unban(call: Invocation) -> str:
    call.ctx.sessions.update(call.session.user_id, banned=False)
    return texts.UNBANNED_ACK.format(name=call.name)


BAN = Command("ban", Role.ADMIN, _ban, "drop and count the person's messages")
UNBAN = Command("unban", Role.ADMIN, _unban, "relay the person's messages again")
