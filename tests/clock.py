"""The suite's one fake clock: time that moves only when a test (or an awaited sleep) moves it.

Pass ``clock`` (or ``clock.time`` / ``clock.monotonic``) wherever code takes a clock, and
``clock.sleep`` wherever it takes a sleep. Nothing waits for real. Tests that need time to stand
still while requests are on the wire use ``tests/integration/virtual_time.py`` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["WALL_EPOCH", "FakeClock"]

#: 2023-11-14T22:13:20Z: a realistic epoch second, on a boundary of 1- and 2-second windows.
WALL_EPOCH = 1_700_000_000.0


class FakeClock:
    """Epoch seconds that move on :meth:`advance` and on each awaited :meth:`sleep`.

    The clock is callable and also offers ``time()`` and ``monotonic()`` (the same reading), so
    it fits every clock parameter. ``sleeps`` records every wait asked for; ``on_sleep`` (if
    set) is awaited with the number of sleeps so far, to act at the n-th wait. ``sleep`` still
    yields to the loop once, so other tasks run as they would during a real wait.
    """

    def __init__(self, now: float = WALL_EPOCH) -> None:
        self.start = now
        self.now = now
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[int], Awaitable[None]] | None = None

    def __call__(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    @property
    def elapsed(self) -> float:
        """Seconds moved since the clock was made."""
        return self.now - self.start

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        if self.on_sleep is not None:
            await self.on_sleep(len(self.sleeps))
        await asyncio.sleep(0)
