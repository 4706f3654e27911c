"""Every call is checked against the Bot API spec, in every body encoding Telegram takes."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from telegram.error import BadRequest

from devkit.telegram_emulator.spec import SPEC_PATH, Spec, load_spec
from devkit.telegram_emulator.testing import RunningEmulator, ptb_bot


def raw_call(
    url: str, *, data: bytes | None = None, content_type: str | None = None, method: str = "POST"
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def form_call(emulator: RunningEmulator, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    body = urllib.parse.urlencode(params).encode()
    return raw_call(
        f"{emulator.api_url}/{method}", data=body, content_type="application/x-www-form-urlencoded"
    )


def json_call(emulator: RunningEmulator, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return raw_call(
        f"{emulator.api_url}/{method}",
        data=json.dumps(params).encode(),
        content_type="application/json",
    )


def test_spec_file_is_facts_only_with_its_source() -> None:
    data = json.loads(Path(SPEC_PATH).read_text(encoding="utf-8"))
    assert data["source"]["repository"] == "PaulSonOfLars/telegram-bot-api-spec"
    assert data["source"]["commit"] and data["source"]["api_version"].startswith("Bot API ")
    send = data["methods"]["sendMessage"]
    assert send["params"]["chat_id"] == ["Integer", "String"]
    assert set(send["required"]) == {"chat_id", "text"}
    assert data["types"]["InputMediaPhoto"]["const"] == {"type": "photo"}

    def strings(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [*node.keys(), *(s for v in node.values() for s in strings(v))]
        if isinstance(node, list):
            return [s for v in node for s in strings(v)]
        return [node] if isinstance(node, str) else []

    # Names, types and short values only: no sentence of documentation prose.
    values = strings({k: v for k, v in data.items() if k != "source"})
    assert values and max(len(v) for v in values) < 60
    assert not [v for v in values if ". " in v or v.replace("Array of ", "").count(" ") > 1]


def test_answers_conform_to_the_spec() -> None:
    spec = load_spec()
    good = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}
    assert spec.check_value(["Message"], good) == []
    problems = spec.check_value(["Message"], {"message_id": "1", "chat": {}, "bogus": 1})
    assert any("message_id" in p for p in problems)
    assert any("bogus" in p for p in problems)
    assert any(".date" in p for p in problems)


def test_unknown_method_and_token_answers(telegram_emulator: RunningEmulator) -> None:
    base = telegram_emulator.base_url
    assert raw_call(f"{base}/bot{telegram_emulator.token}/fooBar", data=b"") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert raw_call(f"{base}/bot999:WRONG/getMe", data=b"") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert raw_call(f"{base}/botnot-a-token/getMe", data=b"")[0] == 404
    # Method names are case-insensitive, like Telegram's.
    status, body = raw_call(f"{base}/bot{telegram_emulator.token}/GETME", method="GET")
    assert status == 200 and body["result"]["id"] == telegram_emulator.bot_id


def test_get_with_query_and_form_values_are_coerced(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    query = urllib.parse.urlencode({"chat_id": world["person"], "text": "via GET"})
    status, body = raw_call(f"{telegram_emulator.api_url}/sendMessage?{query}", method="GET")
    assert status == 200 and body["result"]["text"] == "via GET"
    status, body = form_call(
        telegram_emulator,
        "sendMessage",
        chat_id=str(world["person"]),
        text="form",
        disable_notification="true",
        reply_parameters=json.dumps({"message_id": body["result"]["message_id"]}),
    )
    assert status == 200, body
    assert body["result"]["reply_to_message"]["text"] == "via GET"
    status, body = json_call(
        telegram_emulator, "sendMessage", chat_id=world["person"], text="json", protect_content=True
    )
    assert status == 200 and body["result"]["has_protected_content"] is True


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"text": "x"}, "Bad Request: chat_id is empty"),
        ({"chat_id": "{person}"}, "Bad Request: message text is empty"),
        ({"chat_id": "{person}", "text": ""}, "Bad Request: message text is empty"),
        ({"chat_id": "{person}", "text": "x", "colour": "red"}, 'unknown parameter "colour"'),
        ({"chat_id": "{person}", "text": "x", "message_thread_id": "abc"}, "message_thread_id"),
        ({"chat_id": "{person}", "text": "x", "disable_notification": "maybe"}, "Boolean"),
        ({"chat_id": "{person}", "text": "x", "reply_parameters": "{not json"}, "reply_parameters"),
        (
            {"chat_id": "{person}", "text": "x", "reply_parameters": '{"message_id": 1, "foo": 2}'},
            'field "foo"',
        ),
        ({"chat_id": "{person}", "text": "x", "reply_parameters": "{}"}, 'field "message_id"'),
        ({"chat_id": "{person}", "text": "x", "entities": '[{"type": "bold"}]'}, "offset"),
        ({"chat_id": "{person}", "text": "x", "parse_mode": "HTML5"}, "parse_mode"),
        ({"chat_id": "-100555", "text": "x"}, "Bad Request: chat not found"),
    ],
)
def test_validation_refuses_wrong_calls_with_400(
    telegram_emulator: RunningEmulator,
    world: dict[str, Any],
    params: dict[str, str],
    description: str,
) -> None:
    filled = {k: v.replace("{person}", str(world["person"])) for k, v in params.items()}
    status, body = form_call(telegram_emulator, "sendMessage", **filled)
    assert status == 400
    assert body["ok"] is False and body["error_code"] == 400
    assert body["description"].startswith("Bad Request: ")
    assert description in body["description"]
    assert telegram_emulator.client.transcript(world["person"]) == []


def test_missing_generic_parameter_wording(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    status, body = json_call(telegram_emulator, "copyMessage", chat_id=world["group"], message_id=1)
    assert status == 400
    assert body["description"] == 'Bad Request: parameter "from_chat_id" is required'


def test_nested_input_media_is_validated(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    media = [{"type": "photo", "media": "x"}, {"type": "hologram", "media": "y"}]
    status, body = json_call(
        telegram_emulator, "sendMediaGroup", chat_id=world["person"], media=media
    )
    assert status == 400 and "media" in body["description"]


@pytest.mark.filterwarnings("ignore:Please use 'Bot.sendMessage'")
def test_ptb_sees_validation_errors_as_bad_request(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    async def scenario() -> list[str]:
        messages = []
        async with ptb_bot(telegram_emulator) as bot:
            for kwargs in (
                {"chat_id": world["person"], "text": "x", "api_kwargs": {"unknown_field": 1}},
                {"chat_id": world["person"], "text": "x", "api_kwargs": {"message_thread_id": "x"}},
            ):
                with pytest.raises(BadRequest) as info:
                    await bot.send_message(**kwargs)  # type: ignore[arg-type]
                messages.append(info.value.message)
            with pytest.raises(BadRequest) as info:
                await bot.do_api_request("sendMessage", api_kwargs={"chat_id": world["person"]})
            messages.append(info.value.message)
        return messages

    messages = asyncio.run(scenario())
    assert "unknown_field" in messages[0]
    assert "message_thread_id" in messages[1]
    assert messages[2] == "Message text is empty"


def test_every_method_implemented_is_in_the_spec(telegram_emulator: RunningEmulator) -> None:
    spec: Spec = telegram_emulator.server.spec
    assert set(telegram_emulator.server.api.handlers) <= set(spec.methods)
    status, body = json_call(telegram_emulator, "sendPoll", chat_id=1, question="q", options=[])
    assert status == 400 and "not implemented by the emulator" in body["description"]


def test_updates_are_checked_against_the_spec_too() -> None:
    from devkit.telegram_emulator import EmulatorServer

    server = EmulatorServer()  # not started: the world works without a loop
    server.world.emit(server.bot_id, "message", {"message_id": 1}, 1)
    assert len(server.internal_errors) == 1 and "date" in server.internal_errors[0]
    good = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}
    server.world.emit(server.bot_id, "message", good, 1)
    assert len(server.internal_errors) == 1
    assert len(server.updates_for(server.bot_id).pending) == 2
