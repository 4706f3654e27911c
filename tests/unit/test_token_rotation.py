"""A rotated bot token: the first 401 reads the secret again and rebuilds the Bot once; a
second 401 fails the call as Unauthorized, whose text never carries the token."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram.error import InvalidToken
from topicdesk.adapters.telegram import PtbTelegramGateway
from topicdesk.domain.errors import Unauthorized

from tests.support.fakes import FakeMetrics

OLD = "111111:old-token-that-was-revoked-by-botfather"


class Sent:
    message_id = 42


class FakeBot:
    def __init__(self, token: str, refuse: bool) -> None:
        self.token, self.refuse, self.calls = token, refuse, 0

    async def send_message(self, *args: Any, **kwargs: Any) -> Sent:
        self.calls += 1
        if self.refuse:
            raise InvalidToken(f"The token `{self.token}` was rejected by the server.")
        return Sent()


def test_a_401_rebuilds_the_bot_once_and_the_send_goes() -> None:
    old, new = FakeBot(OLD, refuse=True), FakeBot("111111:new-token", refuse=False)
    rebuilt: list[FakeBot] = []

    async def rebuild() -> Any:
        rebuilt.append(new)
        return new

    metrics = FakeMetrics()
    gateway = PtbTelegramGateway(old, rebuild=rebuild, metrics=metrics)  # type: ignore[arg-type]
    assert asyncio.run(gateway.send_text(5, "hello")) == 42
    assert (old.calls, new.calls, len(rebuilt)) == (1, 1, 1)
    assert metrics.counts["TelegramError401"] == 1
    assert asyncio.run(gateway.send_text(5, "again")) == 42  # the new Bot stays
    assert (old.calls, new.calls) == (1, 2)


def test_a_token_still_refused_after_the_rebuild_fails_without_leaking_it() -> None:
    async def rebuild() -> Any:
        return FakeBot(OLD, refuse=True)

    gateway = PtbTelegramGateway(FakeBot(OLD, refuse=True), rebuild=rebuild)  # type: ignore[arg-type]
    with pytest.raises(Unauthorized) as refused:
        asyncio.run(gateway.send_text(5, "hello"))
    assert OLD not in str(refused.value) and refused.value.__cause__ is None
