"""Time for tests of code that waits (the shared flood limiter): it passes only when slept."""

from __future__ import annotations


class ManualTime:
    """``clock()`` reads ``now``; ``sleep`` records each wait and moves ``now`` past it."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
