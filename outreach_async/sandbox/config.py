"""Everything a sandbox can be told, in one attrs class.

``Sandbox(seed=10_000)`` and ``Sandbox(config=SandboxConfig(seed=10_000))`` are the same thing:
:class:`~outreach_async.sandbox.Sandbox` takes these fields as keywords.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Literal

import attrs

from .churn import ChurnConfig, churn_config
from .faults import FaultConfig
from .ratelimit import RateLimitConfig
from .seed import SeedProfile

__all__ = ["SandboxConfig"]


@attrs.define(kw_only=True)
class SandboxConfig:
    """How a sandbox is built, seeded and run. Every field has a working default."""

    #: prospects to seed, with records of every other type around them in a mid-size org's
    #: proportions (:mod:`.seed`); ``SeedProfile.minimal`` for one or two of everything; None or
    #: 0: an empty organisation holding only the acting user, id 1, and that user's mailbox, id 1
    seed: int | SeedProfile | None = None
    #: the random seed of the seeded data; the same seed gives the same records
    random_seed: int = 0
    #: ``page[size]`` when a request names none (Outreach: 50; at most 1000 either way)
    default_page_size: int = attrs.field(default=50, validator=attrs.validators.in_(range(1, 1001)))
    rate_limit: RateLimitConfig = attrs.field(factory=RateLimitConfig)
    faults: FaultConfig = attrs.field(factory=FaultConfig)
    #: records changed while the sandbox serves: ``"100/s"``, updates per second, or a
    #: :class:`~outreach_async.sandbox.churn.ChurnConfig` (see :mod:`.churn`)
    churn: ChurnConfig = attrs.field(factory=ChurnConfig, converter=churn_config)
    #: access token lifetime of the OAuth token endpoint, seconds (Outreach: 2 h)
    token_lifetime: float = 7200.0
    #: one access-token mint per user per this many seconds, else 429 (Outreach: 60 s)
    mint_throttle: float = 60.0
    #: the body of a 401: Outreach's 2018 plain text, or the recent gateway JSON (facts §1.3)
    unauthorized_body: Literal["text", "gateway"] = "text"
    host: str = "127.0.0.1"
    #: 0 picks a free port
    port: int = 0
    #: wall clock in epoch seconds for tokens, rate-limit windows, faults and timestamps;
    #: tests replace it to move time without sleeping
    clock: Callable[[], float] = time.time
    #: how the faults' latency and slow answers wait; tests pass their clock's sleep with it
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    #: keep a log of every request in ``Sandbox.requests``
    record_requests: bool = True
