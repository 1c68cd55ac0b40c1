"""The transport against the sandbox over loopback: the rate limit, refusals, and writes.

Sandbox and client share one :class:`~tests.integration.virtual_time.VirtualClock`: windows of
seconds pass without sleeping, while every request still crosses a real socket and the
sandbox's rate-limit and fault middlewares (Outreach's headers, 429 with ``Retry-After``, 503
maintenance with an ISO date, resets after a write).
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp
import attrs
import pytest

from outreach_async import Prospect
from outreach_async._exceptions import ConnectError, TransportError
from outreach_async._hooks import Hooks, RateLimitEvent, ResponseEvent, RetryEvent
from outreach_async._ratelimit import default_safety_margin
from outreach_async._retry import RetryPolicy
from outreach_async._transport import MAY_HAVE_TAKEN_EFFECT
from outreach_async.sandbox import FaultConfig, RateLimitConfig, Sandbox
from tests.integration.virtual_time import WALL_EPOCH, VirtualClock, virtual_client

E = TypeVar("E")

LIMIT, WINDOW = 20, 2.0


@attrs.define
class Seen:
    """What the client's hooks reported, each event with the virtual time it happened at."""

    clock: VirtualClock
    responses: list[tuple[float, ResponseEvent]] = attrs.Factory(list)
    retries: list[tuple[float, RetryEvent]] = attrs.Factory(list)
    rate_limits: list[tuple[float, RateLimitEvent]] = attrs.Factory(list)

    def hooks(self) -> Hooks:
        return Hooks(
            on_response=self._stamp(self.responses),
            on_retry=self._stamp(self.retries),
            on_rate_limit=self._stamp(self.rate_limits),
        )

    def _stamp(self, into: list[tuple[float, E]]) -> Callable[[E], None]:
        return lambda event: into.append((self.clock.time(), event))

    def statuses(self) -> Counter[int]:
        return Counter(event.status for _, event in self.responses)

    def refusals(self) -> list[RateLimitEvent]:
        """The 429s and maintenance 503s (not the limiter's own waits, whose status is None)."""
        return [event for _, event in self.rate_limits if event.status is not None]

    def times_of(self, status: int) -> list[float]:
        return [at for at, event in self.responses if event.status == status]


@pytest.fixture
async def clock() -> VirtualClock:
    return VirtualClock()


def limited_sandbox(clock: VirtualClock, **options: Any) -> Sandbox:
    rate_limit = RateLimitConfig(limit=LIMIT, window=WINDOW, two_value_remaining=True)
    return Sandbox(rate_limit=rate_limit, clock=clock.time, **options)


