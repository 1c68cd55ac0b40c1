"""The retry policy as values and pure functions (no I/O, no event loop).

The transport asks :func:`should_retry` after every failed attempt, sleeps for
:func:`compute_backoff` (or for the server's ``Retry-After``, read by :func:`parse_retry_after`
and spread by :func:`retry_after_jitter`), and tries again.

Which requests are repeated (outreach-api-facts §2, peer-lessons §6):

- A request that provably never reached the server (connection refused) is always safe to
  repeat, whatever its method, but only for :attr:`RetryPolicy.connect_deadline` seconds
  (10 by default) from its first attempt: a host that refuses connections for that long is
  down, and saying so beats minutes of silence.
- A host name that does not resolve is not retried: a name that failed to resolve will not
  resolve two seconds later (a ``decide`` rule may say otherwise).
- A request that is safe to repeat (``idempotent``: GET, DELETE, PATCH, the actions Outreach
  documents as idempotent) is repeated on a lost connection, a timeout, and the statuses in
  :attr:`RetryPolicy.retry_statuses` (408, 429, 500, 502, 503, 504).
- Any other request (a POST that creates) is repeated only on the statuses in
  :attr:`RetryPolicy.refused_statuses`: by default 429, because Outreach's rate limiter answers
  429 *instead of* running the request (RFC 6585 §4), so repeating it cannot duplicate anything.
  Set ``refused_statuses=frozenset()`` to never repeat such a request after it was sent.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import math
import random
import re
from collections.abc import Callable
from typing import Final, Literal, TypeAlias

import attrs

__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "Failure",
    "RetryContext",
    "RetryPolicy",
    "compute_backoff",
    "parse_retry_after",
    "retry_after_jitter",
    "should_retry",
    "within_connect_deadline",
]

#: How an attempt failed without an HTTP answer: ``refused`` (the connection was never made, so
#: the server never saw the request), ``unresolved`` (the host name did not resolve: nothing
#: was sent either), ``lost`` (the connection broke after the request may have been sent),
#: ``timeout`` (no complete answer in time; the request may have run).
Failure: TypeAlias = Literal["refused", "unresolved", "lost", "timeout"]

DEFAULT_RETRY_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})

# 2**1023 is the largest power of two a float holds; a bigger exponent would overflow.
_MAX_EXPONENT: Final = 1023


@attrs.frozen
class RetryContext:
    """Everything a retry decision may look at, for the attempt that just failed."""

    #: the retry this decision is about: 1 for the first retry (after the first attempt failed)
    attempt: int
    method: str
    #: whether the request is safe to repeat after it may have reached the server
    idempotent: bool
    #: the HTTP status of the failed attempt, or None when no answer came
    status: int | None
    #: how the attempt failed when no answer came, else None
    failure: Failure | None
    #: the exception of the failed attempt, if any (an APIError or a TransportError)
    error: BaseException | None
    #: seconds since the request's first attempt started
    elapsed: float = 0.0


@attrs.frozen
class RetryPolicy:
    """How many times, after what, and how long to wait between attempts.

    ``decide`` is the user's own rule: it sees every :class:`RetryContext` within
    ``max_retries`` and returns True (retry), False (give up) or None (use the default rule).
    """

    #: retries after the first attempt; 0 disables retrying
    max_retries: int = attrs.field(default=5, validator=attrs.validators.ge(0))
    #: the first backoff's upper bound, in seconds; each retry doubles it
    backoff_base: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    #: no backoff is ever longer than this, in seconds
    backoff_cap: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    #: statuses on which a request that is safe to repeat is retried
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    decide: Callable[[RetryContext], bool | None] | None = None
    #: statuses that mean "refused before running it": retried even for non-idempotent requests
    refused_statuses: frozenset[int] = frozenset({429})
    #: seconds from a request's first attempt after which a connection that cannot be made
    #: (refused, or a name that does not resolve) is no longer retried
    connect_deadline: float = attrs.field(default=10.0, validator=attrs.validators.ge(0))


def should_retry(policy: RetryPolicy, ctx: RetryContext) -> bool:
    """Whether to try the request again after the attempt described by ``ctx`` failed.

    Never beyond ``policy.max_retries``; within it the user's ``decide`` wins when it returns a
    bool; otherwise the default rule in the module docstring applies.
    """
    if ctx.attempt > policy.max_retries:
        return False
    if policy.decide is not None:
        verdict = policy.decide(ctx)
        if verdict is not None:
            return verdict
    return _default_rule(policy, ctx)


def _default_rule(policy: RetryPolicy, ctx: RetryContext) -> bool:
    if ctx.failure == "unresolved":
        return False  # the name will not resolve in a few seconds either
    if ctx.failure == "refused":
        return True  # the server never saw it: nothing can be duplicated
    if ctx.status is not None and ctx.status in policy.refused_statuses:
        return True
    if not ctx.idempotent:
        # It may have reached the server and taken effect: repeating could duplicate it.
        return False
    if ctx.failure is not None:
        return True
    return ctx.status is not None and ctx.status in policy.retry_statuses


def within_connect_deadline(policy: RetryPolicy, wait: float, elapsed: float) -> float | None:
    """The wait before retrying a connection that could not be made, cut to what is left of
    :attr:`RetryPolicy.connect_deadline`; None once ``elapsed`` has used it up."""
    left = policy.connect_deadline - elapsed
    if left <= 0:
        return None
    return min(wait, left)


def compute_backoff(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): exponential, full jitter.

    ``uniform(0, min(cap, base * 2**(attempt - 1)))``: full jitter spreads the retries of many
    clients over the whole interval so they do not return in lockstep (AWS architecture blog,
    "Exponential Backoff And Jitter").
    """
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    ceiling = min(policy.backoff_cap, policy.backoff_base * math.ldexp(1.0, exponent))
    return rng.uniform(0.0, ceiling)


