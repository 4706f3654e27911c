"""Inline keyboards, pressing a button (a real-shaped ``callback_query``), answerCallbackQuery:
the emulator checks them as Telegram does and answers with Telegram's errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devkit.telegram_emulator.callbacks import ANSWER_WITHIN_SECONDS, QUERY_INVALID
from devkit.telegram_emulator.client import BotApiError, EmulatorError
from devkit.telegram_emulator.spec import load_spec
from devkit.telegram_emulator.testing import RunningEmulator

KEYBOARD = {
    "inline_keyboard": [
        [{"text": "🍎", "callback_data": "pick:apple"}, {"text": "🚗", "callback_data": "pick:car"}]
    ]
}


def question(emulator: RunningEmulator, markup: Any = KEYBOARD) -> tuple[int, int]:
    client = emulator.client
    user = int(client.create_user("Alice", started=True)["user_id"])
    sent = client.bot_api("sendMessage", chat_id=user, text="Tap the apple", reply_markup=markup)
    return user, int(sent["message_id"])


def updates(emulator: RunningEmulator) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = emulator.client.bot_api("getUpdates", timeout=0)
    return answer


def test_a_keyboard_is_kept_and_pressing_a_button_makes_a_real_shaped_callback_query(
    fast_emulator: RunningEmulator,
) -> None:
    client = fast_emulator.client
    user, message_id = question(fast_emulator)
    assert client.transcript(user)[-1]["reply_markup"] == KEYBOARD
    query = client.press_button(user, message_id, "pick:car")
    (update,) = [u for u in updates(fast_emulator) if "callback_query" in u]
    callback = update["callback_query"]
    assert callback["id"] == query["id"] and callback["data"] == "pick:car"
    assert callback["from"]["id"] == user and callback["message"]["message_id"] == message_id
    assert callback["message"]["reply_markup"] == KEYBOARD
    assert isinstance(callback["chat_instance"], str)
    assert load_spec().check_value(["CallbackQuery"], callback) == []
    # By label as well; each press is a query of its own.
    again = client.press_button(user, message_id, text="🍎")
    assert again["id"] != query["id"] and again["data"] == "pick:apple"


def test_pressing_what_is_not_a_button_of_the_bot_is_refused(
    fast_emulator: RunningEmulator,
) -> None:
    client = fast_emulator.client
    user, message_id = question(fast_emulator)
    with pytest.raises(EmulatorError):
        client.press_button(user, message_id, "pick:boat")
    mine = client.send_as_user(user, "hello")
    with pytest.raises(EmulatorError):
        client.press_button(user, mine["message_id"], "pick:apple")


def test_answer_callback_query_once_within_its_time(
    telegram_emulator_factory: Callable[..., RunningEmulator],
) -> None:
    now = [1_800_000_000.0]
    emulator = telegram_emulator_factory(wall_clock=lambda: now[0])
    client = emulator.client
    user, message_id = question(emulator)
    first = client.press_button(user, message_id, "pick:apple")
    assert client.bot_api("answerCallbackQuery", callback_query_id=first["id"], text="Thanks")
    answered = client.callback_query(first["id"])
    assert answered["answered"] and answered["answer"] == {"text": "Thanks"}
    with pytest.raises(BotApiError) as twice:  # once only
        client.bot_api("answerCallbackQuery", callback_query_id=first["id"])
    assert twice.value.error_code == 400 and QUERY_INVALID in twice.value.description

    late = client.press_button(user, message_id, "pick:car")
    now[0] += ANSWER_WITHIN_SECONDS + 1
    with pytest.raises(BotApiError) as too_late:
        client.bot_api("answerCallbackQuery", callback_query_id=late["id"])
    assert QUERY_INVALID in too_late.value.description
    assert client.callback_query(late["id"])["refused"] == ["too late"]

    with pytest.raises(BotApiError) as unknown:
        client.bot_api("answerCallbackQuery", callback_query_id="123456")
    assert QUERY_INVALID in unknown.value.description


def test_answer_text_is_at_most_200_characters(fast_emulator: RunningEmulator) -> None:
    client = fast_emulator.client
    user, message_id = question(fast_emulator)
    query = client.press_button(user, message_id, "pick:apple")
    with pytest.raises(BotApiError) as long:
        client.bot_api("answerCallbackQuery", callback_query_id=query["id"], text="x" * 201)
    assert long.value.description == "Bad Request: MESSAGE_TOO_LONG"
    assert client.bot_api("answerCallbackQuery", callback_query_id=query["id"], text="x" * 200)


@pytest.mark.parametrize(
    ("button", "error"),
    [
        ({"text": "no action"}, "Text buttons are unallowed in the inline keyboard"),
        ({"text": "too long", "callback_data": "x" * 65}, "BUTTON_DATA_INVALID"),
        ({"text": "empty", "callback_data": ""}, "BUTTON_DATA_INVALID"),
        (
            {"text": "two", "callback_data": "a", "url": "https://example.com"},
            "exactly one of",
        ),
        ({"callback_data": "no text"}, "text"),  # the spec's own check: text is required
    ],
)
def test_keyboards_that_break_telegrams_rules_are_refused(
    fast_emulator: RunningEmulator, button: dict[str, Any], error: str
) -> None:
    client = fast_emulator.client
    user = int(client.create_user("Bob", started=True)["user_id"])
    with pytest.raises(BotApiError) as refused:
        client.bot_api(
            "sendMessage", chat_id=user, text="?", reply_markup={"inline_keyboard": [[button]]}
        )
    assert refused.value.error_code == 400 and error in refused.value.description
    # 64 bytes of data are fine (a multi-byte character counts its bytes).
    ok = {"inline_keyboard": [[{"text": "ok", "callback_data": "é" * 32}]]}
    assert client.bot_api("sendMessage", chat_id=user, text="?", reply_markup=ok)
