"""Broadcast: one message to every active person, through the queue, at the global limit.

In the ops topic an admin writes ``/broadcast <text>`` (or replies ``/broadcast`` to any
message there, media included). The bot asks for confirmation; ``/confirm`` as a reply to that
question, by another admin when the group has two or more, freezes the content and starts it;
``/cancel`` stops it. Every person gets one job on the updates queue, in their own message
group (so it keeps its place among their conversation), and the consumer delivers each job
through the shared flood limiter like any other send, only while the broadcast runs. People
who blocked the bot are skipped and marked; progress and the final count (with who asked and
who confirmed) are posted in the ops topic.

``model``: the broadcast and its jobs; ``requests``: the admins' commands; ``delivery``: the
jobs; ``service``: both behind one face.
"""

from topicdesk.domain.broadcast.model import (
    CONFIRM_WITHIN_SECONDS,
    JOB_KIND,
    PROGRESS_STEPS,
    Actor,
    Broadcast,
    BroadcastJob,
    broadcast_id,
)
from topicdesk.domain.broadcast.service import BroadcastService

__all__ = [
    "CONFIRM_WITHIN_SECONDS",
    "JOB_KIND",
    "PROGRESS_STEPS",
    "Actor",
    "Broadcast",
    "BroadcastJob",
    "BroadcastService",
    "broadcast_id",
]
