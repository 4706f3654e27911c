"""python-telegram-bot's Application, wired to the relay.

PTB routes each update to a handler; the handlers turn PTB objects into domain values and make
one call into the Relay. PTB swallows handler exceptions (it only logs them or hands them to
error handlers), so an error handler captures them and ``process`` re-raises: the consumer must
fail the record, not acknowledge it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from telegram import Bot, ChatMemberUpdated, Message, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackContext,
    CallbackQueryHandler,
    ChatMemberHandler,
    ExtBot,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from topicdesk.adapters import redaction
from topicdesk.adapters.aws import read_secret
from topicdesk.adapters.telegram_updates import chat_message_from, person_from
from topicdesk.domain.model import ChatMessage
from topicdesk.domain.relay import Relay
from topicdesk.domain.relay.challenge import CallbackQuery
from topicdesk.domain.steps import Steps

Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]


def build_bot(token: str, api_url: str, kind: type[Bot] = Bot, **options: Any) -> Bot:
    """A Bot pointed at ``api_url`` (Telegram, a self-hosted server or the emulator);
    ``kind`` and ``options``: another Bot class and what it takes besides (a benchmark's
    ``ExtBot`` with a ``rate_limiter``)."""
    redaction.register(token)
    request = HTTPXRequest(connection_pool_size=8, connect_timeout=5, read_timeout=10)
    return kind(
        token,
        base_url=f"{api_url}/bot",
        base_file_url=f"{api_url}/file/bot",
        request=request,
        **options,
    )


async def fresh_bot(factory: Callable[[str, str], Bot], secret_name: str, api_url: str) -> Bot:
    """A Bot with the token read again (it was rotated: Telegram answered 401)."""
    bot = factory(read_secret(secret_name, fresh=True), api_url)
    await bot.initialize()
    return bot


class RelayApplication:
    """One PTB Application per container; ``process`` runs one update through it."""

    def __init__(self, *, bot: Bot, relay: Relay) -> None:
        self._relay = relay
        self._followers: Sequence[dict[str, Any]] = ()
        self._errors: list[BaseException] = []
        # The update being processed has one Steps; PTB's handlers reach it through here
        # (one update at a time per container).
        self._steps = Steps()
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder().bot(bot).updater(None).build()
        )
        operators = filters.Chat(chat_id=list(relay.operator_chat_ids))
        app = self.application
        app.add_handler(
            MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE, self._private)
        )
        app.add_handler(
            MessageHandler(
                filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE, self._private_edit
            )
        )
        app.add_handler(MessageHandler(operators & filters.UpdateType.MESSAGE, self._group))
        app.add_handler(
            MessageHandler(operators & filters.UpdateType.EDITED_MESSAGE, self._group_edit)
        )
        app.add_handler(ChatMemberHandler(self._membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_handler(CallbackQueryHandler(self._callback))
        app.add_error_handler(self._capture)

    async def initialize(self) -> None:
        await self.application.initialize()

    async def shutdown(self) -> None:
        await self.application.shutdown()

    async def process(
        self,
        data: dict[str, Any],
        steps: Steps | None = None,
        followers: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Run one update with its step record and the updates that ride along with it in
        one call (``followers``); raise what a handler raised."""
        self._errors.clear()
        self._steps = steps or Steps()
        self._followers = followers
        update = Update.de_json(data, self.application.bot)
        await self.application.process_update(update)
        if self._errors:
            raise self._errors[0]

    def _message(self, message: Message) -> ChatMessage:
        return chat_message_from(message, self._bot_username())

    def _bot_username(self) -> str | None:
        """Known after ``initialize`` (getMe); before it, commands are not told apart."""
        try:
            return str(self.application.bot.username)
        except RuntimeError:
            return None

    async def _capture(self, update: object, context: Context) -> None:
        if context.error is not None:
            self._errors.append(context.error)

    def _run(self, update: Update) -> list[ChatMessage]:
        assert update.effective_message is not None
        run = [self._message(update.effective_message)]
        for data in self._followers:
            follower = Update.de_json(data, self.application.bot)
            if follower.message is not None:
                run.append(self._message(follower.message))
        return run

    async def _private(self, update: Update, context: Context) -> None:
        await self._relay.private_messages(self._run(update), self._steps)

    async def _private_edit(self, update: Update, context: Context) -> None:
        assert update.edited_message is not None
        await self._relay.private_edit(self._message(update.edited_message), self._steps)

    async def _group(self, update: Update, context: Context) -> None:
        await self._relay.group_messages(self._run(update), self._steps)

    async def _group_edit(self, update: Update, context: Context) -> None:
        assert update.edited_message is not None
        await self._relay.group_edit(self._message(update.edited_message))

    async def _callback(self, update: Update, context: Context) -> None:
        """A button pressed (the new-people question's keyboard): the relay answers it."""
        query = update.callback_query
        if query is None:
            return
        # An inaccessible message still names its chat; without one it is the user's own.
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        await self._relay.callback(
            CallbackQuery(query.id, person_from(query.from_user), chat_id, query.data),
            self._steps,
        )

    async def _membership(self, update: Update, context: Context) -> None:
        change: ChatMemberUpdated | None = update.my_chat_member
        if change is None:
            return
        status = change.new_chat_member.status
        if change.chat.type != "private":
            if status in ("member", "administrator"):
                await self._relay.stranger_chat(change.chat.id, self._steps)
            return
        blocked = status in ("kicked", "left")
        await self._relay.membership(
            person_from(change.from_user), blocked=blocked, steps=self._steps
        )
