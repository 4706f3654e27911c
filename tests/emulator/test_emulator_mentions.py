"""A text mention (``tg://user?id=`` in HTML or Markdown) comes back with the whole User, as
Telegram's do (the Bot API's User needs id, is_bot and first_name); one of a user Telegram does
not know is no mention at all."""

from __future__ import annotations

from typing import Any

from devkit.telegram_emulator.testing import RunningEmulator


def test_a_text_mention_carries_the_whole_user(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    client = telegram_emulator.client
    olga = int(world["operators"][0])
    sent = client.bot_api(
        "sendMessage",
        chat_id=world["group"],
        text=f'⏰ Waiting <a href="tg://user?id={olga}">Olga</a> <a href="tg://user?id=999">X</a>',
        parse_mode="HTML",
    )
    assert sent["text"] == "⏰ Waiting Olga X"
    [mention] = sent["entities"]  # the unknown user's is plain text
    assert mention["type"] == "text_mention" and (mention["offset"], mention["length"]) == (10, 4)
    assert mention["user"]["id"] == olga
    assert mention["user"]["is_bot"] is False and mention["user"]["first_name"] == "Olga"
    # The stored message reads the same in the chat's transcript.
    [stored] = [
        m for m in client.transcript(world["group"]) if m["message_id"] == sent["message_id"]
    ]
    assert stored["entities"] == sent["entities"]
