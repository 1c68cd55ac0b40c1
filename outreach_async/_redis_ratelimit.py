"""``RedisRateLimiter``: one Outreach user's budget shared by every process and machine, via Redis.

Outreach counts 10,000 requests an hour *per user*, across every app and worker using that user
(outreach-api-facts §2). Workers that each learn the budget on their own would each spend all
of it; this limiter keeps the one belief about the budget in Redis instead, with the same
design as :class:`~outreach_async._ratelimit.AdaptiveRateLimiter` (probe, numbered tickets for
requests in flight, even pacing over the window, a shared pause after a 429):

- One hash per user, ``outreach:ratelimit:<user>``: the learned ``limit``, ``reset_at``, the
  anchor (newest answer used), the shared token bucket, ``pause_until``, and one field
  ``t:<seq>`` per ticket in flight whose value is its expiry time.
- Every decision is one Lua script (``EVALSHA``), so it is atomic across the fleet; a single key
  keeps it valid on Redis Cluster.
- No locks: a worker that dies mid-window leaves only tickets, which expire (``ticket_ttl``; a
  probe's after ``probe_ttl``) or are dropped as soon as any worker sees a newer answer. The
  hash itself expires after ``key_ttl`` without traffic.
- Times are the callers' epoch seconds (``wall_clock``), like the server's ``Reset``: keep the
  fleet's clocks in sync (NTP), as comparing with ``Reset`` requires anyway.

When Redis cannot be reached the limiter fails open: each process falls back to its own
in-process :class:`~outreach_async._ratelimit.AdaptiveRateLimiter` (logging a warning) until Redis
answers again, so a Redis outage slows nothing down but may cost a few 429s, which the transport
retries. ``fail_open=False`` lets the Redis error propagate instead (no request is sent).

``redis`` is imported only when a URL is given, so the package works without the ``redis``
extra.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from ._ratelimit import (
    MAX_RESET_AHEAD,
    MAX_WAIT_STEP,
    AdaptiveRateLimiter,
    RateLimiter,
    RateLimitInfo,
    TicketBook,
    pause_seconds,
    pauses_everyone,
    sleep_or_wake,
)
from ._retry import retry_after_jitter

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisRateLimiter"]

logger = logging.getLogger("outreach_async")

_GRANTED: Final = 0
#: wait exactly this long (a pause, the pacing interval, the next window)
_WAIT: Final = 1
#: wait for an answer, anywhere in the fleet: poll
_POLL: Final = 2

# Shared by both scripts: read the hash into a table of numbers and a table of tickets.
_PRELUDE = """
local key = KEYS[1]
-- 17 significant digits: a double survives the trip through a string unchanged
local function fmt(x) return string.format('%.17g', x) end
local function load()
  local raw = redis.call('HGETALL', key)
  local s, tickets = {}, {}
  for i = 1, #raw, 2 do
    local field, value = raw[i], raw[i + 1]
    if string.sub(field, 1, 2) == 't:' then
      tickets[tonumber(string.sub(field, 3))] = tonumber(value)
    else
      s[field] = tonumber(value)
    end
  end
  return s, tickets
end
local function drop_tickets(tickets, keep)
  for seq, expiry in pairs(tickets) do
    if not keep(seq, expiry) then
      redis.call('HDEL', key, 't:' .. seq)
      tickets[seq] = nil
    end
  end
end
local function start_probe(s, tickets)
  s.anchor_seq, s.anchor_remaining = s.seq or 0, nil
  redis.call('HSET', key, 'anchor_seq', s.anchor_seq)
  redis.call('HDEL', key, 'anchor_remaining')
  drop_tickets(tickets, function() return false end)
end
local function capacity(limit, available, ratio)
  return math.max(1, ratio * (limit or available))
end
"""

# ARGV: now, initial_allowance, burst_ratio, safety_margin (-1: auto), reset_grace, ticket_ttl,
#       probe_ttl, key_ttl_ms.  Returns {0, seq} (granted) or {1|2, microseconds to wait}.
_ACQUIRE = (
    _PRELUDE
    + """
