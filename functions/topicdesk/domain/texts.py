"""Every sentence the bot says, in one place (operators' notes and messages to people)."""

from __future__ import annotations

from datetime import UTC, datetime

from topicdesk.domain.model import Person, Session

TOPIC_NAME_LIMIT = 128  # createForumTopic: name is 1-128 characters


def topic_name(person: Person) -> str:
    name = person.full_name
    if person.username:
        name = f"{name} (@{person.username})"
    return name[:TOPIC_NAME_LIMIT]


def contact_card(person: Person) -> str:
    if person.is_visitor:  # a web widget session; its first card has the page too
        language = person.language_code or "unknown"
        return f"🌐 {person.full_name}\nchannel: web widget\nlanguage: {language}"
    lines = [f"👤 {person.full_name}"]
    lines.append(f"@{person.username}" if person.username else "no @username")
    lines.append(f"id: {person.user_id}")
    lines.append(f"language: {person.language_code or 'unknown'}")
    return "\n".join(lines)


def _when(timestamp: float) -> str:
    if not timestamp:
        return "unknown"
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def session_info(session: Session) -> str:
    person = session.person
    return "\n".join(
        [
            "ℹ️ Session",
            contact_card(person),
            f"status: {session.status.value}",
            f"banned: {'yes' if session.banned else 'no'}",
            f"blocked the bot: {'yes' if session.blocked else 'no'}",
            f"since: {_when(session.created_at)}",
            f"messages from them: {session.messages_in}",
            f"answers delivered: {session.messages_out}",
            f"dropped while banned: {session.dropped}",
        ]
    )


TOPIC_RECREATED = "♻️ The previous topic was deleted; the conversation continues here."
REOPENED_BY_PERSON = "🔓 Reopened: {name} wrote again."
NOT_COPYABLE_FROM_PERSON = "⚠️ {name} sent a {kind} message that cannot be relayed here."
NOT_DELIVERED_BLOCKED = "⚠️ Not delivered: {name} has blocked the bot."
NOT_DELIVERED_NOT_COPYABLE = "⚠️ Not delivered: this kind of message ({kind}) cannot be copied."
NOT_DELIVERED_OTHER = "⚠️ Not delivered: {reason}"
PERSON_BLOCKED = "🚫 {name} blocked the bot. Answers will not reach them until they unblock it."
PERSON_UNBLOCKED = "✅ {name} unblocked the bot."
CLOSED_ACK = "✅ Closed. {name} was told."
CLOSED_ACK_UNTOLD = "✅ Closed. {name} could not be told (they blocked the bot)."
REOPENED_ACK = "✅ Reopened. {name} was told."
BANNED_ACK = "⛔ {name} is banned: their messages are dropped and counted (see /info)."
UNBANNED_ACK = "✅ {name} is no longer banned."
COMMAND_REFUSED = "⛔ /{command} is for the group's admins."
COMMAND_REFUSED_ANONYMOUS = (
    "⛔ /{command} is for the group's admins, and a message sent as the group cannot be traced "
    "to one: turn off “Remain anonymous” (or send as yourself) to run it."
)

# The web widget's visitors (topicdesk.domain.relay.visitors).
VISITOR_CARD = (
    "🌐 {name}\nchannel: web widget\ne-mail: {email}\npage: {url}\nbrowser: {browser}\n"
    "language: {language}"
)
NOT_DELIVERED_TO_VISITOR = (
    "⚠️ Not delivered: a web visitor can receive text only; this {kind} message was not sent."
)
KEPT_FOR_VISITOR = "📥 {name} is not on the page now: kept, and shown when they come back."
VISITOR_SESSION_GONE = (
    "⚠️ Not delivered: {name}'s web session has ended (30 days without a message, or erased)."
)

TO_PERSON_CLOSED = (
    "Your conversation with support has been closed. Write here any time to start again."
)
TO_PERSON_REOPENED = "Support has reopened your conversation."
TO_PERSON_SLOW_DOWN_HOLD = (
    "You are sending messages faster than we can read them. Nothing is lost: we pass them "
    "on at a steady pace."
)
TO_PERSON_SLOW_DOWN_DROP = (
    "You are sending messages too fast; some of them were not passed on. "
    "Please wait a moment before writing again."
)
TO_PERSON_UNDELIVERED = (
    "⚠️ Sorry, your message could not be delivered to support. Please send it again later."
)

OPS_TOPIC_NAME = "🚨 Topicdesk alerts"
OPS_DEAD_LETTER = (
    "🚨 Update {update_id} (chat {chat}) could not be processed after {receives} attempts.\n"
    "Reason: {reason}\n"
    'Archived as {archive_id}. Replay: make ops STAGE=<stage> ARGS="dlq replay {archive_id}"'
)

# The new-people guard (topicdesk.domain.relay.newcomers).
OPS_NEW_PEOPLE_WAITING = (
    "⏳ New people are waiting for a topic: {waiting} in line now. This group opens at most "
    "{per_hour} new topics an hour; they get theirs in the order they wrote, and nothing they "
    "write is lost (held until their topic exists)."
)
TO_PERSON_IN_LINE = (
    "Thanks for writing! Many people wrote to us at once: your messages are kept and reach "
    "our team in order, in about {minutes} min."
)
CHALLENGE_QUESTION = "Before we connect you with our team: please tap the {name}."
CHALLENGE_PASSED = "Thank you! Your messages are on their way to our team."
CHALLENGE_WRONG = "Not quite: please tap the {name}."
CHALLENGE_STALE = "This question has expired."

# Erasing a person (topicdesk.domain.erase): /forget's answer in the ops topic, the ops CLI.
ERASED = "🗑 Erased user {user_id} everywhere{by}: {counts}. Topic: {topic}."
NOTHING_TO_ERASE = "🗑 Nothing left to erase for user {user_id}{by}: no data, no topic."


def erasure_report(
    user_id: int, counts: list[tuple[str, int]], topic: str, *, nothing: bool, by: str = ""
) -> str:
    """What an erase removed, per kind (``by``: who asked, for the operators' record)."""
    asked = f" (asked by {by})" if by else ""
    if nothing:
        return NOTHING_TO_ERASE.format(user_id=user_id, by=asked)
    listed = ", ".join(f"{kind.replace('_', ' ')} {count}" for kind, count in counts)
    return ERASED.format(user_id=user_id, by=asked, counts=listed, topic=topic)
