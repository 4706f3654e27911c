"""/forget (admins only): erase the person everywhere and delete their topic
(``topicdesk.domain.erase``); the report goes to the ops topic, since the topic is gone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from topicdesk.domain.commands.base import Command, Invocation, Role
from topicdesk.domain.erase import Erasure, PersonEraser

OpsPoster = Callable[[int, str], Awaitable[int]]
"""Posts a text in an operators' group's ops topic: (group, text) -> the message's id."""

ANSWER_STEP = "ack"
"""The step under which the registry posts a command's answer into the person's topic
(``topicdesk.domain.relay.outbound``). /forget records its report there: the answer is
already posted (in the ops topic), and posting into the deleted topic would recreate it."""


def forget_command(eraser: PersonEraser, post_to_ops: OpsPoster) -> Command:
    async def forget(call: Invocation) -> str:
        chat_id = call.message.chat_id
        sender = call.message.sender
        by = sender.full_name if sender is not None else ""

        async def report(erasure: Erasure) -> None:
            # Before the session goes: a record that fails here comes back and finds it.
            posted = await call.steps.once(
                "forget-report", lambda: post_to_ops(chat_id, erasure.report(by))
            )
            await call.steps.mark(ANSWER_STEP, posted)

        erasure = await eraser.erase(call.session.user_id, call.steps, before_anchors=report)
        return erasure.report(by)

    return Command(
        "forget", Role.ADMIN, forget, "erase the person everywhere and delete this topic"
    )
