"""Rate-limit headers (pure, hypothesis) and the AdaptiveRateLimiter in virtual time.

The limiter tests run on an event loop whose clock only moves when every task waits (see
:class:`VirtualTimeLoop`): a simulated hour of traffic takes well under a second and no test
sleeps for real.
"""

from __future__ import annotations

import asyncio
import math
import random
import selectors
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach_async._ratelimit import (
    AdaptiveRateLimiter,
    RateLimiter,
    RateLimitInfo,
    _Budget,
    default_safety_margin,
    parse_rate_limit_headers,
)
from outreach_async._retry import parse_retry_after

NOW = 1_700_000_000.0
T = TypeVar("T")


# -- header parsing ----------------------------------------------------------------------------


def test_parse_the_three_headers_case_insensitively() -> None:
    headers = {
        "x-ratelimit-limit": "10000",
        "X-RATELIMIT-REMAINING": "9876",
        "X-RateLimit-Reset": "1700000600",
    }
    assert parse_rate_limit_headers(headers, NOW) == RateLimitInfo(10000, 9876, 1_700_000_600.0)


def test_two_value_remaining_takes_the_hourly_first_value() -> None:
    info = parse_rate_limit_headers({"X-RateLimit-Remaining": "9999, 19988"}, NOW)
    assert info.remaining == 9999
    info = parse_rate_limit_headers({"X-RateLimit-Remaining": " 12 ,  3"}, NOW)
    assert info.remaining == 12


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1700000600", NOW + 600),  # epoch seconds (tap-outreach's reading)
        ("1700000600.5", NOW + 600.5),
        ("600", NOW + 600),  # seconds from now
        ("0", NOW),
        ("1699999000", NOW),  # an epoch in the past: now
        ("1800000000", NOW + 3600),  # more than an hour ahead: cut to one hour
        ("99999", NOW + 3600),
        ("2023-11-14T22:23:20Z", NOW + 600),  # a date, as Retry-After sometimes is
        ("Tue, 14 Nov 2023 22:23:20 GMT", NOW + 600),
    ],
)
def test_reset_forms(value: str, expected: float) -> None:
    info = parse_rate_limit_headers({"X-RateLimit-Reset": value}, NOW)
    assert info.reset_at == pytest.approx(expected, abs=1e-6)  # a relative one is ±1,700 s here


@pytest.mark.parametrize("value", ["", "abc", "-5", "1e9", "1 000", "NaN", "9" * 40, "٣٠"])
def test_garbage_values_are_none(value: str) -> None:
    headers = {
        "X-RateLimit-Limit": value,
        "X-RateLimit-Remaining": value,
        "X-RateLimit-Reset": value,
    }
    assert parse_rate_limit_headers(headers, NOW) == RateLimitInfo()


def test_missing_headers_and_a_tolerated_decimal() -> None:
    assert parse_rate_limit_headers({}, NOW) == RateLimitInfo(None, None, None)
    assert parse_rate_limit_headers({"X-RateLimit-Limit": "100.0"}, NOW).limit == 100


header_values = st.one_of(
    st.text(),
    st.from_regex(r"\s*-?[0-9]{0,25}(\.[0-9]{0,12})?\s*(,\s*[0-9]{0,8})?", fullmatch=True),
)


@given(limit=header_values, remaining=header_values, reset=header_values, now=st.floats(0, 4e9))
def test_parser_never_raises_and_respects_bounds(
    limit: str, remaining: str, reset: str, now: float
) -> None:
    headers = {
        "X-RateLimit-Limit": limit,
        "X-RateLimit-Remaining": remaining,
        "X-RateLimit-Reset": reset,
    }
    info = parse_rate_limit_headers(headers, now)
    assert info.limit is None or info.limit >= 0
    assert info.remaining is None or info.remaining >= 0
    if info.reset_at is not None:
        assert now <= info.reset_at <= now + 3600


