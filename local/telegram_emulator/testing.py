"""pytest fixtures for the emulator. Import them into a ``conftest.py``::

    from local.telegram_emulator.testing import telegram_emulator  # noqa: F401

``telegram_emulator`` (function scope) yields a ``RunningEmulator``: a started
in-thread ``EmulatorServer`` plus an ``EmulatorClient``; it stops by itself.
``telegram_emulator_factory`` starts more, with any ``EmulatorServer`` options
(e.g. ``limits=Limits(scale=60)`` or ``clock=ManualClock()``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from .client import EmulatorClient
from .server import EmulatorServer


@dataclass
class RunningEmulator:
    server: EmulatorServer
    client: EmulatorClient

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def token(self) -> str:
        return self.server.token

    @property
    def bot_id(self) -> int:
        return self.server.bot_id

    @property
    def ptb_base_url(self) -> str:
        """What python-telegram-bot's ``base_url`` wants: ``{base_url}/bot``."""
        return f"{self.server.base_url}/bot"

    @property
    def api_url(self) -> str:
        return self.server.api_url()


def start_emulator(**options: Any) -> RunningEmulator:
    server = EmulatorServer(**options).start_in_thread()
    return RunningEmulator(server, EmulatorClient(server.base_url, server.token))


@pytest.fixture
def telegram_emulator() -> Iterator[RunningEmulator]:
    running = start_emulator()
    try:
        yield running
    finally:
        running.server.stop_thread()


@pytest.fixture
def telegram_emulator_factory() -> Iterator[Callable[..., RunningEmulator]]:
    started: list[RunningEmulator] = []

    def factory(**options: Any) -> RunningEmulator:
        running = start_emulator(**options)
        started.append(running)
        return running

    try:
        yield factory
    finally:
        for running in started:
            running.server.stop_thread()
