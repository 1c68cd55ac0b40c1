"""The pure retry policy: decisions, backoff bounds, Retry-After parsing (no sleeping)."""

from __future__ import annotations

import datetime as dt
import email.utils
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach_async._retry import (
    Failure,
    RetryContext,
    RetryPolicy,
    compute_backoff,
    parse_retry_after,
    retry_after_jitter,
    should_retry,
    within_connect_deadline,
)

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def ctx(
    method: str = "GET",
    *,
    idempotent: bool | None = None,
    status: int | None = None,
    failure: Failure | None = None,
    attempt: int = 1,
) -> RetryContext:
    safe = method != "POST" if idempotent is None else idempotent
    return RetryContext(
        attempt=attempt,
        method=method,
        idempotent=safe,
        status=status,
        failure=failure,
        error=None,
    )


# -- decisions ---------------------------------------------------------------------------------

IDEMPOTENT = ["GET", "DELETE", "PATCH"]
FAILURES: list[Failure] = ["refused", "lost", "timeout"]


@pytest.mark.parametrize("method", IDEMPOTENT)
@pytest.mark.parametrize("failure", FAILURES)
def test_idempotent_requests_are_retried_on_every_failure(method: str, failure: Failure) -> None:
    assert should_retry(RetryPolicy(), ctx(method, failure=failure))


@pytest.mark.parametrize(
    ("failure", "expected"), [("refused", True), ("lost", False), ("timeout", False)]
)
def test_a_post_is_retried_only_when_it_never_reached_the_server(
    failure: Failure, expected: bool
) -> None:
    assert should_retry(RetryPolicy(), ctx("POST", failure=failure)) is expected


@pytest.mark.parametrize("method", [*IDEMPOTENT, "POST"])
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 400, 401, 403, 404, 409, 422])
def test_status_table(method: str, status: int) -> None:
    # for a POST only a 429 says that the request was refused before it ran
    retried = {429} if method == "POST" else {408, 429, 500, 502, 503, 504}
    expected = status in retried
    assert should_retry(RetryPolicy(), ctx(method, status=status)) is expected


def test_a_post_is_not_retried_on_429_when_refused_statuses_is_emptied() -> None:
    policy = RetryPolicy(refused_statuses=frozenset())
    assert not should_retry(policy, ctx("POST", status=429))
    assert should_retry(policy, ctx("POST", failure="refused"))


def test_an_idempotent_action_post_is_retried_like_a_get() -> None:
    assert should_retry(RetryPolicy(), ctx("POST", idempotent=True, status=503))
    assert should_retry(RetryPolicy(), ctx("POST", idempotent=True, failure="timeout"))


def test_success_or_no_information_is_not_retried() -> None:
    assert not should_retry(RetryPolicy(), ctx("GET", status=200))
    assert not should_retry(RetryPolicy(), ctx("GET"))


def test_custom_retry_statuses() -> None:
    policy = RetryPolicy(retry_statuses=frozenset({409}))
    assert should_retry(policy, ctx("GET", status=409))
    assert not should_retry(policy, ctx("GET", status=503))


def test_never_beyond_max_retries() -> None:
    policy = RetryPolicy(max_retries=2)
    assert should_retry(policy, ctx("GET", status=503, attempt=2))
    assert not should_retry(policy, ctx("GET", status=503, attempt=3))
    assert not should_retry(RetryPolicy(max_retries=0), ctx("GET", failure="refused"))


def test_user_decide_overrides_the_default_both_ways() -> None:
    seen: list[RetryContext] = []

    def decide(c: RetryContext) -> bool | None:
        seen.append(c)
        if c.status == 404:
            return True  # e.g. eventual consistency right after a create
        if c.status == 503:
            return False
        return None

    policy = RetryPolicy(decide=decide)
    assert should_retry(policy, ctx("GET", status=404))
    assert not should_retry(policy, ctx("GET", status=503))
    assert should_retry(policy, ctx("GET", status=502))  # None: the default rule
    assert not should_retry(policy, ctx("POST", failure="lost"))
    assert [c.status for c in seen] == [404, 503, 502, None]


def test_decide_cannot_exceed_max_retries() -> None:
    policy = RetryPolicy(max_retries=1, decide=lambda c: True)
    assert should_retry(policy, ctx("POST", failure="lost", attempt=1))
    assert not should_retry(policy, ctx("POST", failure="lost", attempt=2))


def test_policy_rejects_negative_values() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)


# -- backoff -----------------------------------------------------------------------------------


