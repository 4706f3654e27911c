"""Edits are mirrored on the message's copy, both ways (best effort: an edit of a message
that was never relayed, or of a command, is counted and left)."""

from __future__ import annotations

from topicdesk.domain.errors import MessageGone, NotModified, RecipientBlocked, TopicMissing
from topicdesk.domain.model import ChatMessage, MessageRef
from topicdesk.domain.relay.context import RelayContext


def mirrorable(ctx: RelayContext, message: ChatMessage) -> MessageRef | None:
    """The copy an edit goes to; None (counted) when there is nothing to mirror."""
    peer = ctx.messages.peer(MessageRef(message.chat_id, message.message_id))
    if peer is None or message.text is None or message.command is not None:
        ctx.metrics.count("EditsNotMirrored")
        return None
    return peer


async def mirror_edit(
    ctx: RelayContext, message: ChatMessage, peer: MessageRef | None = None
) -> None:
    """``peer``: the copy as found by ``mirrorable`` (None: look it up)."""
    peer, text = peer or mirrorable(ctx, message), message.text
    if peer is None or text is None:  # (mirrorable says None without a text)
        return
    try:
        if message.has_caption_slot:
            await ctx.telegram.edit_caption(peer.chat_id, peer.message_id, text)
        else:
            await ctx.telegram.edit_text(peer.chat_id, peer.message_id, text)
    except (NotModified, MessageGone, RecipientBlocked, TopicMissing):
        ctx.metrics.count("EditsNotMirrored")
        return
    ctx.metrics.count("EditsMirrored")
