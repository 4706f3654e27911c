"""Properties of the webhook, on the real handler with SQS and Secrets Manager on moto.

Whatever arrives (any method, headers, body encoding, size, JSON shape, every update type of
the Bot API spec):
- the answer is one of 200 / 400 / 401 / 405 / 413, never an exception and never a 500 while
  SQS works; method, then secret, then size, then JSON decide which;
- nothing unauthenticated or invalid is queued (the queue is counted, not just the calls);
- every 200 queued exactly one message, grouped by routing's key for the update and
  deduplicated by its ``update_id``, that real SQS would accept (moto checks less);
- when SQS fails the answer is 500 and nothing is queued, and Telegram's retry then succeeds.

The ``test_found_*`` tests at the end keep the examples these properties found (lone surrogate
escapes crashed the webhook; U+FFFE/U+FFFF, over-long update ids and odd string chat ids made
SendMessage calls real SQS refuses) as plain regression tests.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from topicdesk.domain.routing import KNOWN_UPDATE_TYPES, group_key, is_served
from topicdesk.domain.webhook import MAX_BODY_BYTES, MAX_UPDATE_ID
from topicdesk.handlers import webhook

from devkit.telegram_emulator.spec import load_spec
from tests.property.webhook_strategies import (
    UPDATE_TYPES,
    Body,
    Headers,
    any_bodies,
    bad_update_ids,
    carried,
    ids_in,
    methods,
    out_of_range_update_ids,
    padded_update,
    request_headers,
    sizes_around_limit,
    spec_updates,
    update_ids,
)
from tests.support.webhook_world import WEBHOOK_SECRET, WebhookWorld, sqs_would_refuse

ANSWERS = {200, 400, 401, 405, 413}
SECRET_HEADERS = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}

# 200 examples in all; deadline off (moto and 256 KB bodies), no example database written
# into the checkout.
PROPERTY = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check(world: WebhookWorld, answer: dict[str, Any]) -> int:
    """The invariants of every answer; returns its status."""
    status = int(answer["statusCode"])
    assert status in ANSWERS, answer
    assert json.loads(answer["body"])["ok"] is (status == 200)
    if status != 200:
        assert world.sent == [], "a refused request reached SQS"
        assert world.queued() == 0, "a refused request was queued"
        return status
    assert len(world.sent) == 1, world.sent
    assert world.queued() == 1
    sent = world.sent[0]
    assert sqs_would_refuse(sent) == [], sent
    update = json.loads(sent["MessageBody"])
    assert sent["MessageGroupId"] == group_key(update)
    assert sent["MessageDeduplicationId"] == str(update["update_id"])
    (message,) = world.messages()
    assert message["Attributes"]["MessageGroupId"] == group_key(update)
    assert message["Attributes"]["MessageDeduplicationId"] == str(update["update_id"])
    assert message["Body"] == sent["MessageBody"]
    return status


def post_body(world: WebhookWorld, body: Body, **request: Any) -> dict[str, Any]:
    return world.post(body=body.body, is_base64=body.is_base64, **request)


# --------------------------------------------------------------------------- every type


def test_routing_knows_every_update_type_of_the_spec() -> None:
    assert set(UPDATE_TYPES) == KNOWN_UPDATE_TYPES


@pytest.mark.parametrize("kind", UPDATE_TYPES)
@settings(PROPERTY, max_examples=3)
@given(data=st.data())
def test_every_update_type_is_queued_once_in_its_chats_group(
    webhook_world: WebhookWorld, kind: str, data: st.DataObject
) -> None:
    update = data.draw(spec_updates([kind]), label="update")
    assert load_spec().check_value(["Update"], update) == [], "the generator left the spec"
    body = data.draw(carried(update), label="body")
    webhook_world.reset()

    answer = post_body(webhook_world, body, method="POST", headers=SECRET_HEADERS)

    assert check(webhook_world, answer) == 200
    sent = webhook_world.sent[0]
    assert json.loads(sent["MessageBody"]) == update
    group = sent["MessageGroupId"]
    # Routed by an id the update itself carries (its chat, else its user), never a fallback.
    assert group != f"{kind}:unrouted"
    assert group.removeprefix("poll:") in ids_in(update[kind])


# --------------------------------------------------------------------------- strangers


OPERATORS = frozenset({-100})


@settings(PROPERTY, max_examples=30)
@given(data=st.data())
def test_updates_from_chats_not_served_are_answered_and_never_queued(
    webhook_world: WebhookWorld, data: st.DataObject
) -> None:
    update = data.draw(spec_updates(["message", "edited_message", "channel_post"]), label="u")
    served = is_served(update, OPERATORS)
    service = webhook.service()
    service.operator_chat_ids = OPERATORS
    webhook_world.reset()
    try:
        answer = post_body(
            webhook_world, data.draw(carried(update)), method="POST", headers=SECRET_HEADERS
        )
    finally:
        service.operator_chat_ids = frozenset()
    chat = update[next(k for k in update if k != "update_id")]["chat"]
    assert served is (chat["type"] == "private" or chat["id"] in OPERATORS)
    if served:
        assert check(webhook_world, answer) == 200
    else:
        assert int(answer["statusCode"]) == 200 and webhook_world.sent == []
        assert webhook_world.queued() == 0


# --------------------------------------------------------------------------- anything


@settings(PROPERTY, max_examples=50)
@given(
    method=methods,
    headers=request_headers(WEBHOOK_SECRET),
    body=any_bodies(),
)
@example(
    method="POST",
    headers=Headers(SECRET_HEADERS, True, False),
    body=Body("deep", '{"update_id":1,"m":' + "[" * 50_000 + "]" * 50_000 + "}", False, None),
)
def test_any_request_gets_a_contract_answer(
    webhook_world: WebhookWorld, method: str, headers: Any, body: Body
) -> None:
    webhook_world.reset()

    answer = post_body(
        webhook_world, body, method=method, headers=headers.headers, raw_case=headers.raw_case
    )

    status = check(webhook_world, answer)
    if method.upper() != "POST":
        assert status == 405
    elif not headers.authenticated:
        assert status == 401
    elif body.expect is not None:
        assert status == body.expect, body.label
    else:
        assert status in (200, 400), body.label
    if status == 200 and body.update is not None:
        assert json.loads(webhook_world.sent[0]["MessageBody"]) == body.update


@settings(PROPERTY, max_examples=20)
@given(
    headers=request_headers(WEBHOOK_SECRET).filter(lambda h: not h.authenticated),
    body=any_bodies(),
)
def test_nothing_unauthenticated_is_queued(
    webhook_world: WebhookWorld, headers: Any, body: Body
) -> None:
    webhook_world.reset()

    answer = post_body(
        webhook_world, body, method="POST", headers=headers.headers, raw_case=headers.raw_case
    )

    assert check(webhook_world, answer) == 401


# --------------------------------------------------------------------------- sizes


@settings(PROPERTY, max_examples=20)
@given(size=sizes_around_limit(), encoded=st.booleans(), update_id=st.integers(0, 2**31 - 1))
@example(size=MAX_BODY_BYTES, encoded=True, update_id=1)
@example(size=MAX_BODY_BYTES + 1, encoded=True, update_id=1)
def test_bodies_up_to_the_limit_are_queued_and_bigger_ones_refused(
    webhook_world: WebhookWorld, size: int, encoded: bool, update_id: int
) -> None:
    raw = json.dumps(padded_update(update_id, size), separators=(",", ":")).encode()
    body = base64.b64encode(raw).decode() if encoded else raw.decode()
    webhook_world.reset()

    answer = webhook_world.post(method="POST", headers=SECRET_HEADERS, body=body, is_base64=encoded)

    assert check(webhook_world, answer) == (200 if size <= MAX_BODY_BYTES else 413)


# --------------------------------------------------------------------------- update_id


@settings(PROPERTY, max_examples=20)
@given(
    update_id=update_ids | out_of_range_update_ids | bad_update_ids,
    update=spec_updates(["message", "callback_query", "poll"]),
)
@example(update_id=0, update={"update_id": 0})
@example(update_id=MAX_UPDATE_ID, update={"update_id": 0})
@example(update_id=MAX_UPDATE_ID + 1, update={"update_id": 0})
@example(update_id=10**128, update={"update_id": 0})
@example(update_id=True, update={"update_id": 0})
@example(update_id=1.0, update={"update_id": 0})
@example(update_id=-1, update={"update_id": 0})
def test_update_id_must_be_an_integer_in_range_and_is_the_dedup_id(
    webhook_world: WebhookWorld, update_id: Any, update: dict[str, Any]
) -> None:
    valid = (
        isinstance(update_id, int)
        and not isinstance(update_id, bool)
        and 0 <= update_id <= MAX_UPDATE_ID
    )
    webhook_world.reset()

    answer = webhook_world.post(
        method="POST", headers=SECRET_HEADERS, body=json.dumps(update | {"update_id": update_id})
    )

    assert check(webhook_world, answer) == (200 if valid else 400)
    if valid:
        assert webhook_world.sent[0]["MessageDeduplicationId"] == str(update_id)


# --------------------------------------------------------------------------- SQS down


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "injected"}}, "SendMessage")


sqs_failures = st.sampled_from(
    [
        _client_error("ServiceUnavailable"),
        _client_error("ThrottlingException"),
        _client_error("AccessDenied"),
        _client_error("KmsThrottled"),
        EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com"),
    ]
)


@settings(PROPERTY, max_examples=15)
@given(update=spec_updates(), failure=sqs_failures)
def test_when_sqs_fails_the_answer_is_500_and_the_retry_queues_it(
    webhook_world: WebhookWorld, update: dict[str, Any], failure: Exception
) -> None:
    webhook_world.reset()

    with webhook_world.sqs_failing(failure):
        answer = webhook_world.post(method="POST", headers=SECRET_HEADERS, body=json.dumps(update))

    assert answer["statusCode"] == 500
    assert json.loads(answer["body"])["ok"] is False
    assert webhook_world.queued() == 0
    webhook_world.sent.clear()
    retried = webhook_world.post(method="POST", headers=SECRET_HEADERS, body=json.dumps(update))
    assert check(webhook_world, retried) == 200


# --------------------------------------------------------------------------- found


def _private_message(update_id: int = 1, **message: Any) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": 42, "type": "private"},
            "text": "hi",
        }
        | message,
    }


def _post_json(world: WebhookWorld, body: str) -> int:
    world.reset()
    return check(world, world.post(method="POST", headers=SECRET_HEADERS, body=body))


@pytest.mark.parametrize("escape", ["\\ud83d", "\\udc00", "a\\ud800b\\udfff"])
def test_found_lone_surrogate_escapes_are_queued_intact(
    webhook_world: WebhookWorld, escape: str
) -> None:
    # Valid JSON (RFC 8259 allows any \\uXXXX escape). decide() used to raise
    # UnicodeEncodeError on it, so the Lambda errored instead of answering.
    body = json.dumps(_private_message()).replace('"hi"', f'"{escape}"')
    assert _post_json(webhook_world, body) == 200
    assert json.loads(webhook_world.sent[0]["MessageBody"]) == json.loads(body)


@pytest.mark.parametrize("text", ["\uffff", "a\ufffeb", "\ufffe\uffff\U0001f600"])
def test_found_characters_sqs_refuses_are_escaped_not_lost(
    webhook_world: WebhookWorld, text: str
) -> None:
    # They went into the SQS body raw; real SQS refuses them (InvalidMessageContents, or in its
    # newer wording replaces them with U+FFFD): a 500 on every retry, or another update queued.
    update = _private_message(text=text)
    assert _post_json(webhook_world, json.dumps(update, ensure_ascii=False)) == 200
    assert json.loads(webhook_world.sent[0]["MessageBody"]) == update


@pytest.mark.parametrize(
    ("update_id", "status"),
    [(MAX_UPDATE_ID, 200), (MAX_UPDATE_ID + 1, 400), (10**128, 400), (10**200, 400)],
)
def test_found_update_ids_past_64_bits_are_refused(
    webhook_world: WebhookWorld, update_id: int, status: int
) -> None:
    # A 129-digit update_id was accepted, and is no valid SQS deduplication id (max 128).
    assert _post_json(webhook_world, json.dumps(_private_message(update_id))) == status


@pytest.mark.parametrize(
    "chat_id", ["a b", "caf\u00e9", "\u0442\u0435\u0441\u0442", "_", "x" * 300]
)
def test_found_string_chat_ids_give_valid_group_ids(
    webhook_world: WebhookWorld, chat_id: str
) -> None:
    # The chat id became the MessageGroupId unchecked; SQS refuses spaces and non-ASCII.
    body = json.dumps(_private_message(chat={"id": chat_id, "type": "private"}))
    assert _post_json(webhook_world, body) == 200