@given(first=st.integers(0, 10**12), second=st.integers(0, 10**12))
def test_remaining_first_of_two_values(first: int, second: int) -> None:
    info = parse_rate_limit_headers({"X-RateLimit-Remaining": f"{first}, {second}"}, NOW)
    assert info.remaining == first


def test_default_safety_margin() -> None:
    assert default_safety_margin(None) == 1
    assert default_safety_margin(10_000) == 20
    assert default_safety_margin(1000) == 2
    assert default_safety_margin(100) == 1
    assert default_safety_margin(9) == 0


# -- the budget model (pure) -------------------------------------------------------------------


def budget(**overrides: Any) -> _Budget:
    config: dict[str, Any] = {
        "initial_allowance": 1,
        "burst_ratio": 0.05,
        "safety_margin": 2,
        "reset_grace": 0.5,
        "ticket_ttl": 120.0,
        "probe_ttl": 10.0,
    }
    config.update(overrides)
    return _Budget(**config)


def test_estimate_counts_requests_sent_after_the_answered_one() -> None:
    b = budget()
    b.learn(b.take(0.0), RateLimitInfo(100, 99, NOW + 10), 200, 0.0)
    tickets = [b.take(0.0) for _ in range(10)]
    # the answer to the second of ten: eight were sent after it and are not in its count
    b.learn(tickets[1], RateLimitInfo(100, 90, NOW + 10), 200, 0.0)
    assert b.estimate() == 90 - 8


def test_an_older_answer_arriving_late_does_not_raise_the_estimate() -> None:
    b = budget()
    b.learn(b.take(0.0), RateLimitInfo(100, 99, NOW + 10), 200, 0.0)
    first, second = b.take(0.0), b.take(0.0)
    b.learn(second, RateLimitInfo(100, 50, NOW + 10), 200, 0.0)  # someone else spent a lot
    b.learn(first, RateLimitInfo(100, 97, NOW + 10), 200, 0.0)
    assert b.estimate() == 50


def test_probe_allows_only_the_initial_allowance_until_an_answer() -> None:
    b = budget(initial_allowance=2)
    assert b.next_delay(0.0, NOW) == 0.0
    b.take(0.0)
    assert b.next_delay(0.0, NOW) == 0.0
    b.take(0.0)
    assert b.next_delay(0.0, NOW) > 0.0
    b.learn(1, RateLimitInfo(100, 99, NOW + 10), 200, 0.0)
    assert b.next_delay(0.0, NOW) == 0.0


def test_exhausted_budget_waits_for_the_reset_then_probes() -> None:
    b = budget()
    b.learn(b.take(0.0), RateLimitInfo(100, 2, NOW + 10), 200, 0.0)
    assert b.next_delay(0.0, NOW) == pytest.approx(10.5)  # 2 left = the safety margin
    assert b.next_delay(10.5, NOW + 10.5) == 0.0
    assert b.estimate() is None  # a new window: probing


def test_answers_without_headers_mean_no_limit_only_before_any_header() -> None:
    b = budget()
    seen = []
    for info in [RateLimitInfo(), RateLimitInfo(100, 50, NOW + 10), RateLimitInfo()]:
        b.learn(b.take(0.0), info, 200, 0.0)
        seen.append(b.unlimited)
    assert seen == [True, False, False]
    failing = budget()
    failing.learn(failing.take(0.0), RateLimitInfo(), 502, 0.0)  # a gateway error page
    assert not failing.unlimited


# -- a virtual-time event loop -----------------------------------------------------------------


