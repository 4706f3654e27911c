"""A Telegram Bot API emulator: the project's test double and the ``local`` stage's Telegram.

It speaks the Bot API at ``/bot<token>/<method>`` (GET query, JSON, urlencoded
and multipart bodies; method names case-insensitive) and answers like Telegram:
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
"description": "...", "parameters": {...}}``. Code that works against it must
work against Telegram, so it is strict where Telegram is strict and stricter
where Telegram is lenient (unknown parameters are refused).

Public API
==========

``from devkit.telegram_emulator import EmulatorServer, EmulatorClient, Limits``

``EmulatorServer(host="127.0.0.1", port=0, *, limits=Limits(), token="123456:TEST-token",
bot_username="topicdesk_test_bot", bot_first_name=..., clock=None, wall_clock=time.time,
seed=0, delivery=DeliveryOptions(), validate_answers=True,
bot_can_read_all_group_messages=False, limits_scale=None)``
    * ``await start()`` / ``await stop()`` (in a running loop) or ``start_in_thread()`` /
      ``stop_thread()`` (own loop in a daemon thread, for sync code);
    * ``base_url`` (``http://127.0.0.1:PORT``; PTB: ``base_url=f"{base_url}/bot"``),
      ``api_url(token=None)``, ``token``, ``bot_id``;
    * seeding (thread-safe): ``create_user(first_name, started=False, ...)``,
      ``create_person(first_name, ...)`` (a user who pressed Start),
      ``create_forum_group(title, operators=[ids] | operator_names=[...],
      bot_can_manage_topics=True, ...)``; each returns the same JSON as the client;
    * ``run_sync(fn)`` runs ``fn`` on the server loop; ``add_bot(token, ...)``;
      ``call_log``, ``internal_errors``, ``stats()``, ``info()``, ``await reset()``.

``Limits(bot_per_second=30, chat_per_second=1.0, chat_burst=3, group_per_minute=20,
scale=1.0, enabled=True, count_each_message=True)`` - flood limits (see ``limits``; the
default counts each message of an album/``copyMessages``/``forwardMessages`` call and each
``createForumTopic``, ``count_each_message=False`` one message per call);
``ManualClock`` - a clock for ``EmulatorServer(clock=...)`` that moves on ``advance()``.

``EmulatorClient(base_url, token=None)`` - synchronous, urllib only:
    setup: ``info``, ``reset``, ``create_bot``, ``create_user``, ``create_forum_group``,
    ``create_group`` (basic group), ``set_member`` (e.g. the bot's rights), ``migrate_group``;
    people: ``send_as_user`` (text or ``photo=True``/``document=...``/a file_id, caption,
    ``reply_to_message_id``), ``send_album``, ``edit_as_user``, ``react_as_user``,
    ``delete_as_user``, ``block_bot``, ``unblock_bot``, ``deactivate_user``,
    ``press_button(user_id, message_id, data | text=label)`` (an inline button of the bot's
    message: a ``callback_query``), ``callback_query(id)`` (was it answered, how);
    operators: ``send_as_operator(chat_id, thread_id, user_id, text, reply_to_message_id)``,
    ``edit_as_operator``, ``delete_as_operator``, ``create_topic``, ``close_topic``,
    ``reopen_topic``, ``delete_topic``, ``topics``;
    inspection: ``transcript(chat_id, thread_id=None)``, ``calls(method=None)``,
    ``violations``, ``stats``, ``pending_updates``, ``deliveries``;
    faults and limits: ``set_fault(...)``, ``clear_faults``, ``limits``, ``set_limits``,
    ``advance_clock``; and ``bot_api(method, **params)`` to call the Bot API.

Control endpoints (JSON; answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error"}``)
under ``/_emulator``: ``POST /reset``, ``GET /info``, ``POST /bots``, ``POST /users``,
``POST /groups``, ``POST /groups/{chat_id}/members``, ``POST /groups/{chat_id}/migrate``,
``POST /users/{user_id}/messages|albums|edit|react|delete|block|unblock|``
``deactivate|press``, ``GET /callbacks/{query_id}``,
``POST /chats/{chat_id}/messages|edit|delete|topics``, ``GET /chats/{chat_id}/topics``,
``POST /chats/{chat_id}/topics/{thread_id}/close|reopen|delete``,
``GET /chats/{chat_id}/transcript?thread_id=``, ``GET /calls?method=``, ``GET /violations``,
``GET /stats``, ``GET /updates``, ``GET /deliveries``, ``GET|POST|DELETE /faults``,
``GET|POST /limits``, ``POST /clock/advance``.

pytest: ``from devkit.telegram_emulator.testing import telegram_emulator`` (function
scope, yields ``RunningEmulator`` with ``server``, ``client``, ``base_url``,
``ptb_base_url``, ``token``, ``bot_id``) and ``telegram_emulator_factory``.

Standalone: ``python -m devkit.telegram_emulator --port 8081`` (``make emulator``).

Bot API methods: getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo,
sendMessage, sendPhoto, sendDocument, sendVideo, sendAnimation, sendAudio, sendVoice,
sendVideoNote, sendSticker, sendLocation, sendContact, sendMediaGroup, sendChatAction,
copyMessage, copyMessages, forwardMessage, forwardMessages, editMessageText,
editMessageCaption, editMessageReplyMarkup, deleteMessage, deleteMessages,
setMessageReaction, getChat, getChatMember, getChatAdministrators, getChatMemberCount,
getFile (+ ``/file/bot<token>/<path>``), createForumTopic, editForumTopic,
closeForumTopic, reopenForumTopic, deleteForumTopic, getForumTopicIconStickers,
setMyCommands, getMyCommands, deleteMyCommands, answerCallbackQuery (see ``callbacks``:
inline keyboards, pressed buttons and their answers as Telegram checks them), logOut, close.
Other methods of the spec answer ``400 ... not implemented by the emulator``.
"""

from .client import BotApiError, EmulatorClient, EmulatorError
from .delivery import DeliveryOptions
from .limits import Limits, ManualClock
from .server import DEFAULT_BOT_USERNAME, DEFAULT_TOKEN, EmulatorServer

__all__ = [
    "DEFAULT_BOT_USERNAME",
    "DEFAULT_TOKEN",
    "BotApiError",
    "DeliveryOptions",
    "EmulatorClient",
    "EmulatorError",
    "EmulatorServer",
    "Limits",
    "ManualClock",
]
