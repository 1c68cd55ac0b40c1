"""Virtual time shared by a sandbox and a client over real loopback HTTP, and a client on it.

A plain fake clock that jumps forward on every ``sleep`` runs ahead of the network: the
limiter's "wait for the probe's answer, at most 10 s" returns at once, the probe is written off
before its answer arrives, and windows pass with requests still on the wire. (Tried on the burst
test: the first request goes out 20 virtual seconds late and each window serves 17 of 20
instead of 18.) Figures measured that way describe the fake clock, not the code under test.

:class:`VirtualClock` moves the other way round: time stands still while any request is on the
wire (counted by the client's ``timer``, :meth:`VirtualClock.timeout`, which spans a request
to its body's last byte; or by a ``TraceConfig`` on a plain session), and when nothing is in
flight and the loop has settled it jumps to the earliest sleeper's deadline. That is Outreach's
regime, where a request takes milliseconds of an hour-long window, played at full speed: a
test covers many windows of seconds without sleeping for real.

A request the server holds on purpose (the sandbox's latency and slow answers, given
``sleep=clock.server_sleep``) is parked, not on the wire: time may move while every request in
flight is parked, so a slow answer and the client's timeout (``clock.timeout``, the client's
``timer``) race on the virtual clock too. (An answer whose client already gave up stays parked
until its sleep ends; time may then move while a newer request is in transit, but only to that
orphan's wake-up, seconds before the newer request's own timeout.)

:func:`virtual_client` builds an ``OutreachClient`` whose limiter, retries and waits all run on
that clock (``sleep``, ``clock``, ``wall_clock`` and ``rng`` are client parameters).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from outreach_async import OutreachClient
from outreach_async._hooks import Hooks
from outreach_async._ratelimit import AdaptiveRateLimiter
from outreach_async._retry import RetryPolicy
from outreach_async.models._base import Resource

__all__ = ["WALL_EPOCH", "VirtualClock", "virtual_client"]

R = TypeVar("R", bound=Resource)

#: 2023-11-14T22:13:20Z: a realistic epoch second, on a boundary of 1- and 2-second windows.
WALL_EPOCH = 1_700_000_000.0
#: Time moves only after this many loop turns in a row without a sleep or a request starting
#: or ending: ready tasks (a limiter about to sleep again, a retry about to send) go first.
_QUIET_TURNS = 5


class VirtualClock:
    """Epoch seconds that move only while nothing is on the wire; see the module docstring.

    Use ``time`` for every clock (wall and monotonic), ``sleep`` for every wait, and ``timeout``
    as the client's ``timer`` (or ``trace_config()`` on a plain aiohttp session). Run it inside
    ``async with clock.running():``.
    """

    def __init__(self, start: float = WALL_EPOCH) -> None:
        self.now = start
        self.start = start
        self.in_flight = 0
        #: requests the server holds on purpose, sleeping on this clock
        self.parked = 0
        #: bumped by every sleep and every request starting or ending
        self._activity = 0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None

    def time(self) -> float:
        """The current virtual epoch second."""
        return self.now

    @property
    def elapsed(self) -> float:
        """Virtual seconds since the clock started."""
        return self.now - self.start

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of virtual time (at least one loop turn)."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiter = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), waiter))
        self._touch()
        try:
            await waiter
        finally:
            waiter.cancel()  # a cancelled sleep (a waiter woken early) leaves a dead entry
            self._touch()

    async def server_sleep(self, seconds: float) -> None:
        """The sandbox's sleep: a request held this way does not hold time still."""
        self.parked += 1
        self._touch()
        try:
            await self.sleep(seconds)
        finally:
            self.parked -= 1
            self._touch()

    @contextlib.asynccontextmanager
    async def timeout(self, seconds: float) -> AsyncIterator[None]:
        """``asyncio.timeout`` on virtual time: the block is cancelled after ``seconds``, and
        ``TimeoutError`` raised in its place. The client's ``timer``: the block is one request,
        from sending to the last byte of its body, and it counts as on the wire throughout
        (aiohttp's trace says a request ended once the headers arrived: a big body is still
        being read then)."""
        task = asyncio.current_task()
        assert task is not None
        expired = False

        async def expire() -> None:
            nonlocal expired
            await self.sleep(seconds)
            expired = True
            task.cancel()

        timer = asyncio.ensure_future(expire())
        self._wire_started()
        try:
            yield
        except asyncio.CancelledError:
            if expired and task.uncancel() == 0:
                raise TimeoutError from None
            raise
        finally:
            self._wire_ended()
            timer.cancel()

    def trace_config(self) -> aiohttp.TraceConfig:
        """Counts the client's requests on the wire, so time stands still meanwhile."""
        config = aiohttp.TraceConfig()
        config.on_request_start.append(self._request_started)
        config.on_request_end.append(self._request_ended)
        config.on_request_exception.append(self._request_ended)
        return config

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[VirtualClock]:
        """Drive the clock for the duration of the block."""
        self._driver = asyncio.create_task(self._drive())
        try:
            yield self
        finally:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver

    @contextlib.asynccontextmanager
    async def on_the_wire(self) -> AsyncIterator[None]:
        """Time stands still while the block runs (a Redis command, say: not an HTTP request)."""
        self._wire_started()
        try:
            yield
        finally:
            self._wire_ended()

    async def _request_started(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: object
    ) -> None:
        self._wire_started()

    async def _request_ended(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: object
    ) -> None:
        self._wire_ended()

    def _wire_started(self) -> None:
        self.in_flight += 1
        self._touch()

    def _wire_ended(self) -> None:
        self.in_flight -= 1
        self._touch()

    def _touch(self) -> None:
        self._activity += 1
        self._changed.set()

    async def _drive(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            while await self._settled() and self._sleepers:
                self._wake_earliest()

    async def _settled(self) -> bool:
        """Wait for the loop to go quiet; True when nothing is on the wire then."""
        while True:
            seen = self._activity
            for _ in range(_QUIET_TURNS):
                await asyncio.sleep(0)
            if self._activity == seen:
                break
        self._drop_dead_sleepers()
        return self.in_flight <= self.parked

    def _drop_dead_sleepers(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    def _wake_earliest(self) -> None:
        self.now = max(self.now, self._sleepers[0][0])
        while self._sleepers and self._sleepers[0][0] <= self.now:
            waiter = heapq.heappop(self._sleepers)[2]
            if not waiter.done():
                waiter.set_result(None)


@contextlib.asynccontextmanager
async def virtual_client(
    clock: VirtualClock,
    base_url: str | URL,
    token: str,
    *,
    max_concurrency: int = 8,
    request_timeout: float = 30.0,
    retry: RetryPolicy | None = None,
    hooks: Hooks | None = None,
    seed: int = 0,
    **limiter_options: Any,
) -> AsyncIterator[OutreachClient]:
    """A client whose limiter, retries and clocks all run on ``clock``; closed afterwards."""
    rng = random.Random(seed)
    limiter = AdaptiveRateLimiter(
        clock=clock.time, wall_clock=clock.time, sleep=clock.sleep, rng=rng, **limiter_options
    )
    client = OutreachClient(
        token,
        base_url=base_url,
        timeout=request_timeout,
        max_concurrency=max_concurrency,
        retry=retry,
        rate_limiter=limiter,
        hooks=hooks,
        timer=clock.timeout,
        sleep=clock.sleep,
        clock=clock.time,
        wall_clock=clock.time,
        rng=rng,
    )
    async with client:
        yield client