class _VirtualSelector(selectors.DefaultSelector):
    """Never blocks: instead of waiting ``timeout`` seconds it moves the virtual clock on."""

    now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise RuntimeError("deadlock: every task waits and no timer is set")
        if timeout > 0:
            self.now += timeout
        return super().select(0)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is virtual: ``asyncio.sleep(3600)`` returns at once."""

    def __init__(self) -> None:
        self._virtual = _VirtualSelector()
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def vnow() -> float:
    return asyncio.get_running_loop().time()


def vwall() -> float:
    return NOW + vnow()


def virtual_limiter(**kwargs: Any) -> AdaptiveRateLimiter:
    return AdaptiveRateLimiter(
        clock=vnow, wall_clock=vwall, sleep=asyncio.sleep, rng=random.Random(3), **kwargs
    )


def test_the_virtual_loop_never_blocks_and_moves_time_by_the_sleeps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every wait the loop asks the OS for is 0 s: a sleep moves virtual time only."""
    os_timeouts: list[float | None] = []
    real_select = selectors.DefaultSelector.select

    def spy(
        self: selectors.DefaultSelector, timeout: float | None = None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        os_timeouts.append(timeout)
        return real_select(self, timeout)

    monkeypatch.setattr(selectors.DefaultSelector, "select", spy)

    async def main() -> float:
        await asyncio.sleep(3600)
        await asyncio.sleep(1.5)
        return vnow()

    assert run_virtual(main) == pytest.approx(3601.5)
    assert os_timeouts
    assert set(os_timeouts) == {0}


# -- a simulated Outreach budget ---------------------------------------------------------------


@attrs.define
class FixedWindowServer:
    """Counts requests per fixed window like Outreach's hourly budget, answers 429 beyond it."""

    limit: int
    window: float
    #: a stand-in for someone else spending the same user's budget: requests per second
    foreign_rate: float = 0.0
    served: Counter[int] = attrs.Factory(Counter)
    refused: Counter[int] = attrs.Factory(Counter)
    _foreign_at: float = 0.0

    def window_of(self, wall: float) -> int:
        return int(wall // self.window)

    def handle(self, wall: float) -> tuple[int, dict[str, str]]:
        self._spend_foreign(wall)
        index = self.window_of(wall)
        reset = (index + 1) * self.window
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Reset": str(math.ceil(reset))}
        if self.served[index] >= self.limit:
            self.refused[index] += 1
            headers.update(
                {"X-RateLimit-Remaining": "0", "Retry-After": str(math.ceil(reset - wall))}
            )
            return 429, headers
        self.served[index] += 1
        headers["X-RateLimit-Remaining"] = f"{self.limit - self.served[index]}, 19988"
        return 200, headers

    def _spend_foreign(self, wall: float) -> None:
        if self.foreign_rate <= 0:
            return
        self._foreign_at = self._foreign_at or wall
        while self._foreign_at + 1 / self.foreign_rate <= wall:
            self._foreign_at += 1 / self.foreign_rate
            index = self.window_of(self._foreign_at)
            if self.served[index] < self.limit:
                self.served[index] += 1


@attrs.define
class Simulation:
    server: FixedWindowServer
    limiter: RateLimiter
    concurrency: int = 16
    latency: tuple[float, float] = (0.005, 0.08)
    rng: random.Random = attrs.Factory(lambda: random.Random(11))
    ours: Counter[int] = attrs.Factory(Counter)
    our_429s: Counter[int] = attrs.Factory(Counter)

    async def request(self) -> int:
        await self.limiter.acquire()
        await asyncio.sleep(self.rng.uniform(*self.latency))
        wall = vwall()
        status, headers = self.server.handle(wall)
        (self.ours if status == 200 else self.our_429s)[self.server.window_of(wall)] += 1
        await asyncio.sleep(self.rng.uniform(*self.latency))
        info = parse_rate_limit_headers(headers, vwall())
        retry_after = parse_retry_after(headers.get("Retry-After"), vwall())
        await self.limiter.observe(info, status=status, retry_after=retry_after)
        return status

    async def run_until(self, end_wall: float) -> None:
        async def worker() -> None:
            while vwall() < end_wall:
                await self.request()

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))

    def windows(self, first: int, last: int) -> range:
        return range(first, last + 1)