local now, allowance, ratio = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local margin_arg, grace = tonumber(ARGV[4]), tonumber(ARGV[5])
local ticket_ttl, probe_ttl, key_ttl = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local s, tickets = load()

local function grant(probing)
  local seq = (s.seq or 0) + 1
  local ttl = ticket_ttl
  if probing then ttl = probe_ttl end
  redis.call('HSET', key, 'seq', seq, 't:' .. seq, fmt(now + ttl))
  redis.call('PEXPIRE', key, key_ttl)
  return {0, seq}
end
local function wait(kind, seconds)
  return {kind, math.ceil(math.max(seconds, 0.001) * 1000000)}
end

drop_tickets(tickets, function(seq, expiry) return expiry > now end)
local count, earliest = 0, nil
for _, expiry in pairs(tickets) do
  count = count + 1
  if not earliest or expiry < earliest then earliest = expiry end
end
if now < (s.pause_until or 0) then return wait(1, s.pause_until - now) end
if s.unlimited == 1 then return grant(false) end
if s.anchor_remaining and s.reset_at and now >= s.reset_at + grace then
  start_probe(s, tickets)
  count, earliest = 0, nil
end
if not s.anchor_remaining then
  if count < allowance then return grant(true) end
  return wait(2, earliest - now)
end
local margin = margin_arg
if margin < 0 then
  -- default_safety_margin(): 0.2% of the limit, at least 1, at most a tenth of it
  margin = 1
  if s.limit then
    margin = math.min(math.max(1, math.ceil(0.002 * s.limit)), math.floor(s.limit / 10))
  end
end
local available = s.anchor_remaining - count - margin
if available < 1 then
  if not s.reset_at then
    s.reset_at = now + 3600
    redis.call('HSET', key, 'reset_at', fmt(s.reset_at))
  end
  local delay = s.reset_at + grace - now
  if earliest and earliest - now < delay then return wait(2, earliest - now) end
  return wait(1, delay)
end
if not s.reset_at then return grant(false) end
local rate = available / math.max(s.reset_at - now, 0.001)
local tokens = s.tokens or 0
if s.tokens_at then tokens = tokens + math.max(now - s.tokens_at, 0) * rate end
tokens = math.min(capacity(s.limit, available, ratio), tokens)
if tokens >= 1 - 1e-9 then
  redis.call('HSET', key, 'tokens', fmt(tokens - 1), 'tokens_at', fmt(now))
  return grant(false)
end
redis.call('HSET', key, 'tokens', fmt(tokens), 'tokens_at', fmt(now))
return wait(1, (1 - tokens) / rate)
"""
)

# ARGV: now, seq ('' unknown), limit, remaining, reset_at, status, pause_until ('' none),
#       burst_ratio, key_ttl_ms.  An empty string stands for an absent header.
_OBSERVE = (
    _PRELUDE
    + """
local now, seq = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, remaining, reset_at = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local status, pause_until = tonumber(ARGV[6]), tonumber(ARGV[7])
local ratio, key_ttl = tonumber(ARGV[8]), tonumber(ARGV[9])
local s, tickets = load()

if not seq then
  -- an answer we cannot place: the oldest request in flight was answered first
  for t, _ in pairs(tickets) do
    if not seq or t < seq then seq = t end
  end
  seq = seq or s.seq or 0
end
redis.call('HDEL', key, 't:' .. seq)
tickets[seq] = nil
if not remaining then
  if s.learned ~= 1 and status >= 200 and status < 300 then
    redis.call('HSET', key, 'unlimited', 1)
  end
elseif seq > (s.anchor_seq or 0) then
  redis.call('HSET', key, 'learned', 1, 'unlimited', 0, 'anchor_seq', seq,
             'anchor_remaining', remaining)
  if limit then redis.call('HSET', key, 'limit', limit) end
  if reset_at then redis.call('HSET', key, 'reset_at', fmt(reset_at)) end
  if not s.anchor_remaining and not s.tokens_at then
    redis.call('HSET', key, 'tokens', fmt(capacity(limit or s.limit, remaining, ratio)),
               'tokens_at', fmt(now))
  end
  -- requests sent before this one reached the server before it: it counted them
  drop_tickets(tickets, function(t) return t > seq end)
