"""The webhook's pure decision: method, secret, size, JSON, update_id, routing."""

from __future__ import annotations

import base64
import json

import pytest
from topicdesk.domain.routing import (
    KNOWN_UPDATE_TYPES,
    UNKNOWN_GROUP,
    chat_of_group,
    group_key,
)
from topicdesk.domain.webhook import MAX_BODY_BYTES, Accepted, Refused, decide, secret_matches

SECRET = "s3cr3t-Token_1"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "content-type": "application/json"}
UPDATE = {"update_id": 7, "message": {"message_id": 1, "chat": {"id": 42, "type": "private"}}}


def call(
    body: str | None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    b64: bool = False,
) -> Accepted | Refused:
    return decide(
        method=method,
        headers=HEADERS if headers is None else headers,
        body=body,
        is_base64=b64,
        expected_secret=SECRET,
    )


def test_a_valid_update_is_accepted_with_its_chat_as_group() -> None:
    decision = call(json.dumps(UPDATE))
    assert isinstance(decision, Accepted)
    assert (decision.update_id, decision.group_id, decision.update_type) == (7, "42", "message")
    assert json.loads(decision.body) == UPDATE


def test_base64_bodies_are_decoded() -> None:
    encoded = base64.b64encode(json.dumps(UPDATE).encode()).decode()
    assert isinstance(call(encoded, b64=True), Accepted)
    refused = call("!!not base64!!", b64=True)
    assert isinstance(refused, Refused) and refused.status == 400


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, 401),
        ({"X-Telegram-Bot-Api-Secret-Token": ""}, 401),
        ({"x-telegram-bot-api-secret-token": SECRET}, None),
    ],
)
def test_secret_header(headers: dict[str, str], status: int | None) -> None:
    decision = call(json.dumps(UPDATE), headers=headers)
    if status is None:
        assert isinstance(decision, Accepted)
    else:
        assert isinstance(decision, Refused) and decision.status == status


def test_an_empty_expected_secret_never_matches() -> None:
    assert not secret_matches("", "")
    assert not secret_matches("x", "")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_only_post(method: str) -> None:
    decision = call(json.dumps(UPDATE), method=method)
    assert isinstance(decision, Refused) and decision.status == 405


def test_method_is_checked_before_the_secret() -> None:
    decision = call("", method="GET", headers={})
    assert isinstance(decision, Refused) and decision.status == 405


def test_oversized_bodies_are_refused() -> None:
    big = json.dumps({"update_id": 1, "message": {"text": "x" * MAX_BODY_BYTES}})
    decision = call(big)
    assert isinstance(decision, Refused) and decision.status == 413


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not_json"),
        ("[1, 2]", "not_object"),
        ("{}", "no_update_id"),
        ('{"update_id": "7"}', "no_update_id"),
        ('{"update_id": true}', "no_update_id"),
        ('{"update_id": 1.5}', "no_update_id"),
        ("", "not_json"),
        ("[" * 100_000, "not_json"),
    ],
)
def test_bad_bodies_get_400(body: str, reason: str) -> None:
    decision = call(body)
    assert isinstance(decision, Refused) and decision.status == 400 and decision.reason == reason


def test_unknown_update_types_are_still_accepted() -> None:
    decision = call(json.dumps({"update_id": 9, "brand_new_thing": {"x": 1}}))
    assert isinstance(decision, Accepted)
    assert decision.group_id == UNKNOWN_GROUP and decision.update_type == "unknown"


@pytest.mark.parametrize(
    ("update", "group"),
    [
        ({"callback_query": {"from": {"id": 5}, "message": {"chat": {"id": -100}}}}, "-100"),
        ({"callback_query": {"from": {"id": 5}}}, "5"),
        ({"inline_query": {"from": {"id": 6}}}, "6"),
        ({"poll": {"id": "abc"}}, "poll:abc"),
        ({"poll_answer": {"user": {"id": 8}}}, "8"),
        ({"poll_answer": {"voter_chat": {"id": -9}}}, "-9"),
        ({"my_chat_member": {"chat": {"id": 10}}}, "10"),
        ({"message_reaction": {"chat": {"id": -11}}}, "-11"),
        ({"business_connection": {"user": {"id": 12}}}, "12"),
        ({"managed_bot": {"user": {"id": 13}}}, "13"),
        ({"message": {"chat": {}}}, "message:unrouted"),
        # The operators' forum group: one conversation per topic; General keeps the chat's.
        (
            {
                "message": {
                    "chat": {"id": -100, "type": "supergroup"},
                    "message_thread_id": 7,
                    "is_topic_message": True,
                }
            },
            "-100:7",
        ),
        (
            {
                "edited_message": {
                    "chat": {"id": -100, "type": "supergroup"},
                    "message_thread_id": 8,
                    "is_topic_message": True,
                }
            },
            "-100:8",
        ),
        ({"message": {"chat": {"id": -100, "type": "supergroup"}}}, "-100"),
        (
            {
                "callback_query": {
                    "from": {"id": 5},
                    "message": {
                        "chat": {"id": -100, "type": "supergroup"},
                        "message_thread_id": 9,
                        "is_topic_message": True,
                    },
                }
            },
            "-100:9",
        ),
    ],
)
def test_group_keys(update: dict[str, object], group: str) -> None:
    assert group_key({"update_id": 1, **update}) == group


def test_a_topic_group_names_its_chat() -> None:
    assert chat_of_group("-100:7") == -100
    assert chat_of_group("42") == 42
    assert chat_of_group("poll:abc") is None


def test_routing_knows_every_update_type_of_the_bundled_spec() -> None:
    spec = json.loads(
        (
            __import__("pathlib").Path(__file__).parents[2]
            / "devkit"
            / "telegram_emulator"
            / "botapi_spec.json"
        ).read_text()
    )
    update_fields = set(spec["types"]["Update"]["fields"]) - {"update_id"}
    assert update_fields == set(KNOWN_UPDATE_TYPES)


@pytest.mark.parametrize("text", ["\\ud83d", "\\uffff", "a\\ufffeb", "\\udc00\\ud800"])
def test_characters_sqs_refuses_are_escaped_and_the_update_is_unchanged(text: str) -> None:
    body = json.dumps(UPDATE).replace('"chat"', f'"text": "{text}", "chat"')
    decision = call(body)
    assert isinstance(decision, Accepted)
    assert json.loads(decision.body) == json.loads(body)
    assert all(
        ch in "\t\n\r"
        or 0x20 <= ord(ch) <= 0xD7FF
        or 0xE000 <= ord(ch) <= 0xFFFD
        or ord(ch) >= 0x10000
        for ch in decision.body
    )


def test_update_ids_beyond_64_bits_are_refused() -> None:
    assert isinstance(call(json.dumps({"update_id": 2**63 - 1})), Accepted)
    refused = call(json.dumps({"update_id": 10**128}))
    assert isinstance(refused, Refused) and refused.status == 400


@pytest.mark.parametrize("chat_id", ["a b", "caf\u00e9", "\u0442\u0435\u0441\u0442", "x" * 300])
def test_group_ids_are_always_valid_for_sqs(chat_id: str) -> None:
    key = group_key({"update_id": 1, "message": {"chat": {"id": chat_id}}})
    assert 1 <= len(key) <= 128 and all("!" <= ch <= "~" for ch in key)
