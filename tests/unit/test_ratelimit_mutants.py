"""What mutation testing of ``_ratelimit`` showed untested (issue 17).

Each test names the bug it would catch. The budget model is pure (times are passed in); the
limiter runs on the fake clock of ``tests/unit/conftest.py`` (its sleep moves the clock).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from outreach_async._ratelimit import (
    DEFAULT_429_PAUSE,
    EPOCH_THRESHOLD,
    MAX_RESET_AHEAD,
    MAX_WAIT_STEP,
    AdaptiveRateLimiter,
    RateLimitInfo,
    _Budget,
    default_safety_margin,
    parse_rate_limit_headers,
    pause_seconds,
    pauses_everyone,
)
from tests.clock import FakeClock

NOW = 1_700_000_000.0


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


def limiter_on(clock: FakeClock, **kwargs: Any) -> AdaptiveRateLimiter:
    return AdaptiveRateLimiter(
        clock=clock.monotonic,
        wall_clock=clock.time,
        sleep=clock.sleep,
        rng=random.Random(5),
        **kwargs,
    )


# -- constants and defaults users rely on ------------------------------------------------------


def test_the_documented_constants_are_pinned() -> None:
    assert (MAX_RESET_AHEAD, EPOCH_THRESHOLD, MAX_WAIT_STEP, DEFAULT_429_PAUSE) == (
        3600.0,
        1e9,
        30.0,
        1.0,
    )


def test_the_limiter_defaults_are_pinned() -> None:
    b = AdaptiveRateLimiter()._budget
    assert (b.initial_allowance, b.burst_ratio, b.safety_margin) == (1, 0.05, None)
    assert (b.reset_grace, b.ticket_ttl, b.probe_ttl) == (0.5, 120.0, 10.0)
    assert AdaptiveRateLimiter()._max_pause == 3600.0


def test_initial_allowance_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^initial_allowance must be at least 1$"):
        AdaptiveRateLimiter(initial_allowance=0)
    assert AdaptiveRateLimiter(initial_allowance=1)._budget.initial_allowance == 1


def test_the_safety_margin_is_a_tenth_of_a_small_limit() -> None:
    assert default_safety_margin(10) == 1
    assert default_safety_margin(19) == 1
    assert default_safety_margin(5) == 0
    assert default_safety_margin(1001) == 3  # 0.2% rounded up


# -- header parsing: exact epoch seconds -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("600", NOW + 600),  # seconds from now: added, not subtracted
        ("999999999", NOW + 3600),  # just below the epoch threshold: seconds from now (capped)
        ("1000000000", NOW),  # at the threshold: an epoch second (in the past: now)
        ("1700003600", NOW + 3600),
        ("1700003601", NOW + 3600),
        ("2023-11-14T22:23:20Z", NOW + 600),
    ],
)
def test_reset_is_exact_to_the_second(value: str, expected: float) -> None:
    # absolute tolerance: a relative one is ±1,700 s at these values
    reset_at = parse_rate_limit_headers({"X-RateLimit-Reset": value}, NOW).reset_at
    assert reset_at == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("value", [" 12 ", "12.000", "12."])
def test_counts_tolerate_spaces_and_a_zero_fraction(value: str) -> None:
    info = parse_rate_limit_headers({"X-RateLimit-Limit": value}, NOW)
    assert info.limit == 12


def test_a_count_with_a_real_fraction_is_refused() -> None:
    assert parse_rate_limit_headers({"X-RateLimit-Limit": "12.5"}, NOW).limit is None


def test_non_string_header_values_are_ignored() -> None:
    headers: dict[str, Any] = {"X-RateLimit-Limit": 5, "X-RateLimit-Remaining": 3}
    headers["X-RateLimit-Reset"] = 600
    assert parse_rate_limit_headers(headers, NOW) == RateLimitInfo()


# -- pauses ------------------------------------------------------------------------------------


def test_pause_seconds_prefers_retry_after_then_reset_then_the_default() -> None:
    reset_soon = RateLimitInfo(100, 0, NOW + 20)
    assert pause_seconds(reset_soon, 5.0, NOW, 3600.0) == 5.0
    assert pause_seconds(reset_soon, None, NOW, 3600.0) == 20.0
    assert pause_seconds(RateLimitInfo(100, 0, NOW), None, NOW, 3600.0) == DEFAULT_429_PAUSE
    assert pause_seconds(RateLimitInfo(), None, NOW, 3600.0) == DEFAULT_429_PAUSE
    assert pause_seconds(reset_soon, 90.0, NOW, 60.0) == 60.0  # max_pause caps it
    assert pause_seconds(reset_soon, None, NOW, 15.0) == 15.0


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [(429, None, True), (429, 3.0, True), (503, 3.0, True), (503, None, False), (500, 3.0, False)],
)
def test_what_pauses_everyone(status: int, retry_after: float | None, expected: bool) -> None:
    assert pauses_everyone(status, retry_after) is expected


async def test_a_429_with_neither_retry_after_nor_reset_pauses_the_default(
    fake_clock: FakeClock,
) -> None:
    limiter = limiter_on(fake_clock)
    await limiter.acquire()
    await limiter.observe(
        RateLimitInfo(100, 50, fake_clock.time() + 3000), status=200, retry_after=None
    )
    await limiter.acquire()
    await limiter.observe(RateLimitInfo(), status=429, retry_after=None)
    await limiter.acquire()
    # DEFAULT_429_PAUSE (1 s) plus a positive jitter of at most 10%
    waited = fake_clock.now - fake_clock.start
    assert DEFAULT_429_PAUSE <= waited <= DEFAULT_429_PAUSE * 1.1
    assert limiter.remaining_estimate is None  # and then it probes again


async def test_a_pause_longer_than_max_pause_is_cut(fake_clock: FakeClock) -> None:
    limiter = limiter_on(fake_clock, max_pause=40.0)
    await limiter.acquire()
    await limiter.observe(RateLimitInfo(), status=429, retry_after=500.0)
    await limiter.acquire()
    assert 40.0 <= fake_clock.now - fake_clock.start <= 41.0
    # a long wait is taken in steps, each re-checked (a clock may have jumped)
    assert max(fake_clock.sleeps) <= MAX_WAIT_STEP


# -- matching answers to tickets ---------------------------------------------------------------


async def test_an_answer_is_matched_to_its_own_request_through_the_limiter(
    fake_clock: FakeClock,
) -> None:
    limiter = limiter_on(fake_clock, safety_margin=0)
    reset = fake_clock.time() + 3000
    await limiter.acquire()
    await limiter.observe(RateLimitInfo(100, 99, reset), status=200, retry_after=None)
    first_sent, second_sent = asyncio.Event(), asyncio.Event()
    answer_second, answer_first = asyncio.Event(), asyncio.Event()
    estimates: list[int | None] = []

    async def request(sent: asyncio.Event, answer: asyncio.Event, remaining: int) -> None:
        await limiter.acquire()
        sent.set()
        await answer.wait()
        await limiter.observe(RateLimitInfo(100, remaining, reset), status=200, retry_after=None)
        estimates.append(limiter.remaining_estimate)

    first = asyncio.create_task(request(first_sent, answer_first, 95))
    await first_sent.wait()
    second = asyncio.create_task(request(second_sent, answer_second, 90))
    await second_sent.wait()
    assert limiter.remaining_estimate == 99 - 2
    answer_second.set()  # the later request's answer arrives first
    await second
    answer_first.set()
    await first
    # the second answer counted both requests: 90 left, none outstanding; the first is older
    assert estimates == [90, 90]


async def test_an_answer_from_another_task_is_the_oldest_outstanding_request(
    fake_clock: FakeClock,
) -> None:
    limiter = limiter_on(fake_clock, safety_margin=0)
    reset = fake_clock.time() + 3000
    await limiter.acquire()
    await limiter.observe(RateLimitInfo(100, 99, reset), status=200, retry_after=None)
    hold = asyncio.Event()

    async def outstanding() -> None:
        await limiter.acquire()
        await hold.wait()

    tasks = [asyncio.create_task(outstanding()) for _ in range(3)]
    await asyncio.sleep(0)
    assert limiter.remaining_estimate == 96
    # this task holds no ticket: the answer belongs to the oldest of the three
    await limiter.observe(RateLimitInfo(100, 80, reset), status=200, retry_after=None)
    assert limiter.remaining_estimate == 80 - 2
    hold.set()
    await asyncio.gather(*tasks)


def test_with_nothing_outstanding_the_oldest_ticket_is_the_last_one() -> None:
    b = budget()
    assert b.oldest_ticket() == 0
    for _ in range(3):
        b.release(b.take(0.0))
    assert b.oldest_ticket() == 3
    b.take(0.0)
    b.take(0.0)
    assert b.oldest_ticket() == 4


# -- what an answer teaches --------------------------------------------------------------------


def test_an_answer_missing_limit_or_reset_keeps_the_remembered_values() -> None:
    b = budget()
    b.learn(b.take(0.0), RateLimitInfo(100, 99, NOW + 10), 200, 0.0)
    b.learn(b.take(0.0), RateLimitInfo(None, 90, None), 200, 0.0)
    assert (b.limit, b.reset_at, b.estimate()) == (100, NOW + 10, 90)
    b.learn(b.take(0.0), RateLimitInfo(200, 80, NOW + 20), 200, 0.0)
    assert (b.limit, b.reset_at) == (200, NOW + 20)


def test_the_first_answer_fills_the_bucket_to_its_capacity() -> None:
    b = budget(burst_ratio=0.05)
    b.learn(b.take(3.0), RateLimitInfo(1000, 999, NOW + 100), 200, 3.0)
    assert (b.tokens, b.tokens_at) == (50.0, 3.0)
    no_limit = budget(burst_ratio=0.1)
    no_limit.learn(no_limit.take(0.0), RateLimitInfo(None, 300, NOW + 100), 200, 0.0)
    assert no_limit.tokens == 30.0  # the remaining count stands in for an unknown limit
    tiny = budget(burst_ratio=0.05)
    tiny.learn(tiny.take(0.0), RateLimitInfo(10, 9, NOW + 100), 200, 0.0)
    assert tiny.tokens == 1.0  # never less than one request


def test_a_window_probe_does_not_refill_the_bucket_to_full() -> None:
    b = budget(burst_ratio=0.05, safety_margin=0)
    b.learn(b.take(0.0), RateLimitInfo(1000, 999, NOW + 100), 200, 0.0)
    for _ in range(50):  # spend the whole burst at once
        assert b.next_delay(0.0, NOW) == 0.0
        b.take(0.0)
    assert b.tokens == pytest.approx(0.0, abs=1e-9)
    b.pause(0.0)  # a 429: probe again
    b.learn(b.take(0.0), RateLimitInfo(1000, 900, NOW + 100), 200, 0.0)
    # the bucket carries on from where it was; only elapsed time refills it
    assert b.tokens == pytest.approx(0.0, abs=1e-9)
    assert b.next_delay(0.0, NOW) > 0.0


def test_tokens_are_spent_only_once_the_budget_and_its_reset_are_known() -> None:
    b = budget()
    b.take(0.0)  # a probe
    assert b.tokens == 0.0
    b.learn(1, RateLimitInfo(100, 99, None), 200, 0.0)  # no reset known
    b.take(0.0)
    assert b.tokens == 5.0
    b.learn(2, RateLimitInfo(100, 98, NOW + 10), 200, 0.0)
    b.take(0.0)
    assert b.tokens == 4.0


def test_the_bucket_refills_at_the_even_pace_up_to_its_capacity() -> None:
    b = budget(burst_ratio=0.05, safety_margin=0)
    b.learn(b.take(0.0), RateLimitInfo(1000, 1000, NOW + 100), 200, 0.0)
    for _ in range(50):
        b.take(0.0)
    # 950 left over 100 s: 9.5 requests a second, so the next one after 1/9.5 s
    assert b.next_delay(0.0, NOW) == pytest.approx(100 / 950, rel=1e-6)
    assert b.next_delay(5.0, NOW + 5.0) == 0.0
    assert b.tokens == pytest.approx(min(50.0, 5.0 * 950 / 95), rel=1e-6)
    assert b.next_delay(100.0, NOW + 90.0) == 0.0
    assert b.tokens == 50.0  # capped at the burst


def test_waiting_for_tokens_is_never_shorter_than_a_millisecond() -> None:
    b = budget(burst_ratio=0.05, safety_margin=0)
    b.learn(b.take(0.0), RateLimitInfo(1000, 1000, NOW + 100), 200, 0.0)
    b.tokens = 1.0 - 1e-6  # a hair short of one request
    assert b.next_delay(0.0, NOW) == pytest.approx(1e-3)


def test_exhausted_without_a_known_reset_waits_the_documented_hour() -> None:
    b = budget(safety_margin=2)
    b.learn(b.take(0.0), RateLimitInfo(100, 2, None), 200, 0.0)
    assert b.next_delay(0.0, NOW) == pytest.approx(3600.5)
    assert b.reset_at == NOW + 3600.0


def test_exhausted_waits_for_the_earliest_outstanding_ticket_if_sooner() -> None:
    b = budget(safety_margin=0, ticket_ttl=7.0)
    b.learn(b.take(0.0), RateLimitInfo(100, 2, NOW + 100), 200, 0.0)
    b.take(1.0)
    b.take(2.0)
    assert b.next_delay(3.0, NOW + 3.0) == pytest.approx(5.0)  # the first expires at 8


def test_the_new_window_starts_after_the_grace_not_before() -> None:
    b = budget(reset_grace=0.5)
    b.learn(b.take(0.0), RateLimitInfo(100, 50, NOW + 10), 200, 0.0)
    b.next_delay(10.49, NOW + 10.49)
    assert b.estimate() == 50
    b.next_delay(10.5, NOW + 10.5)
    assert b.estimate() is None


def test_an_unlimited_server_becomes_limited_when_headers_appear() -> None:
    b = budget()
    b.learn(b.take(0.0), RateLimitInfo(), 204, 0.0)
    unlimited_before = b.unlimited
    assert b.next_delay(0.0, NOW) == 0.0
    b.learn(b.take(0.0), RateLimitInfo(100, 2, NOW + 10), 200, 0.0)
    assert (unlimited_before, b.unlimited) == (True, False)
    assert b.next_delay(0.0, NOW) == pytest.approx(10.5)


@pytest.mark.parametrize("status", [199, 300, 429])
def test_only_a_success_without_headers_means_unlimited(status: int) -> None:
    b = budget()
    b.learn(b.take(0.0), RateLimitInfo(), status, 0.0)
    assert not b.unlimited


def test_a_pause_never_shortens_a_longer_one() -> None:
    b = budget()
    b.pause(30.0)
    b.pause(10.0)
    assert b.pause_until == 30.0
    assert b.next_delay(5.0, NOW) == 25.0


# -- tickets expire, at any time ---------------------------------------------------------------


def test_a_probe_ticket_expires_after_probe_ttl_at_a_non_zero_time() -> None:
    b = budget(probe_ttl=10.0, ticket_ttl=120.0)
    b.take(100.0)
    assert b.next_delay(109.0, NOW) == pytest.approx(1.0)
    assert b.next_delay(110.0, NOW) == 0.0  # written off exactly at its expiry


def test_an_ordinary_ticket_expires_after_ticket_ttl_at_a_non_zero_time() -> None:
    b = budget(probe_ttl=10.0, ticket_ttl=120.0, safety_margin=0)
    b.learn(b.take(50.0), RateLimitInfo(100, 1, NOW + 1000), 200, 50.0)
    b.take(100.0)
    assert b.estimate() == 0
    b.next_delay(219.0, NOW)
    assert b.estimate() == 0
    b.next_delay(220.0, NOW)
    assert b.estimate() == 1


def test_a_late_answer_to_a_probe_sent_before_a_pause_is_ignored() -> None:
    b = budget()
    b.learn(b.take(0.0), RateLimitInfo(100, 99, NOW + 10), 200, 0.0)
    before_pause = b.take(0.0)
    b.pause(5.0)
    b.learn(before_pause, RateLimitInfo(100, 98, NOW + 10), 200, 0.0)
    assert b.estimate() is None


def test_an_answer_keeps_only_the_tickets_sent_after_it() -> None:
    b = budget()
    b.learn(b.take(0.0), RateLimitInfo(100, 99, NOW + 10), 200, 0.0)
    seqs = [b.take(0.0) for _ in range(4)]
    b.learn(seqs[1], RateLimitInfo(100, 90, NOW + 10), 200, 0.0)
    assert sorted(b.tickets) == seqs[2:]


# -- more survivors: refills, tickets, ticket books, the rng -----------------------------------


def test_a_known_budget_without_a_reset_is_spent_without_waiting() -> None:
    b = budget(safety_margin=0)
    b.learn(b.take(0.0), RateLimitInfo(100, 50, None), 200, 0.0)
    assert b.next_delay(0.0, NOW) == 0.0


def test_without_a_limit_the_bucket_is_sized_by_what_remains() -> None:
    b = budget(burst_ratio=0.05, safety_margin=0)
    b.learn(b.take(0.0), RateLimitInfo(None, 300, NOW + 100), 200, 0.0)
    assert b.tokens == 15.0
    b.tokens = 0.0
    assert b.next_delay(50.0, NOW + 50.0) == 0.0
    assert b.tokens == 15.0  # refilled, up to 5% of the 300 remaining


@pytest.mark.parametrize("tokens", [1.0, 1.0 - 1e-9])
def test_one_token_give_or_take_rounding_lets_a_request_go(tokens: float) -> None:
    b = budget(safety_margin=0)
    b.learn(b.take(0.0), RateLimitInfo(1000, 1000, NOW + 100), 200, 0.0)
    b.tokens = tokens
    assert b.next_delay(0.0, NOW) == 0.0


def test_releasing_an_unknown_ticket_is_harmless() -> None:
    b = budget()
    b.release(42)
    b.release(b.take(0.0))
    b.release(1)
    assert b.tickets == {}


def test_an_answer_without_headers_still_gives_its_ticket_back() -> None:
    b = budget(initial_allowance=1)
    b.learn(b.take(0.0), RateLimitInfo(), 500, 0.0)
    assert b.tickets == {}
    assert b.next_delay(0.0, NOW) == 0.0  # the probe slot is free again


async def test_a_long_lived_task_leaves_no_owner_behind(fake_clock: FakeClock) -> None:
    limiter = limiter_on(fake_clock)
    for _ in range(20):
        await limiter.acquire()
        info = RateLimitInfo(1000, 900, fake_clock.time() + 3000)
        await limiter.observe(info, status=200, retry_after=None)
    assert limiter._book._owners == {}


async def test_an_answer_observed_twice_through_a_copied_context_does_not_raise(
    fake_clock: FakeClock,
) -> None:
    limiter = limiter_on(fake_clock)
    await limiter.acquire()
    info = RateLimitInfo(1000, 900, fake_clock.time() + 3000)
    # a task created now copies the context, ticket and all
    await asyncio.create_task(limiter.observe(info, status=200, retry_after=None))
    await limiter.observe(info, status=200, retry_after=None)
    assert limiter.remaining_estimate == 900


async def test_two_limiters_in_one_task_do_not_take_each_others_tickets(
    fake_clock: FakeClock,
) -> None:
    ours, other = limiter_on(fake_clock, safety_margin=0), limiter_on(fake_clock)
    reset = fake_clock.time() + 3000
    for limiter in (ours, other):
        await limiter.acquire()
        await limiter.observe(RateLimitInfo(100, 99, reset), status=200, retry_after=None)
    hold = asyncio.Event()

    async def older_request() -> None:
        await ours.acquire()  # ticket 2, never answered here
        await hold.wait()

    older = asyncio.create_task(older_request())
    await asyncio.sleep(0)
    await ours.acquire()  # ticket 3, this task's
    # an answer on the other limiter, which this task holds no ticket of
    await other.observe(RateLimitInfo(100, 50, reset), status=200, retry_after=None)
    await ours.observe(RateLimitInfo(100, 90, reset), status=200, retry_after=None)
    assert ours.remaining_estimate == 90  # ticket 3 answered: ticket 2 was counted before it
    hold.set()
    await older


async def test_the_first_answer_starts_the_bucket_at_its_own_time(fake_clock: FakeClock) -> None:
    limiter = limiter_on(fake_clock)
    await limiter.acquire()
    fake_clock.advance(2.0)
    await limiter.observe(
        RateLimitInfo(100, 99, fake_clock.time() + 3000), status=200, retry_after=None
    )
    assert limiter._budget.tokens_at == fake_clock.start + 2.0


async def test_the_pause_jitter_comes_from_the_given_rng() -> None:
    async def pause_with(rng: random.Random | None) -> float:
        clock = FakeClock()
        limiter = AdaptiveRateLimiter(
            clock=clock.monotonic, wall_clock=clock.time, sleep=clock.sleep, rng=rng
        )
        await limiter.acquire()
        await limiter.observe(RateLimitInfo(), status=429, retry_after=10.0)
        await limiter.acquire()
        return clock.now - clock.start

    seeded = [await pause_with(random.Random(9)) for _ in range(2)]
    assert seeded[0] == seeded[1]
    assert 10.0 < seeded[0] <= 11.0
    assert 10.0 <= await pause_with(None) <= 11.0  # without one, a fresh generator


def test_of_three_remaining_values_the_first_is_the_hourly_one() -> None:
    info = parse_rate_limit_headers({"X-RateLimit-Remaining": "9999, 19988, 5"}, NOW)
    assert info.remaining == 9999


async def test_a_request_that_never_left_gives_its_ticket_back_at_once(
    fake_clock: FakeClock,
) -> None:
    limiter = limiter_on(fake_clock)  # probing: one request at a time
    await limiter.acquire()
    await limiter.release()  # the connection was refused
    await asyncio.create_task(limiter.acquire())  # another task need not wait for its expiry
    assert fake_clock.now == fake_clock.start