end
if pause_until then
  if pause_until > (s.pause_until or 0) then
    redis.call('HSET', key, 'pause_until', fmt(pause_until))
  end
  start_probe(s, tickets)
end
redis.call('PEXPIRE', key, key_ttl)
return 1
"""
)


class RedisRateLimiter(RateLimiter):
    """One Outreach user's budget, shared through Redis by every process using that user.

    ``redis`` is a ``redis.asyncio.Redis`` client (left open by :meth:`aclose`) or a URL (the
    limiter then owns the client it makes). ``user`` names the Outreach user whose budget is
    shared (its id or email); the hash is ``<namespace>:<user>``. The other parameters mean what
    they mean for :class:`~outreach_async._ratelimit.AdaptiveRateLimiter`; ``poll_interval`` is
    how often a waiter looks again while an answer elsewhere in the fleet is awaited.
    ``fail_open`` and ``fallback`` say what happens while Redis cannot be reached (see the module
    docstring); the default fallback is an ``AdaptiveRateLimiter`` with the same settings.
    """

    def __init__(
        self,
        redis: Redis | str,
        user: str | int,
        *,
        namespace: str = "outreach:ratelimit",
        initial_allowance: int = 1,
        burst_ratio: float = 0.05,
        safety_margin: int | None = None,
        reset_grace: float = 0.5,
        ticket_ttl: float = 120.0,
        probe_ttl: float = 10.0,
        max_pause: float = MAX_RESET_AHEAD,
        poll_interval: float = 0.05,
        key_ttl: float = 2 * MAX_RESET_AHEAD,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        fail_open: bool = True,
        fallback: RateLimiter | None = None,
    ) -> None:
        if initial_allowance < 1:
            raise ValueError("initial_allowance must be at least 1")
        self._fail_open = fail_open
        self._fallback = fallback or AdaptiveRateLimiter(
            initial_allowance=initial_allowance,
            burst_ratio=burst_ratio,
            safety_margin=safety_margin,
            reset_grace=reset_grace,
            ticket_ttl=ticket_ttl,
            probe_ttl=probe_ttl,
            max_pause=max_pause,
            wall_clock=wall_clock,
            sleep=sleep,
            rng=rng,
        )
        self._outage = False
        self._fallback_used = False
        self.redis = _client(redis)
        self._owns_client = isinstance(redis, str)
        self.key = f"{namespace}:{user}"
        self._acquire_script = self.redis.register_script(_ACQUIRE)
        self._observe_script = self.redis.register_script(_OBSERVE)
        margin = -1 if safety_margin is None else safety_margin
        key_ttl_ms = int(key_ttl * 1000)
        self._acquire_args = [initial_allowance, burst_ratio, margin, reset_grace]
        self._acquire_args += [ticket_ttl, probe_ttl, key_ttl_ms]
        self._observe_tail = [burst_ratio, key_ttl_ms]
        self._max_pause, self._poll_interval = max_pause, poll_interval
        self._wall_clock, self._sleep = wall_clock, sleep
        self._rng = rng or random.Random()
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._book = TicketBook()

    def __repr__(self) -> str:
        return f"<RedisRateLimiter {self.key}>"

    async def acquire(self) -> None:
        """Wait until the fleet's budget allows one more request, then take a ticket for it.

        Only one task per process asks Redis at a time; the others queue behind it (FIFO).
        """
        try:
            await self._acquire_shared()
        except Exception as exc:
            if not self._fails_open_on(exc):
                raise
            self._fallback_used = True
            await self._fallback.acquire()
            return
        self._note_recovery()

    async def observe(self, info: RateLimitInfo, *, status: int, retry_after: float | None) -> None:
        """Teach the fleet from one answer; a 429 or a maintenance 503 pauses every worker."""
        seq = self._book.take_current()
        if seq is None and self._fallback_used:
            # this task's request was let through by the fallback: it learns from the answer
            await self._fallback.observe(info, status=status, retry_after=retry_after)
            return
        try:
            await self._observe_shared(seq, info, status, retry_after)
        except Exception as exc:
            if not self._fails_open_on(exc):
                raise
            await self._fallback.observe(info, status=status, retry_after=retry_after)
        self._changed.set()

    async def _acquire_shared(self) -> None:
        await self._release(self._book.take_current())
        async with self._lock:
            while True:
                self._changed.clear()
                for seq in self._book.take_abandoned():
                    await self._release(seq)
                args = [self._wall_clock(), *self._acquire_args]
                kind, value = await self._acquire_script(keys=[self.key], args=args)
                if int(kind) == _GRANTED:
                    break
                delay = int(value) / 1e6
                if int(kind) == _POLL:
                    delay = min(delay, self._poll_interval)
                await sleep_or_wake(self._sleep, self._changed, min(delay, MAX_WAIT_STEP))
        self._book.hold(int(value))

    async def _observe_shared(
        self, seq: int | None, info: RateLimitInfo, status: int, retry_after: float | None
    ) -> None:
        now = self._wall_clock()
        pause_until: float | None = None
        if pauses_everyone(status, retry_after):
            wait = pause_seconds(info, retry_after, now, self._max_pause)
            pause_until = now + retry_after_jitter(wait, self._rng)
        args = [now, _arg(seq), _arg(info.limit), _arg(info.remaining), _arg(info.reset_at)]
        args += [status, _arg(pause_until), *self._observe_tail]
        await self._observe_script(keys=[self.key], args=args)

    def _fails_open_on(self, exc: Exception) -> bool:
        """Whether ``exc`` is Redis being unreachable and we are to carry on without it."""
        from redis.exceptions import RedisError  # the client exists, so redis is installed

        if not self._fail_open or not isinstance(exc, RedisError | OSError):
            return False
        if not self._outage:
            self._outage = True
            logger.warning(
                "rate limiter: Redis unreachable (%s); %s falls back to its own limiter",
                type(exc).__name__,
                self.key,
            )
        return True

    def _note_recovery(self) -> None:
        if self._outage:
            self._outage = False
            logger.warning("rate limiter: Redis reachable again; %s is shared again", self.key)

    async def remaining_estimate(self) -> int | None:
        """Requests the server would still accept now, by the fleet's count; None if unknown."""
        state = await self.redis.hgetall(self.key)
        fields = {_text(k): _text(v) for k, v in state.items()}
        if "anchor_remaining" not in fields:
            return None
        now = self._wall_clock()
        live = [k for k, v in fields.items() if k.startswith("t:") and float(v) > now]
        return int(fields["anchor_remaining"]) - len(live)

    async def reset(self) -> None:
        """Forget everything learned about this user's budget (all workers start probing)."""
        await self.redis.delete(self.key)

    async def aclose(self) -> None:
        """Close the Redis client if this limiter made it from a URL."""
        if self._owns_client:
            await self.redis.aclose()

    async def release(self) -> None:
        """The request this task acquired for never reached the server: give its ticket back
        now (see :meth:`AdaptiveRateLimiter.release`)."""
        seq = self._book.take_current()
        if seq is None and self._fallback_used:
            release = getattr(self._fallback, "release", None)  # an optional method
            if callable(release):
                await release()
            return
        try:
            await self._release(seq)
        except Exception as exc:
            if not self._fails_open_on(exc):
                raise
        self._changed.set()

    async def _release(self, seq: int | None) -> None:
        if seq is not None:
            await self.redis.hdel(self.key, f"t:{seq}")


def _client(redis: Redis | str) -> Redis:
    if not isinstance(redis, str):
        return redis
    try:
        from redis.asyncio import Redis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "RedisRateLimiter needs the redis package: pip install 'outreach-async[redis]'"
        ) from exc
    return Redis.from_url(redis)


def _arg(value: float | int | None) -> Any:
    return "" if value is None else value


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
