"""Fixtures for the unit tests: aioresponses (through the aiohttp 3.14 shim), a fake clock, and
small aiohttp.web servers on loopback for the edge cases a mock cannot show."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiohttp import web
from yarl import URL

from tests.aioresponses_compat import aioresponses

#: A wall-clock origin for fake clocks: a realistic epoch second (2023-11-14).
WALL_EPOCH = 1_700_000_000.0


class FakeClock:
    """Monotonic and wall clocks that only move when ``sleep`` is awaited; sleeps are recorded.

    ``sleep`` still yields to the loop once, so other tasks run as they would during a wait.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return WALL_EPOCH + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fresh :class:`FakeClock` at time zero."""
    return FakeClock()


@pytest.fixture
def aioresponses_mock() -> Iterator[aioresponses]:
    """aioresponses patched for aiohttp 3.14 (see ``tests/aioresponses_compat.py``)."""
    with aioresponses() as mock:
        yield mock


Serve = Callable[[web.Application], Awaitable[URL]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start aiohttp.web applications on 127.0.0.1 (a free port each); returns their root URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> URL:
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return URL.build(scheme="http", host=host, port=port)

    yield start
    for runner in reversed(runners):
        await runner.cleanup()
