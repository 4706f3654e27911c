"""Fixtures for the emulator's own tests (other test dirs import the same fixtures)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devkit.telegram_emulator import DeliveryOptions, Limits
from devkit.telegram_emulator.testing import (  # noqa: F401 - fixtures
    RunningEmulator,
    telegram_emulator,
    telegram_emulator_factory,
)


@pytest.fixture
def fast_emulator(
    telegram_emulator_factory: Callable[..., RunningEmulator],  # noqa: F811
) -> RunningEmulator:
    """Flood limits off and quick webhook retries: for tests about something else."""
    return telegram_emulator_factory(
        limits=Limits(enabled=False),
        delivery=DeliveryOptions(retry_base=0.05, retry_max=0.2, webhook_timeout=2.0),
    )


def seed(emulator: RunningEmulator) -> dict[str, Any]:
    client = emulator.client
    person = client.create_user("Alice", "Example", "alice", started=True)
    group = client.create_forum_group("Operators", operator_names=["Olga", "Oskar"])
    return {"person": person["user_id"], "group": group["chat_id"], "operators": group["operators"]}


@pytest.fixture
def world(telegram_emulator: RunningEmulator) -> dict[str, Any]:  # noqa: F811
    """A person who started the bot and an operators' forum group with two operators."""
    return seed(telegram_emulator)


@pytest.fixture
def fast_world(fast_emulator: RunningEmulator) -> dict[str, Any]:
    return seed(fast_emulator)
