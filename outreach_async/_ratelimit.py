"""Rate limiting: Outreach's ``X-RateLimit-*`` headers, the limiter protocol, the in-process one.

Outreach allows 10,000 requests an hour per user and reports the budget on every answer in
``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset``; a 429 carries ``Retry-After``
(outreach-api-facts §2). :class:`AdaptiveRateLimiter` learns the budget from those headers and
spends it evenly over the window:

- **Probe.** While nothing is known (the first request, a new window, after a 429) at most
  ``initial_allowance`` requests go out; the first answer teaches the budget.
- **Count what is in flight.** A header's ``Remaining`` is stale by every request sent after the
  one it answers. Each request takes a numbered *ticket*; an answer to ticket *k* saying *R*
  remain means ``R - (tickets after k still outstanding)`` remain now. Answers arrive out of
  order: only an answer newer than the last one used can move the estimate.
- **Pace.** ``available = estimate - safety margin`` is spread over the time left until
  ``Reset``: a token bucket refilled at ``available / seconds_to_reset`` whose capacity (the burst
  allowed at full speed) is ``burst_ratio`` of the window's limit. Unused budget raises the rate,
  so the window's budget is spent by its end and nothing bursts into 429s.
- **Stop.** A 429, or a 503 with ``Retry-After`` (maintenance), pauses every waiter until then
  (plus a small positive jitter, so a fleet does not wake in lockstep), then probes again.

Tickets of requests that never got an answer (a timeout, a reset connection, a cancelled task)
are released when their task finishes or takes a new ticket, and expire after ``ticket_ttl``.
For that the limiter expects ``acquire`` and ``observe`` of one request to run in one task.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import math
import random
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, Protocol, runtime_checkable

import attrs

from ._retry import parse_retry_after, retry_after_jitter

__all__ = [
    "AdaptiveRateLimiter",
    "RateLimitInfo",
    "RateLimiter",
    "parse_rate_limit_headers",
]

#: Never believe a reset further ahead than this (the documented window is one hour).
MAX_RESET_AHEAD: Final = 3600.0
#: A ``Reset`` value at least this large is an epoch second; a smaller one is seconds from now.
EPOCH_THRESHOLD: Final = 1e9
#: Waits are re-evaluated at least this often, in case a clock jumped.
MAX_WAIT_STEP: Final = 30.0
#: Pause after a 429 that names neither ``Retry-After`` nor ``Reset``.
DEFAULT_429_PAUSE: Final = 1.0
_MIN_TIME_LEFT: Final = 1e-3
_EPSILON: Final = 1e-9


@attrs.frozen
class RateLimitInfo:
    """What one answer's ``X-RateLimit-*`` headers said; None where a header was absent or bad."""

    limit: int | None = None
    remaining: int | None = None
    #: when the window's budget refills, in epoch seconds
    reset_at: float | None = None


_COUNT = re.compile(r"([0-9]{1,18})(?:\.0*)?")
_NUMBER = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,9})?")


def parse_rate_limit_headers(headers: Mapping[str, str], now: float) -> RateLimitInfo:
    """Read ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset``; ``now`` is epoch seconds.

    Names are case-insensitive. Never raises: a missing or unreadable value is None.

    - ``Remaining`` may hold two comma-separated values (``"9999, 19988"``, since about 2023). The
      first is the hourly budget's (tap-outreach commit 21f1545, outreach-api-facts §2): it is the
      one that ``Limit`` and ``Reset`` describe, so it is the one we pace by.
    - ``Reset`` is read tolerantly, its format being unconfirmed: a number of at least 10^9 is an
      epoch second, a smaller one is seconds from now, and an HTTP or ISO date is accepted too. A
      reset more than an hour ahead is cut to one hour; one in the past reads as now.
    """
    lowered = {str(name).lower(): value for name, value in headers.items()}
    remaining = lowered.get("x-ratelimit-remaining")
    first_remaining = remaining.split(",", 1)[0] if isinstance(remaining, str) else None
    return RateLimitInfo(
        limit=_parse_count(lowered.get("x-ratelimit-limit")),
        remaining=_parse_count(first_remaining),
        reset_at=_parse_reset(lowered.get("x-ratelimit-reset"), now),
    )


