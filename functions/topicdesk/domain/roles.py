"""Who is an admin of the operators' group: the group's Telegram administrators (read with
``getChatAdministrators``, cached for a few minutes, shared by every instance) plus the user
ids the stage lists. Everyone else in an operators' group is an agent.

A message sent as the group itself (an anonymous admin, or "send as the group") cannot be
traced to a person: it has no role (None) and admin-only commands refuse it with a note.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from topicdesk.domain.commands.base import Role
from topicdesk.domain.model import ChatMessage
from topicdesk.domain.ports import AdminDirectory, Clock

ADMINS_CACHE_SECONDS = 300.0
"""How long a group's administrators are trusted before they are read again."""


class Roles:
    def __init__(
        self,
        *,
        directory: AdminDirectory,
        fetch_admins: Callable[[int], Awaitable[list[int]]],
        clock: Clock,
        stage_admins: frozenset[int] = frozenset(),
    ) -> None:
        self._directory = directory
        self._fetch = fetch_admins
        self._clock = clock
        self._stage_admins = stage_admins

    async def role_of(self, message: ChatMessage) -> Role | None:
        if message.as_group or message.sender is None:
            return None
        user_id = message.sender.user_id
        if user_id in self._stage_admins:
            return Role.ADMIN
        return Role.ADMIN if user_id in await self._admins(message.chat_id) else Role.AGENT

    async def admins(self, chat_id: int) -> frozenset[int]:
        """Everyone who is an admin in ``chat_id``: its Telegram administrators (cached) and
        the stage's admins (a broadcast needs a second one to confirm when there are two)."""
        return await self._admins(chat_id) | self._stage_admins

    async def _admins(self, chat_id: int) -> frozenset[int]:
        now = self._clock.now()
        cached = self._directory.admins(chat_id, now)
        if cached is not None:
            return cached
        admins = frozenset(await self._fetch(chat_id))
        self._directory.remember(chat_id, admins, now + ADMINS_CACHE_SECONDS)
        return admins
