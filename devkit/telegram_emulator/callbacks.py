"""Inline keyboards and callback queries, as Telegram has them.

- An inline keyboard (``reply_markup.inline_keyboard``) passes the spec's type check first
  (``spec.py``); then Telegram's own rules: each button has exactly one of its optional action
  fields (documented: "Exactly one of the optional fields must be used to specify type of the
  button"), and ``callback_data`` is 1-64 bytes (documented). The errors are Telegram's own
  texts (``BUTTON_DATA_INVALID``; a button with no action: "Text buttons are unallowed in the
  inline keyboard").
- A person pressing a ``callback_data`` button of the bot's message (the control API's
  ``press_button``) makes a ``callback_query`` update of the Bot API's shape: ``id``, ``from``,
  ``message``, ``chat_instance``, ``data``.
- ``answerCallbackQuery`` answers a query of this bot once: an unknown, foreign, already
  answered or expired id gets Telegram's "query is too old and response timeout expired or
  query ID is invalid"; ``text`` is 0-200 characters (documented; longer: ``MESSAGE_TOO_LONG``).
  How long a query may wait for its answer is not documented; bots see the error after about
  15 seconds, which the emulator applies on its clock (``ANSWER_WITHIN_SECONDS``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import bad_request

if TYPE_CHECKING:
    from .state import BotAccount, Chat, Message, User, World

JSON = dict[str, Any]

CALLBACK_DATA_BYTES = 64
ANSWER_TEXT_CHARACTERS = 200
ANSWER_WITHIN_SECONDS = 15
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
# InlineKeyboardButton's optional fields that say what the button does (Bot API 10.x).
ACTION_FIELDS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def check_inline_keyboard(markup: JSON) -> JSON:
    """The markup as sent, once its buttons follow Telegram's rules (else 400)."""
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list):
        raise bad_request('can\'t parse inline keyboard: field "inline_keyboard" must be an Array')
    for row in rows:
        if not isinstance(row, list):
            raise bad_request("can't parse inline keyboard: a row must be an Array")
        for button in row:
            actions = [name for name in ACTION_FIELDS if button.get(name) is not None]
            if not actions:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            if len(actions) > 1:
                raise bad_request(
                    "can't parse inline keyboard button: exactly one of "
                    + ", ".join(actions)
                    + " must be used"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
    return markup


@dataclass
class CallbackQuery:
    query_id: str
    bot_id: int
    user_id: int
    chat_id: int
    message_id: int
    data: str
    date: int
    answer: JSON | None = None
    """What the bot answered (``text``, ``show_alert``, ``url``, ``cache_time``)."""
    refused: list[str] = field(default_factory=list)
    """Why answers to it were refused (too late, twice)."""

    def to_json(self) -> JSON:
        out = asdict(self)
        out["id"] = out.pop("query_id")
        out["answered"] = self.answer is not None
        return out


def press(world: World, bot: BotAccount, user: User, chat: Chat, msg: Message, data: str) -> JSON:
    """A person taps a ``callback_data`` button under the bot's message: the update goes to
    the bot. Returns the query."""
    if msg.sender_id != bot.id or not msg.reply_markup:
        raise bad_request("the message has no inline keyboard of this bot")
    buttons = [b for row in msg.reply_markup.get("inline_keyboard", []) for b in row]
    if not any(b.get("callback_data") == data for b in buttons):
        raise bad_request(f"the message has no button with callback_data {data!r}")
    queries = world.callback_queries
    # Telegram's query ids are long decimal strings, unique per query.
    query_id = f"{bot.id % 10**9}{len(queries) + 1:010d}"
    query = CallbackQuery(query_id, bot.id, user.id, chat.id, msg.message_id, data, world.now())
    queries[query_id] = query
    payload = {
        "id": query_id,
        "from": user.to_json(),
        "message": world.render_message(msg),
        # A stable id for the chat the message is in (a game's high scores use it).
        "chat_instance": str(abs(hash((bot.id, chat.id))) % 10**19),
        "data": data,
    }
    world.emit(bot.id, "callback_query", payload, chat.id)
    return query.to_json()


def answer(world: World, bot: BotAccount, params: JSON) -> bool:
    """``answerCallbackQuery``: once per query of this bot, within its time."""
    query = world.callback_queries.get(str(params["callback_query_id"]))
    text = params.get("text")
    if text is not None and len(str(text)) > ANSWER_TEXT_CHARACTERS:
        raise bad_request("MESSAGE_TOO_LONG")
    if query is None or query.bot_id != bot.id:
        raise bad_request(QUERY_INVALID)
    if query.answer is not None or world.now() - query.date > ANSWER_WITHIN_SECONDS:
        query.refused.append("answered already" if query.answer is not None else "too late")
        raise bad_request(QUERY_INVALID)
    query.answer = {
        key: params[key] for key in ("text", "show_alert", "url", "cache_time") if key in params
    }
    return True
