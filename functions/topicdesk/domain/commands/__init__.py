"""The operators' commands in a person's topic, as a registry: a new command is one module
(its name, who may run it, what it does) added to ``COMMANDS``, with its own tests.

Roles: every command declares the least role that may run it (``Role``); the registry asks
``resolve_role`` (``topicdesk.domain.roles.Roles``: the group's administrators and the stage's
admins) only for a command that needs more than an agent. Without a resolver (unit tests),
everyone is an admin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from topicdesk.domain import texts
from topicdesk.domain.commands.assign import ASSIGN
from topicdesk.domain.commands.ban import BAN, UNBAN
from topicdesk.domain.commands.base import Command, Invocation, Role
from topicdesk.domain.commands.claim import CLAIM
from topicdesk.domain.commands.close import CLOSE, REOPEN
from topicdesk.domain.commands.info import INFO
from topicdesk.domain.commands.unassign import UNASSIGN
from topicdesk.domain.model import ChatMessage

__all__ = ["COMMANDS", "Command", "Invocation", "Registry", "Role"]

COMMANDS: tuple[Command, ...] = (CLOSE, REOPEN, BAN, UNBAN, INFO, CLAIM, ASSIGN, UNASSIGN)


Resolver = Callable[[ChatMessage], Awaitable[Role | None]]


async def _everyone_admin(message: ChatMessage) -> Role | None:
    return Role.ADMIN


class Registry:
    def __init__(
        self, commands: Iterable[Command] = COMMANDS, resolve_role: Resolver | None = None
    ) -> None:
        self._commands = {command.name: command for command in commands}
        self.resolve_role: Resolver = resolve_role or _everyone_admin

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    async def refusal(self, role: Role, message: ChatMessage, name: str) -> str | None:
        """None when ``message``'s sender may run what needs ``role``; else why not."""
        if role is Role.AGENT:
            return None  # anyone in an operators' group
        actual = await self.resolve_role(message)
        if actual is None:
            return texts.COMMAND_REFUSED_ANONYMOUS.format(command=name)
        if not actual.covers(role):
            return texts.COMMAND_REFUSED.format(command=name)
        return None

    def usage(self) -> str:
        return "Commands here: " + ", ".join(f"/{name}" for name in self._commands) + "."
