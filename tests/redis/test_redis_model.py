"""The Lua scripts decide exactly as the in-process budget model does.

``RedisRateLimiter`` keeps its state in Redis and decides in Lua; ``AdaptiveRateLimiter`` keeps
it in a Python ``_Budget``. Both are meant to be one design: random sequences of requests,
answers (with 429s, maintenance pauses, missing headers), lost requests and passing time are fed
to both, and every decision (go now, or wait how long) and every estimate must agree.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from redis.asyncio import Redis

from outreach_async._ratelimit import RateLimitInfo, _Budget
from outreach_async._redis_ratelimit import _ACQUIRE, _GRANTED, _OBSERVE
from tests.clock import WALL_EPOCH

pytestmark = pytest.mark.redis

CONFIG: dict[str, Any] = {
    "initial_allowance": 2,
    "burst_ratio": 0.05,
    "safety_margin": None,
    "reset_grace": 0.5,
    "ticket_ttl": 20.0,
    "probe_ttl": 5.0,
}
KEY_TTL_MS = 60_000


class LuaBudget:
    """The Redis side, called the way RedisRateLimiter calls it."""

    def __init__(self, client: Redis, key: str) -> None:
        self.client, self.key = client, key
        self.acquire_script = client.register_script(_ACQUIRE)
        self.observe_script = client.register_script(_OBSERVE)

    async def acquire(self, now: float) -> tuple[bool, float]:
        margin = -1 if CONFIG["safety_margin"] is None else CONFIG["safety_margin"]
        args = [now, CONFIG["initial_allowance"], CONFIG["burst_ratio"], margin]
        args += [CONFIG["reset_grace"], CONFIG["ticket_ttl"], CONFIG["probe_ttl"], KEY_TTL_MS]
        kind, value = await self.acquire_script(keys=[self.key], args=args)
        if int(kind) == _GRANTED:
            return True, float(value)
        return False, int(value) / 1e6

    async def observe(
        self, now: float, seq: int, info: RateLimitInfo, status: int, pause: float | None
    ) -> None:
        def arg(value: float | None) -> Any:
            return "" if value is None else value

        args = [now, seq, arg(info.limit), arg(info.remaining), arg(info.reset_at), status]
        args += [arg(pause), CONFIG["burst_ratio"], KEY_TTL_MS]
        await self.observe_script(keys=[self.key], args=args)

    async def release(self, seq: int) -> None:
        await self.client.hdel(self.key, f"t:{seq}")

    async def estimate(self, now: float) -> int | None:
        state = await self.client.hgetall(self.key)
        raw = {_text(k): _text(v) for k, v in state.items()}
        if "anchor_remaining" not in raw:
            return None
        live = [k for k, v in raw.items() if k.startswith("t:") and float(v) > now]
        return int(raw["anchor_remaining"]) - len(live)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def random_answer(rng: random.Random, now: float) -> tuple[RateLimitInfo, int, float | None]:
    status = rng.choice([200, 200, 200, 200, 201, 204, 429, 503, 502])
    if rng.random() < 0.15:
        info = RateLimitInfo()
    else:
        remaining = max(0, int(rng.gauss(60, 40)))
        reset = None if rng.random() < 0.1 else now + rng.choice([0.5, 3.0, 30.0, 120.0])
        info = RateLimitInfo(rng.choice([100, 1000, 10, 5, None]), remaining, reset)
    pause = None
    if status == 429 or (status == 503 and rng.random() < 0.5):
        pause = now + rng.uniform(0.0, 8.0)
    return info, status, pause


async def test_lua_and_python_agree_on_random_histories(redis_client: Redis, user: str) -> None:
    steps = 0
    for history in range(60):
        rng = random.Random(history)
        key = f"outreach:ratelimit:{user}:{history}"
        lua, model = LuaBudget(redis_client, key), _Budget(**CONFIG)
        now = WALL_EPOCH
        outstanding: list[int] = []
        for _ in range(60):
            steps += 1
            action = rng.random()
            if action < 0.45:
                granted, delay = await lua.acquire(now)
                expected = model.next_delay(now, now)
                context = f"history {history}, step {steps}: {model}"
                assert granted == (expected <= 0.0), context
                if granted:
                    assert int(delay) == model.take(now), context
                    outstanding.append(int(delay))
                else:
                    assert delay == pytest.approx(max(expected, 1e-3), abs=2e-6), context
                assert await lua.estimate(now) == model.estimate(), context
            elif action < 0.75 and outstanding:
                seq = outstanding.pop(rng.randrange(len(outstanding)))
                info, status, pause = random_answer(rng, now)
                await lua.observe(now, seq, info, status, pause)
                model.learn(seq, info, status, now)
                if pause is not None:
                    model.pause(pause)
            elif action < 0.8 and outstanding:
                seq = outstanding.pop(rng.randrange(len(outstanding)))
                await lua.release(seq)
                model.release(seq)
            else:
                now += rng.choice([0.001, 0.05, 0.3, 1.0, 4.0, 25.0])
        await redis_client.delete(key)
    assert steps == 60 * 60
