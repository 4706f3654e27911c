"""The relay rules: people <-> their topic in the operators' forum group.

One concern per module: ``inbound`` (person -> topic), ``outbound`` (topic -> person, and the
operators' commands from ``topicdesk.domain.commands``), ``topics`` (a topic's life: created,
recreated, reopened, closed, notes), ``edits`` (mirrored both ways), ``context`` (the ports and
bookkeeping every part shares). ``Relay`` is the one entry point the runtime calls.

Every method takes the update's ``Steps`` (``topicdesk.domain.steps``): each externally
visible step (topic created, card posted, message copied, person told, note posted, receipt)
runs once and is recorded, so a record that comes back after a 429, a deferral, a 5xx, a
timeout or a crash resumes after its last completed step. Besides, a message already copied
(it has a peer in the message map) is not copied twice by a later record, topic creation is
claimed with a conditional write, and flags are idempotent. What cannot be made idempotent (a
Telegram send whose answer was lost) is the rare duplicate we accept instead of a loss.
"""

from __future__ import annotations

from collections.abc import Sequence

from topicdesk.domain.broadcast import BroadcastService
from topicdesk.domain.commands import Registry
from topicdesk.domain.errors import RecipientBlocked, RejectedByTelegram, TopicdeskError
from topicdesk.domain.inbox import Inbox
from topicdesk.domain.inbox.operators import TakeButton, TakeTelegram
from topicdesk.domain.model import ChatMessage, Person
from topicdesk.domain.ports import (
    Clock,
    ConnectionPush,
    MessageMap,
    Metrics,
    SessionRepository,
    TatStore,
    TelegramGateway,
)
from topicdesk.domain.relay.challenge import (
    CallbackQuery,
    Challenge,
    ChallengeStore,
    ChallengeTelegram,
)
from topicdesk.domain.relay.context import RelayContext, RelaySettings
from topicdesk.domain.relay.edits import mirror_edit
from topicdesk.domain.relay.inbound import PersonToTopic
from topicdesk.domain.relay.newcomers import NewTopicCap, WaitingLine
from topicdesk.domain.relay.outbound import TopicToPerson
from topicdesk.domain.relay.pace import GreetingGate, Pace
from topicdesk.domain.relay.topics import ShardPicker, Topics
from topicdesk.domain.relay.visitors import VisitorRelay
from topicdesk.domain.steps import Steps
from topicdesk.domain.widget import WidgetConversations, WidgetRecord

__all__ = ["Pace", "Relay", "RelaySettings", "ShardPicker", "WidgetNotConfigured"]


class WidgetNotConfigured(TopicdeskError):
    """A widget record, but the consumer has no widget (its connections endpoint is not
    set): it fails until the DLQ keeps it, and on-call sees it there."""