def _parse_count(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    match = _COUNT.fullmatch(value.strip())
    return int(match.group(1)) if match else None


def _parse_reset(value: object, now: float) -> float | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _NUMBER.fullmatch(text):
        number = float(text)
        reset_at = number if number >= EPOCH_THRESHOLD else now + number
    else:
        wait = parse_retry_after(text, now)
        if wait is None:
            return None
        reset_at = now + wait
    return min(max(reset_at, now), now + MAX_RESET_AHEAD)


@runtime_checkable
class RateLimiter(Protocol):
    """Decides when a request may start, and learns from every answer."""

    async def acquire(self) -> None:
        """Wait until one more request may start."""

    async def observe(self, info: RateLimitInfo, *, status: int, retry_after: float | None) -> None:
        """Learn from the answer to the request this task acquired for.

        ``retry_after`` is the parsed ``Retry-After`` in seconds, if the answer had one. A 429, or
        a 503 with ``Retry-After``, pauses everyone sharing the budget until then.
        """


def pauses_everyone(status: int, retry_after: float | None) -> bool:
    """A 429, or a maintenance 503 that says how long: stop every request sharing the budget."""
    return status == 429 or (status == 503 and retry_after is not None)


def pause_seconds(
    info: RateLimitInfo, retry_after: float | None, wall: float, max_pause: float
) -> float:
    """How long a refused answer asks us to stop: ``Retry-After``, else until ``Reset``."""
    if retry_after is not None:
        wait = retry_after
    elif info.reset_at is not None and info.reset_at > wall:
        wait = info.reset_at - wall
    else:
        wait = DEFAULT_429_PAUSE
    return min(wait, max_pause)


def default_safety_margin(limit: int | None) -> int:
    """Requests kept unspent per window: 0.2% of the limit, at least 1, at most a tenth of it.

    It absorbs requests that reach the server in another order than they were sent (the
    estimate assumes first sent, first counted) and other apps spending the same user's budget
    between two of our answers.
    """
    if limit is None:
        return 1
    return min(max(1, math.ceil(0.002 * limit)), limit // 10)


@attrs.define
class _Budget:
    """The limiter's belief about the server's budget. Pure: every time is passed in.

    ``mono`` times come from a monotonic clock (pauses, tickets, the token bucket); ``wall`` times
    are epoch seconds, comparable with the server's ``Reset``.
    """

    initial_allowance: int
    burst_ratio: float
    safety_margin: int | None
    reset_grace: float
    ticket_ttl: float
    probe_ttl: float

    limit: int | None = None
    reset_at: float | None = None
    #: the newest answer used: the server had ``anchor_remaining`` left after ticket ``anchor_seq``
    anchor_seq: int = 0
    #: None while unknown (probing)
    anchor_remaining: int | None = None
    learned: bool = False
    #: the server sends no rate-limit headers at all
    unlimited: bool = False
    seq: int = 0
    #: outstanding tickets newer than the anchor: seq -> expiry (mono)
    tickets: dict[int, float] = attrs.Factory(dict)
    tokens: float = 0.0
    tokens_at: float | None = None
    pause_until: float = 0.0

    @property
    def margin(self) -> int:
        if self.safety_margin is not None:
            return self.safety_margin
        return default_safety_margin(self.limit)

    def estimate(self) -> int | None:
        """Requests the server would still accept now, by our count; None while unknown."""
        if self.anchor_remaining is None:
            return None
        return self.anchor_remaining - len(self.tickets)

    def next_delay(self, mono: float, wall: float) -> float:
        """Seconds until one more request may start; 0.0 when it may start now."""
        self._expire_tickets(mono)
        if mono < self.pause_until:
            return self.pause_until - mono
        if self.unlimited:
            return 0.0
        if self._window_over(wall):
            self.start_probe()
        estimate = self.estimate()
        if estimate is None:
            return self._probe_delay(mono)
        available = estimate - self.margin
        if available < 1:
            return self._refill_delay(mono, wall)
        if self.reset_at is None:
            return 0.0  # no reset known: nothing to spread over, spend until the estimate is 0
        rate = available / max(self.reset_at - wall, _MIN_TIME_LEFT)
        self._refill_tokens(mono, rate, available)
        if self.tokens >= 1.0 - _EPSILON:
            return 0.0
        # Never a wait shorter than a millisecond: a clock cannot move by 1e-14 s.
        return max((1.0 - self.tokens) / rate, _MIN_TIME_LEFT)

    def take(self, mono: float) -> int:
        """Hand out a ticket for a request that starts now."""
        probing = self.anchor_remaining is None and not self.unlimited
        if not probing and self.reset_at is not None:
            self.tokens -= 1.0
        self.seq += 1
        # A lost probe holds everyone up: write it off sooner than an ordinary request.
        self.tickets[self.seq] = mono + (self.probe_ttl if probing else self.ticket_ttl)
        return self.seq

    def release(self, seq: int) -> None:
        """The request with this ticket ended without an answer: assume it was never counted."""
        self.tickets.pop(seq, None)

    def oldest_ticket(self) -> int:
        """For an answer whose ticket is unknown: the oldest outstanding request is answered."""
        return min(self.tickets, default=self.seq)

    def learn(self, seq: int, info: RateLimitInfo, status: int, mono: float) -> None:
        """Take in the answer to ticket ``seq``."""
        self.tickets.pop(seq, None)
        if info.remaining is None:
            if not self.learned and 200 <= status < 300:
                self.unlimited = True
            return
        if seq <= self.anchor_seq:
            return  # older than the answer the estimate rests on (or sent before a probe)
        self.learned, self.unlimited = True, False
        self.limit = info.limit if info.limit is not None else self.limit
        self.reset_at = info.reset_at if info.reset_at is not None else self.reset_at
        if self.anchor_remaining is None and self.tokens_at is None:
            self.tokens, self.tokens_at = self._capacity(info.remaining), mono
        self.anchor_seq, self.anchor_remaining = seq, info.remaining
        # Requests sent before this one reached the server before it (FIFO), so it counted them.
        self.tickets = {k: v for k, v in self.tickets.items() if k > seq}

    def pause(self, until: float) -> None:
        """Stop everyone until ``until`` (mono), then probe the budget again."""
        self.pause_until = max(self.pause_until, until)
        self.start_probe()

    def start_probe(self) -> None:
        """Forget the estimate: answers to requests sent before now cannot re-establish it."""
        self.anchor_seq, self.anchor_remaining = self.seq, None
        self.tickets = {}

    def _window_over(self, wall: float) -> bool:
        return (
            self.anchor_remaining is not None
            and self.reset_at is not None
            and wall >= self.reset_at + self.reset_grace
        )

    def _probe_delay(self, mono: float) -> float:
        if len(self.tickets) < self.initial_allowance:
            return 0.0
        # An answer wakes the waiter; failing that, the oldest probe's ticket expires.
        return max(min(self.tickets.values()) - mono, _MIN_TIME_LEFT)

    def _refill_delay(self, mono: float, wall: float) -> float:
        """Exhausted: wait for the next window, or for an outstanding ticket to be written off."""
        if self.reset_at is None:
            # No reset known: assume the documented hourly window.
            self.reset_at = wall + MAX_RESET_AHEAD
        delay = self.reset_at + self.reset_grace - wall
        if self.tickets:
            delay = min(delay, min(self.tickets.values()) - mono)
        return max(delay, _MIN_TIME_LEFT)

    def _capacity(self, available: int) -> float:
        return max(1.0, self.burst_ratio * (self.limit or available))

    def _refill_tokens(self, mono: float, rate: float, available: int) -> None:
        elapsed = 0.0 if self.tokens_at is None else max(mono - self.tokens_at, 0.0)
        self.tokens = min(self._capacity(available), self.tokens + elapsed * rate)
        self.tokens_at = mono

    def _expire_tickets(self, mono: float) -> None:
        if any(expiry <= mono for expiry in self.tickets.values()):
            self.tickets = {k: v for k, v in self.tickets.items() if v > mono}


_BOOK_IDS = itertools.count(1)
#: (ticket book id, ticket) of the request the current task acquired for and has not observed
_TICKET: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "outreach_async_ratelimit_ticket", default=None
)


class TicketBook:
    """Which task holds which ticket, so that requests that end without an answer give it back.

    ``acquire`` and ``observe`` of one request run in one task (the transport's ``send``): the
    ticket travels between them in a context variable. A task that asks again without having
    observed lost its previous request (a timeout, a reset connection, then a retry); a task that
    finished without observing was cancelled or gave up. Either way its ticket is released.
    """

    def __init__(self) -> None:
        self._id = next(_BOOK_IDS)
        self._owners: dict[int, weakref.ref[asyncio.Task[object]]] = {}

    def hold(self, seq: int) -> None:
        """The current task holds ticket ``seq`` for the request it is about to send."""
        _TICKET.set((self._id, seq))
        task = asyncio.current_task()
        if task is not None:
            self._owners[seq] = weakref.ref(task)

    def take_current(self) -> int | None:
        """The ticket the current task holds (now answered or lost), or None."""
        held = _TICKET.get()
        if held is None or held[0] != self._id:
            return None
        _TICKET.set(None)
        self._owners.pop(held[1], None)
        return held[1]

    def take_abandoned(self) -> list[int]:
        """Tickets whose task is gone or finished without an answer."""
        abandoned = []
        for seq, ref in list(self._owners.items()):
            task = ref()
            if task is None or task.done():
                del self._owners[seq]
                abandoned.append(seq)
        return abandoned


async def sleep_or_wake(
    sleep: Callable[[float], Awaitable[None]], wake: asyncio.Event, delay: float
) -> None:
    """Sleep ``delay``, or less if ``wake`` is set meanwhile (an answer may change the plan)."""
    sleeper = asyncio.ensure_future(sleep(delay))
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        waker.cancel()


class AdaptiveRateLimiter(RateLimiter):
    """The in-process default: learns the budget from the headers and spends it evenly.

    See the module docstring for the design. Parameters:

    - ``initial_allowance``: requests let through while the budget is unknown (probing).
    - ``burst_ratio``: the share of a window's limit that may go out at full speed.
    - ``safety_margin``: requests kept unspent per window (default 0.2% of the limit, at least 1).
    - ``reset_grace``: seconds to wait past ``Reset`` before probing the new window (clock skew).
    - ``ticket_ttl`` / ``probe_ttl``: after how long an unanswered request (a probe) is written
      off, as a last resort.
    - ``max_pause``: the longest pause a ``Retry-After`` may impose.
    - ``clock`` (monotonic), ``wall_clock`` (epoch seconds, compared with ``Reset``) and
      ``sleep`` are injectable so tests never wait for real; ``rng`` drives the pause jitter.
    """

    def __init__(
        self,
        *,
        initial_allowance: int = 1,
        burst_ratio: float = 0.05,
        safety_margin: int | None = None,
        reset_grace: float = 0.5,
        ticket_ttl: float = 120.0,
        probe_ttl: float = 10.0,
        max_pause: float = MAX_RESET_AHEAD,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if initial_allowance < 1:
            raise ValueError("initial_allowance must be at least 1")
        self._budget = _Budget(
            initial_allowance=initial_allowance,
            burst_ratio=burst_ratio,
            safety_margin=safety_margin,
            reset_grace=reset_grace,
            ticket_ttl=ticket_ttl,
            probe_ttl=probe_ttl,
        )
        self._max_pause = max_pause
        self._clock, self._wall_clock, self._sleep = clock, wall_clock, sleep
        self._rng = rng or random.Random()
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._book = TicketBook()

    @property
    def remaining_estimate(self) -> int | None:
        """Requests the server would still accept now, by our count; None while unknown."""
        return self._budget.estimate()

    async def acquire(self) -> None:
        """Wait (FIFO) until the budget allows one more request, then take a ticket for it."""
        self._release(self._book.take_current())
        async with self._lock:
            while True:
                self._changed.clear()
                for seq in self._book.take_abandoned():
                    self._budget.release(seq)
                delay = self._budget.next_delay(self._clock(), self._wall_clock())
                if delay <= 0.0:
                    break
                await sleep_or_wake(self._sleep, self._changed, min(delay, MAX_WAIT_STEP))
            seq = self._budget.take(self._clock())
        self._book.hold(seq)

    async def observe(self, info: RateLimitInfo, *, status: int, retry_after: float | None) -> None:
        """Learn from an answer; a 429 or a maintenance 503 pauses every waiter."""
        seq = self._book.take_current()
        budget = self._budget
        budget.learn(budget.oldest_ticket() if seq is None else seq, info, status, self._clock())
        if pauses_everyone(status, retry_after):
            wait = pause_seconds(info, retry_after, self._wall_clock(), self._max_pause)
            budget.pause(self._clock() + retry_after_jitter(wait, self._rng))
        self._changed.set()

    async def release(self) -> None:
        """The request this task acquired for never reached the server (a refused connection,
        a name that does not resolve): give its ticket back now rather than when the task asks
        again, so that requests waiting for the budget's first answer are not held up."""
        self._release(self._book.take_current())
        self._changed.set()

    def _release(self, seq: int | None) -> None:
        if seq is not None:
            self._budget.release(seq)
