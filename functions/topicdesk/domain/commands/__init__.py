"""The operators' commands in a person's topic, as a registry: a new command is one module
(its name, who may run it, what it does) added to ``COMMANDS``, with its own tests.

Roles: every command declares the least role that may run it (``Role``). Until the stage
can tell admins from agents (the operators' group's administrators), every member of an
operators' group is treated as an admin: ``Registry(resolve_role=...)`` is where that check
plugs in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from topicdesk.domain.commands.ban import BAN, UNBAN
from topicdesk.domain.commands.base import Command, Invocation, Role
from topicdesk.domain.commands.close import CLOSE
from topicdesk.domain.commands.info import INFO
from topicdesk.domain.commands.reopen import REOPEN
from topicdesk.domain.model import ChatMessage

__all__ = ["COMMANDS", "Command", "Invocation", "Registry", "Role"]

COMMANDS: tuple[Command, ...] = (CLOSE, REOPEN, BAN, UNBAN, INFO)

_RANK = {Role.AGENT: 0, Role.ADMIN: 1}


class Registry:
    def __init__(
        self,
        commands: Iterable[Command] = COMMANDS,
        resolve_role: Callable[[ChatMessage], Role] | None = None,
    ) -> None:
        self._commands = {command.name: command for command in commands}
        self._resolve_role = resolve_role or (lambda message: Role.ADMIN)

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def may_run(self, command: Command, message: ChatMessage) -> bool:
        return _RANK[self._resolve_role(message)] >= _RANK[command.role]

    def usage(self) -> str:
        return "Commands here: " + ", ".join(f"/{name}" for name in self._commands) + "."