class Relay:
    def __init__(
        self,
        *,
        sessions: SessionRepository,
        messages: MessageMap,
        telegram: TelegramGateway,
        settings: RelaySettings,
        clock: Clock,
        metrics: Metrics,
        shard_picker: ShardPicker | None = None,
        pace: Pace | None = None,
        greetings: GreetingGate | None = None,
        broadcasts: BroadcastService | None = None,
        widget: WidgetConversations | None = None,
        push: ConnectionPush | None = None,
        commands: Registry | None = None,
        new_topic_budget: TatStore | None = None,
        waiting_line: WaitingLine | None = None,
        buttons: ChallengeTelegram | None = None,
        challenges: ChallengeStore | None = None,
        inbox: Inbox | None = None,
        cards: TakeTelegram | None = None,
    ) -> None:
        """``new_topic_budget`` and ``waiting_line``: the new-people cap's shared state (both,
        or no cap). ``buttons``: inline keyboards and answers to their presses;
        ``challenges``: where new people's questions are kept (the stage's
        ``newPersonChallenge``; None: nobody is asked). ``inbox``: each conversation's
        state and owner (issue 15), with ``cards``: the contact card's "Take it" button.
        ``pace``: each person's, kept in their session; ``greetings``: one a day each."""
        self._ctx = RelayContext(
            sessions, messages, telegram, settings, clock, metrics, inbox=inbox
        )
        self._take = TakeButton(inbox, sessions, cards) if inbox and cards else None
        cap = (
            NewTopicCap(self._ctx, new_topic_budget, waiting_line, settings.new_topics_per_hour)
            if new_topic_budget is not None and waiting_line is not None
            else None
        )
        self._topics = Topics(
            self._ctx, shard_picker or ShardPicker(sessions, settings.operator_chat_ids), cap
        )
        self._inbound = PersonToTopic(self._ctx, self._topics, pace, greetings)
        self._topics.cards = self._take
        self._buttons = buttons
        if challenges is not None and buttons is not None:
            self._inbound.challenge = Challenge(self._ctx, self._topics, challenges, buttons, pace)
        # The web widget's visitors: with its store and connections (both), else none.
        self._visitors = (
            VisitorRelay(self._ctx, self._topics, widget, push)
            if widget is not None and push is not None
            else None
        )
        self._topics.visitors = self._visitors
        self._outbound = TopicToPerson(
            self._ctx, self._topics, commands or Registry(), broadcasts, self._visitors
        )

    @property
    def operator_chat_ids(self) -> tuple[int, ...]:
        return self._ctx.settings.operator_chat_ids

    def is_operator_chat(self, chat_id: int) -> bool:
        return self._ctx.is_operator_chat(chat_id)

    async def private_messages(
        self, run: Sequence[ChatMessage], steps: Steps | None = None
    ) -> None:
        """A person's message (and the messages that ride along with it in one call)."""
        await self._inbound.messages(run, steps or Steps())

    async def visitor_message(self, record: WidgetRecord, steps: Steps | None = None) -> None:
        """A web widget visitor's message (``WidgetRecord`` from the updates queue)."""
        if self._visitors is None:
            raise WidgetNotConfigured("a widget record reached a relay without the widget")
        await self._visitors.message(record, steps or Steps())

    async def private_edit(self, message: ChatMessage, steps: Steps | None = None) -> None:
        """A person edited a message: mirror the edit on its copy in the topic."""
        await self._inbound.edit(message, steps or Steps())

    async def group_messages(self, run: Sequence[ChatMessage], steps: Steps | None = None) -> None:
        """A message in an operators' group (and the rest of its album)."""
        await self._outbound.messages(run, steps or Steps())

    async def group_edit(self, message: ChatMessage) -> None:
        if self._topics.session_of(message) is not None:
            await mirror_edit(self._ctx, message)

    async def stranger_chat(self, chat_id: int, steps: Steps | None = None) -> None:
        """The bot was added to a group or channel that is not an operators' group: leave
        it (Topicdesk serves people's private chats and its operators' groups only)."""
        if self.is_operator_chat(chat_id):
            return
        steps = steps or Steps()

        async def leave() -> bool:
            try:
                await self._ctx.telegram.leave_chat(chat_id)
            except (RecipientBlocked, RejectedByTelegram):
                return False  # already out of it
            self._ctx.metrics.count("StrangerChatsLeft")
            return True

        await steps.once("left", leave)

    async def callback(self, query: CallbackQuery, steps: Steps | None = None) -> None:
        """A button pressed under the bot's message: always answered (the new-people
        question's answer opens the topic; the contact card's "Take it" claims the
        conversation; any other button is only acknowledged)."""
        if self._take is not None and self._take.handles(query):
            await self._take.press(query, steps or Steps())
            return
        challenge = self._inbound.challenge
        if challenge is not None:
            await challenge.answer(query, steps or Steps())
            return
        await (steps or Steps()).once("answered", lambda: self._acknowledge(query))

    async def _acknowledge(self, query: CallbackQuery) -> bool:
        if self._buttons is None:
            return False
        try:
            await self._buttons.answer_callback(query.query_id)
        except RejectedByTelegram:
            return False  # too old: nothing to acknowledge any more
        return True

    async def membership(
        self, person: Person, *, blocked: bool, steps: Steps | None = None
    ) -> None:
        """``my_chat_member`` in a private chat: the person blocked or restored the bot."""
        await self._inbound.membership(person, blocked, steps or Steps())