async def test_a_burst_far_above_the_budget_spends_it_evenly_without_429s(
    clock: VirtualClock,
) -> None:
    seen = Seen(clock)
    async with (
        clock.running(),
        limited_sandbox(clock, seed=200) as sandbox,
        virtual_client(
            clock, sandbox.base_url, sandbox.token, max_concurrency=16, hooks=seen.hooks()
        ) as client,
    ):
        ids = sorted(sandbox.store.table("prospect").records)
        fetched = await asyncio.gather(*(client.prospects.get(id_) for id_ in ids))

    assert [prospect.id for prospect in fetched] == ids
    windows = sorted(sandbox.rate_limit_state.windows.values(), key=lambda w: w.start)
    report = [(w.served, w.rejected) for w in windows]
    assert sum(w.rejected for w in windows[1:]) == 0, report
    assert seen.statuses()[429] == sandbox.rate_limit_state.rejected == 0, report
    # The budget is used, not left idle: every window but the last serves all of it except
    # the safety margin and one request (the pacing spreads a window's budget up to its Reset,
    # so the last of it lands on the boundary and counts in the next window).
    usable = LIMIT - default_safety_margin(LIMIT) - 1
    assert all(w.served >= usable for w in windows[:-1]), report
    assert len(windows) <= -(-len(ids) // usable), report
    assert not seen.retries


async def test_a_burst_through_faults_and_maintenance_never_trips_the_limit(
    clock: VirtualClock,
) -> None:
    seen = Seen(clock)
    maintenance = (WALL_EPOCH + 3, WALL_EPOCH + 4.5)
    faults = FaultConfig(
        seed=1,
        error_rate_503=0.05,
        error_rate_502_html=0.03,
        reset_rate=0.03,
        maintenance=[maintenance],
    )
    async with (
        clock.running(),
        limited_sandbox(clock, seed=200, faults=faults) as sandbox,
        virtual_client(
            clock,
            sandbox.base_url,
            sandbox.token,
            max_concurrency=16,
            retry=RetryPolicy(max_retries=10),
            hooks=seen.hooks(),
        ) as client,
    ):
        ids = sorted(sandbox.store.table("prospect").records)
        fetched = await asyncio.gather(*(client.prospects.get(id_) for id_ in ids))

    assert [prospect.id for prospect in fetched] == ids
    assert {"error_503", "error_502_html", "reset", "maintenance"} <= set(
        sandbox.fault_state.injected
    )
    assert seen.statuses()[429] == sandbox.rate_limit_state.rejected == 0
    # Faults cost no budget: outside the maintenance window every window is used as fully as
    # without faults.
    windows = sorted(sandbox.rate_limit_state.windows.values(), key=lambda w: w.start)
    report = [(w.start - WALL_EPOCH, w.served) for w in windows]
    usable = LIMIT - default_safety_margin(LIMIT) - 1
    start, end = maintenance
    open_windows = [w for w in windows[:-1] if not (w.start < end and start < w.start + WINDOW)]
    assert all(w.served >= usable for w in open_windows), report


async def test_a_429_after_another_app_spent_the_budget_is_waited_out(
    clock: VirtualClock,
) -> None:
    seen = Seen(clock)
    async with (
        clock.running(),
        limited_sandbox(clock, seed=10) as sandbox,
        virtual_client(clock, sandbox.base_url, sandbox.token, hooks=seen.hooks()) as client,
    ):
        await spend_budget_elsewhere(sandbox, LIMIT)
        fetched = await asyncio.gather(*(client.prospects.get(id_) for id_ in range(1, 11)))

    assert [prospect.id for prospect in fetched] == list(range(1, 11))
    # Only the probe met the 429; its Retry-After (the window's end) held everyone back.
    assert seen.statuses() == Counter({429: 1, 200: 10})
    assert sandbox.rate_limit_state.rejected == 1
    [refused] = seen.refusals()
    assert (refused.status, refused.wait) == (429, WINDOW)
    [(_, retry)] = seen.retries
    assert (retry.status, retry.attempt) == (429, 1)
    assert WINDOW <= retry.wait <= WINDOW * 1.1  # Retry-After plus positive jitter
    assert min(seen.times_of(200)) >= WALL_EPOCH + WINDOW


async def spend_budget_elsewhere(sandbox: Sandbox, requests: int) -> None:
    """Another app acting for the same user spends ``requests`` of the window's budget."""
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    async with aiohttp.ClientSession(headers=headers) as other_app:
        for _ in range(requests):
            async with other_app.get(f"{sandbox.base_url}/prospects/1") as answer:
                assert answer.status == 200


async def test_maintenance_503_with_an_iso_retry_after_is_waited_out(clock: VirtualClock) -> None:
    seen = Seen(clock)
    ends = WALL_EPOCH + 30
    faults = FaultConfig(maintenance=[(WALL_EPOCH - 60, ends)])
    async with (
        clock.running(),
        limited_sandbox(clock, seed=10, faults=faults) as sandbox,
        virtual_client(clock, sandbox.base_url, sandbox.token, hooks=seen.hooks()) as client,
    ):
        fetched = await asyncio.gather(*(client.prospects.get(id_) for id_ in range(1, 11)))

    assert [prospect.id for prospect in fetched] == list(range(1, 11))
    assert seen.statuses() == Counter({503: 1, 200: 10})
    assert sandbox.fault_state.injected["maintenance"] == 1
    [paused] = seen.refusals()
    assert (paused.status, paused.wait) == (503, 30.0)  # read from "2023-11-14T22:13:50.000Z"
    [(_, retry)] = seen.retries
    assert 30.0 <= retry.wait <= 31.0  # the date, not a sub-second exponential backoff
    assert min(seen.times_of(200)) >= ends


async def test_a_post_whose_connection_drops_after_the_write_is_not_repeated(
    clock: VirtualClock,
) -> None:
    seen = Seen(clock)
    faults = FaultConfig(reset_after_write_rate=1.0)
    async with (
        clock.running(),
        Sandbox(clock=clock.time, faults=faults) as sandbox,
        virtual_client(clock, sandbox.base_url, sandbox.token, hooks=seen.hooks()) as client,
    ):
        with pytest.raises(TransportError) as caught:
            await client.prospects.create(Prospect(first_name="Ada", last_name="Lovelace"))

    assert MAY_HAVE_TAKEN_EFFECT in str(caught.value)
    assert caught.value.sent is not False
    assert [r.method for r in sandbox.requests] == ["POST"]
    [record] = sandbox.store.table("prospect")
    assert record["attributes"]["firstName"] == "Ada"  # it did take effect, exactly once
    assert not seen.retries


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_post_refused_before_sending_is_retried_once_the_server_is_up(
    clock: VirtualClock,
) -> None:
    sandbox = Sandbox(clock=clock.time, port=free_port())
    retries: list[RetryEvent] = []

    async def start_the_server(event: RetryEvent) -> None:
        retries.append(event)
        await sandbox.start()

    base_url = f"http://127.0.0.1:{sandbox.config.port}/api/v2"
    async with (
        clock.running(),
        virtual_client(
            clock, base_url, sandbox.token, hooks=Hooks(on_retry=start_the_server)
        ) as client,
    ):
        try:
            created = await client.prospects.create(Prospect(first_name="Grace"))
        finally:
            await sandbox.stop()

    [retry] = retries
    assert (retry.status, retry.error) == (None, ConnectError.__name__)
    assert [r.method for r in sandbox.requests] == ["POST"]
    [record] = sandbox.store.table("prospect")
    assert record["id"] == created.id