@given(
    attempt=st.integers(min_value=-5, max_value=5000),
    base=st.floats(min_value=0, max_value=100),
    cap=st.floats(min_value=0, max_value=1000),
    seed=st.integers(),
)
def test_backoff_within_zero_and_the_capped_exponential(
    attempt: int, base: float, cap: float, seed: int
) -> None:
    policy = RetryPolicy(backoff_base=base, backoff_cap=cap)
    wait = compute_backoff(policy, attempt, random.Random(seed))
    exponent = max(attempt, 1) - 1
    assert 0.0 <= wait <= cap
    if exponent < 60:
        assert wait <= base * 2**exponent


def test_backoff_grows_with_the_attempt_and_uses_full_jitter() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=30.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (50, 30.0)]:
        waits = [compute_backoff(policy, attempt, rng) for _ in range(400)]
        assert max(waits) <= ceiling
        # full jitter: the waits cover the whole interval, not just its top
        assert min(waits) < 0.05 * ceiling
        assert max(waits) > 0.95 * ceiling


@given(retry_after=st.floats(min_value=0, max_value=1e12), seed=st.integers())
def test_retry_after_jitter_is_positive_and_small(retry_after: float, seed: int) -> None:
    wait = retry_after_jitter(retry_after, random.Random(seed))
    assert retry_after <= wait <= retry_after + min(1.0, 0.1 * retry_after)


@pytest.mark.parametrize("retry_after", [-3.0, float("nan"), float("inf"), float("-inf")])
def test_retry_after_jitter_reads_nonsense_as_no_wait(retry_after: float) -> None:
    assert retry_after_jitter(retry_after, random.Random(0)) == 0.0


def test_retry_after_jitter_spreads_a_fleet() -> None:
    rng = random.Random(1)
    wakeups = {round(retry_after_jitter(30.0, rng), 3) for _ in range(100)}
    assert len(wakeups) > 90
    assert min(wakeups) >= 30.0
    assert max(wakeups) <= 31.0


# -- Retry-After -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Tue, 14 Nov 2023 22:15:20 GMT", 120.0),
        ("Tue, 14 Nov 2023 22:10:00 GMT", 0.0),  # in the past
        ("2023-11-14T22:14:20Z", 60.0),  # Outreach's 503 maintenance form
        ("2023-11-14T22:14:20.000Z", 60.0),
        ("2023-11-14T23:14:20+01:00", 60.0),
        ("2023-11-14T22:14:20", 60.0),  # no zone: UTC
        ("2017-01-01T00:00:00", 0.0),
    ],
)
def test_parse_retry_after_forms(value: str, expected: float) -> None:
    assert parse_retry_after(value, NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    "value",
    [None, "", "  ", "-5", "soon", "1e3", "0x10", "NaN", "inf", "12:00", "2023-13-45", "W12", "٣٠"],
)
def test_parse_retry_after_garbage_is_none(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


@given(st.text())
def test_parse_retry_after_never_raises_and_is_never_negative(value: str) -> None:
    wait = parse_retry_after(value, NOW)
    assert wait is None or wait >= 0.0


@given(
    when=st.datetimes(
        min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.none()
    ),
    now=st.floats(min_value=0, max_value=4e9),
)
def test_parse_retry_after_round_trips_dates(when: dt.datetime, now: float) -> None:
    moment = when.replace(tzinfo=dt.UTC, microsecond=0)
    expected = max(0.0, moment.timestamp() - now)
    iso = parse_retry_after(moment.isoformat(), now)
    assert iso == pytest.approx(expected)
    if moment.year >= 1900:
        http = parse_retry_after(email.utils.format_datetime(moment, usegmt=True), now)
        assert http == pytest.approx(expected)


@given(st.from_regex(r"[0-9A-Za-z ,:+\-.TZ]{0,40}", fullmatch=True))
def test_parse_retry_after_date_like_noise_never_raises(value: str) -> None:
    wait = parse_retry_after(value, NOW)
    assert wait is None or wait >= 0.0


def test_a_name_that_does_not_resolve_is_not_retried_by_default() -> None:
    policy = RetryPolicy()
    assert not should_retry(policy, ctx(failure="unresolved"))
    assert should_retry(policy, ctx(failure="refused"))
    chosen = RetryPolicy(decide=lambda c: True if c.failure == "unresolved" else None)
    assert should_retry(chosen, ctx(failure="unresolved"))  # a decide rule may say otherwise


def test_connection_retries_stop_at_the_connect_deadline() -> None:
    policy = RetryPolicy(connect_deadline=10.0)
    assert within_connect_deadline(policy, 4.0, elapsed=1.0) == 4.0
    assert within_connect_deadline(policy, 4.0, elapsed=8.5) == 1.5  # cut to what is left
    assert within_connect_deadline(policy, 4.0, elapsed=10.0) is None
