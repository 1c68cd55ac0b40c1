"""Churn: a sandbox that changes while it is read, as a live Outreach organisation does.

Reps log calls, sequences advance and integrations write, so a large export always runs
against records that change under it; in a listing sorted by ``updatedAt`` a changed record
jumps to the end. ``SandboxConfig(churn="100/s")`` (``sandbox serve --churn 100/s``) updates
random records at that steady rate: each update changes one attribute (``custom1`` where the
type has it) to a new value, which bumps ``updatedAt`` as every real change does.

Time is the sandbox's clock, not a timer: before each request is handled, the updates due by
now (``rate x seconds since start``) are applied. A test that injects a clock drives the churn
with it and never waits; with the same clock readings and ``random_seed`` the same records
change in the same order. Churned changes are stored directly: they send no webhooks.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

if TYPE_CHECKING:
    from .store import Store, Table

__all__ = ["Churn", "ChurnConfig", "churn_config", "churn_middleware"]

_SPEC = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(ms|s|m|h)\s*(?::\s*([\w,\s]+))?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
#: the attribute a churned update changes, the first of these the type has
_STAMPED = ("custom1", "name", "title", "subject")
#: at most this many updates are applied at once; a longer backlog (a server idle for hours
#: between requests) is skipped, as later changes would hide most of it anyway
MAX_BACKLOG = 10_000
_PICK_TRIES = 8


@attrs.define(kw_only=True)
class ChurnConfig:
    """How fast the sandbox changes its records while it serves (0: never)."""

    #: updates per second of the sandbox's clock
    rate: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    #: the resource types whose records change, picked in turn
    types: tuple[str, ...] = ("prospect",)
    #: the same seed picks the same records in the same order
    random_seed: int = 0

    @classmethod
    def from_spec(cls, text: str) -> ChurnConfig:
        """``100/s``, ``6000/m``, ``100/s:prospect,account`` or ``off``; ValueError otherwise."""
        if text.strip().lower() in ("", "off", "0"):
            return cls()
        match = _SPEC.match(text)
        if match is None:
            raise ValueError(
                f"{text!r} is not a churn rate (such as 100/s, 6000/m or 100/s:prospect,account)"
            )
        rate = float(match.group(1)) / _UNIT_SECONDS[match.group(2)]
        names = match.group(3)
        types = tuple(t.strip() for t in names.split(",") if t.strip()) if names else ("prospect",)
        return cls(rate=rate, types=types)


def churn_config(value: ChurnConfig | str | float | None) -> ChurnConfig:
    """What ``SandboxConfig(churn=...)`` accepts: a config, a spec (``"100/s"``), updates per
    second, or None (no churn)."""
    if value is None:
        return ChurnConfig()
    if isinstance(value, ChurnConfig):
        return value
    if isinstance(value, str):
        return ChurnConfig.from_spec(value)
    return ChurnConfig(rate=float(value))


class Churn:
    """Applies a :class:`ChurnConfig` to a store as the clock moves (see the module docstring)."""

    def __init__(self, config: ChurnConfig, store: Store, clock: Callable[[], float]) -> None:
        unknown = [t for t in config.types if t not in store.tables]
        if unknown:
            raise ValueError(f"churn: the sandbox has no resource type {', '.join(unknown)}")
        self.config = config
        self.store = store
        self.clock = clock
        self.started: float | None = None
        #: updates applied (or skipped as backlog) so far: the index of the next one
        self.applied = 0
        #: updates actually stored
        self.updates = 0

    def start(self) -> None:
        """Start counting time (the sandbox does this once it is seeded)."""
        if self.started is None:
            self.started = self.clock()

    def due(self) -> int:
        """How many updates the rate asks for by now."""
        if self.started is None or not self.config.rate:
            return 0
        return int(max(0.0, self.clock() - self.started) * self.config.rate)

    def catch_up(self) -> int:
        """Apply every update due by now; returns how many were stored."""
        due = self.due()
        self.applied = max(self.applied, due - MAX_BACKLOG)
        stored = 0
        while self.applied < due:
            stored += self._update(self.applied)
            self.applied += 1
        self.updates += stored
        return stored

    def _update(self, index: int) -> int:
        # Each update draws from its own seeded generator: which record the n-th update picks
        # does not depend on how the updates were batched into catch-ups.
        rng = random.Random(self.config.random_seed * 1_000_003 + index)
        type_ = self.config.types[index % len(self.config.types)]
        table = self.store.table(type_)
        id_ = _pick(table, rng)
        stamped = next((w for w in _STAMPED if w in table.spec.attribute_by_wire), None)
        if id_ is None or stamped is None:
            return 0
        self.store.update(type_, id_, {stamped: f"churn {index}"})
        return 1


def _pick(table: Table, rng: random.Random) -> int | None:
    """A random existing id (ids are dense; a few tries step over deleted ones)."""
    if not table.records:
        return None
    for _ in range(_PICK_TRIES):
        candidate = rng.randrange(1, table.next_id)
        if candidate in table.records:
            return candidate
    return None


def churn_middleware(churn: Churn) -> Middleware:
    """Apply the updates due before each request is handled."""

    @web.middleware
    async def apply_churn(request: web.Request, handler: Handler) -> web.StreamResponse:
        churn.catch_up()
        return await handler(request)

    return apply_churn