def test_simulation_spends_the_budget_evenly_without_429s() -> None:
    """100 requests per 10 s, 16 workers that always want more: 20 windows."""
    server = FixedWindowServer(limit=100, window=10.0)

    async def main() -> Simulation:
        sim = Simulation(server, virtual_limiter())
        await sim.run_until(NOW + 200.0)
        return sim

    sim = run_virtual(main)
    first = server.window_of(NOW)
    windows = sim.windows(first, first + 19)
    assert sum(server.refused.values()) == 0
    served = sum(server.served[w] for w in windows)
    assert served / (100 * len(windows)) >= 0.97
    # evenly: no window's first second takes more than the burst plus a second's share
    assert all(server.served[w] >= 95 for w in windows)


def test_simulation_paces_instead_of_bursting() -> None:
    """Within a window the requests spread out: the first half gets about half the budget."""
    server = FixedWindowServer(limit=1000, window=100.0)
    starts: list[float] = []

    async def main() -> None:
        limiter = virtual_limiter()

        class Recording:
            async def acquire(self) -> None:
                await limiter.acquire()
                starts.append(vwall())

            async def observe(
                self, info: RateLimitInfo, *, status: int, retry_after: float | None
            ) -> None:
                await limiter.observe(info, status=status, retry_after=retry_after)

        await Simulation(server, Recording()).run_until(NOW + 100.0)

    run_virtual(main)
    first_half = sum(1 for s in starts if s < NOW + 50.0)
    assert 450 <= first_half <= 600  # 5% burst allowed at the start, then an even pace
    assert sum(server.refused.values()) == 0


def test_simulation_joining_mid_window_with_a_spent_budget() -> None:
    """The budget was mostly spent before we started, and others keep spending it."""
    server = FixedWindowServer(limit=100, window=10.0, foreign_rate=1.0)
    server.served[server.window_of(NOW + 4)] = 80

    async def main() -> Simulation:
        await asyncio.sleep(4.0)
        sim = Simulation(server, virtual_limiter())
        await sim.run_until(NOW + 104.0)
        return sim

    sim = run_virtual(main)
    first = server.window_of(NOW + 4)
    later = sim.windows(first + 1, first + 9)
    assert sum(sim.our_429s[w] for w in later) == 0
    assert sum(sim.our_429s.values()) <= 1  # at most the very first probe
    # we get what the others leave: about 90 of each window's 100
    assert all(sim.ours[w] >= 85 for w in later)


@pytest.mark.parametrize("concurrency", [1, 4, 32])
def test_simulation_concurrency_levels(concurrency: int) -> None:
    server = FixedWindowServer(limit=60, window=2.0)

    async def main() -> Simulation:
        sim = Simulation(server, virtual_limiter(), concurrency=concurrency, latency=(0.001, 0.01))
        await sim.run_until(NOW + 40.0)
        return sim

    run_virtual(main)
    first = server.window_of(NOW)
    windows = range(first, first + 20)
    assert sum(server.refused.values()) == 0
    assert sum(server.served[w] for w in windows) / (60 * 20) >= 0.97


# -- pauses, probes and abandoned requests -----------------------------------------------------


async def learn(limiter: AdaptiveRateLimiter, remaining: int, reset_in: float) -> None:
    await limiter.acquire()
    info = RateLimitInfo(10_000, remaining, vwall() + reset_in)
    await limiter.observe(info, status=200, retry_after=None)


def test_a_429_with_retry_after_pauses_every_waiter() -> None:
    async def main() -> list[float]:
        limiter = virtual_limiter()
        await learn(limiter, 9_000, 3000)
        await limiter.acquire()
        await limiter.observe(RateLimitInfo(), status=429, retry_after=5.0)
        started: list[float] = []

        async def waiter() -> None:
            await limiter.acquire()
            started.append(vnow())
            await asyncio.sleep(0.05)
            info = RateLimitInfo(10_000, 8_000, vwall() + 3000)
            await limiter.observe(info, status=200, retry_after=None)

        await asyncio.gather(*(waiter() for _ in range(10)))
        return started

    started = run_virtual(main)
    assert len(started) == 10
    assert min(started) >= 5.0  # nobody before Retry-After
    assert min(started) <= 5.5  # positive jitter: at most 10% more
    # one probe goes first; the others follow once its answer re-taught the budget
    assert sorted(started)[1] >= sorted(started)[0] + 0.05


