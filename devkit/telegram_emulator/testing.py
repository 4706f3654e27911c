"""pytest fixtures for the emulator. Import them into a ``conftest.py``::

    from devkit.telegram_emulator.testing import telegram_emulator  # noqa: F401

``telegram_emulator`` (function scope) yields a ``RunningEmulator``: a started
in-thread ``EmulatorServer`` plus an ``EmulatorClient``; it stops by itself and
fails the test if the emulator hit a bug of its own (an answer or update that
does not match the Bot API spec, an exception).
``telegram_emulator_factory`` starts more, with any ``EmulatorServer`` options
(e.g. ``limits=Limits(scale=60)`` or ``clock=ManualClock()``).
``ptb_bot(running)`` is an async context manager yielding an initialised
python-telegram-bot ``Bot`` pointed at the emulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from .client import EmulatorClient
from .server import EmulatorServer

if TYPE_CHECKING:
    import telegram


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
    def ptb_base_file_url(self) -> str:
        """python-telegram-bot's ``base_file_url``: ``{base_url}/file/bot``."""
        return f"{self.server.base_url}/file/bot"

    @property
    def api_url(self) -> str:
        return self.server.api_url()


@asynccontextmanager
async def ptb_bot(
    emulator: RunningEmulator, token: str | None = None
) -> AsyncIterator[telegram.Bot]:
    """An initialised python-telegram-bot ``Bot`` talking to the emulator."""
    import telegram

    bot = telegram.Bot(
        token or emulator.token,
        base_url=emulator.ptb_base_url,
        base_file_url=emulator.ptb_base_file_url,
    )
    async with bot:
        yield bot


def start_emulator(**options: Any) -> RunningEmulator:
    server = EmulatorServer(**options).start_in_thread()
    return RunningEmulator(server, EmulatorClient(server.base_url, server.token))


def _stop(running: RunningEmulator) -> None:
    running.server.stop_thread()
    bugs = running.server.internal_errors
    assert not bugs, f"the Telegram emulator hit a bug of its own: {bugs}"


@pytest.fixture
def telegram_emulator() -> Iterator[RunningEmulator]:
    running = start_emulator()
    try:
        yield running
    finally:
        _stop(running)


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
            _stop(running)