def retry_after_jitter(retry_after: float, rng: random.Random) -> float:
    """The server-given wait plus a small *positive* jitter: never earlier than asked.

    Every client that got the same ``Retry-After`` would otherwise wake at the same instant and
    trip the limit again (peer-lessons §5.2): add ``uniform(0, min(1 s, 10% of the wait))``.
    """
    wait = max(retry_after, 0.0) if math.isfinite(retry_after) else 0.0
    return wait + rng.uniform(0.0, min(1.0, 0.1 * wait))


_SECONDS = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,9})?")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value; None when absent or unreadable.

    Accepts a number of seconds (``"120"``, ``"1.5"``; Outreach's 429s), an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``, RFC 9110) and an ISO-8601 timestamp (Outreach's 503
    maintenance answer, outreach-api-facts §2); a timestamp without a zone is UTC. ``now`` is the
    current epoch time in seconds. Never negative (a date in the past gives 0.0); never raises.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _SECONDS.fullmatch(text):
        return float(text)
    when = _parse_timestamp(text)
    if when is None:
        return None
    return max(0.0, when - now)


def _parse_timestamp(text: str) -> float | None:
    """Epoch seconds of an HTTP-date or an ISO-8601 timestamp, else None."""
    for parse in (_parse_iso, _parse_http_date):
        when = parse(text)
        if when is not None:
            try:
                return _as_utc(when).timestamp()
            except (OverflowError, ValueError, OSError):
                return None
    return None


def _parse_iso(text: str) -> _dt.datetime | None:
    if len(text) < 10 or not text[:4].isdigit():
        return None  # fromisoformat also reads bare week dates and times; insist on a date
    try:
        return _dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def _parse_http_date(text: str) -> _dt.datetime | None:
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _as_utc(when: _dt.datetime) -> _dt.datetime:
    if when.tzinfo is None:
        return when.replace(tzinfo=_dt.UTC)
    return when