def test_a_maintenance_503_pauses_but_a_plain_503_does_not() -> None:
    async def main() -> tuple[float, float]:
        limiter = virtual_limiter()
        await learn(limiter, 9_000, 3000)
        await limiter.acquire()
        await limiter.observe(RateLimitInfo(), status=503, retry_after=None)
        await limiter.acquire()
        plain = vnow()
        await limiter.observe(RateLimitInfo(), status=503, retry_after=60.0)
        await limiter.acquire()
        return plain, vnow()

    plain, maintenance = run_virtual(main)
    assert plain == pytest.approx(0.0)
    assert 60.0 <= maintenance <= 61.0


def test_a_429_without_retry_after_waits_for_the_reset() -> None:
    async def main() -> float:
        limiter = virtual_limiter()
        await learn(limiter, 9_000, 3000)
        await limiter.acquire()
        await limiter.observe(RateLimitInfo(100, 0, vwall() + 20), status=429, retry_after=None)
        await limiter.acquire()
        return vnow()

    assert 20.0 <= run_virtual(main) <= 21.0


def test_a_cancelled_probe_does_not_stall_the_next_request() -> None:
    async def main() -> float:
        limiter = virtual_limiter()

        async def lost_request() -> None:
            await limiter.acquire()
            await asyncio.sleep(1000)  # cancelled before any answer

        task = asyncio.create_task(lost_request())
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await limiter.acquire()
        return vnow()

    assert run_virtual(main) == pytest.approx(0.1)


def test_a_retry_in_the_same_task_releases_its_unanswered_ticket() -> None:
    async def main() -> float:
        limiter = virtual_limiter()
        await limiter.acquire()  # the attempt times out: no answer, no observe
        await limiter.acquire()  # the retry must not wait for its own lost probe
        return vnow()

    assert run_virtual(main) == 0.0


@pytest.mark.parametrize(("known_budget", "expected"), [(False, 4.0), (True, 7.0)])
def test_an_unanswered_ticket_from_a_living_task_expires(
    known_budget: bool, expected: float
) -> None:
    """A stuck probe is written off after probe_ttl, any other stuck request after ticket_ttl."""

    async def main() -> float:
        limiter = virtual_limiter(ticket_ttl=7.0, probe_ttl=4.0, safety_margin=2)
        if known_budget:
            await learn(limiter, 3, 3000)  # 3 left, 2 of them the safety margin: room for 1
        hold = asyncio.Event()

        async def stuck() -> None:
            await limiter.acquire()
            await hold.wait()

        task = asyncio.create_task(stuck())
        await asyncio.sleep(0)
        await limiter.acquire()
        when = vnow()
        hold.set()
        await task
        return when

    assert run_virtual(main) == pytest.approx(expected)


def test_without_rate_limit_headers_nothing_is_held_back() -> None:
    async def main() -> float:
        limiter = virtual_limiter()
        await limiter.acquire()
        await asyncio.sleep(0.2)
        await limiter.observe(RateLimitInfo(), status=200, retry_after=None)
        for _ in range(1000):
            await limiter.acquire()
            await limiter.observe(RateLimitInfo(), status=200, retry_after=None)
        return vnow()

    assert run_virtual(main) == pytest.approx(0.2)


def test_idle_limiter_reprobes_after_the_window() -> None:
    async def main() -> tuple[int | None, int | None]:
        limiter = virtual_limiter()
        await learn(limiter, 5_000, 10)
        before = limiter.remaining_estimate
        await asyncio.sleep(30)
        await limiter.acquire()
        return before, limiter.remaining_estimate

    before, after = run_virtual(main)
    assert before == 5_000
    assert after is None  # the window rolled over: the next answer teaches the new budget


def test_the_limiter_satisfies_the_protocol() -> None:
    assert isinstance(virtual_limiter(), RateLimiter)
