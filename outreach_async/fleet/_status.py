"""What each tenant x resource last did, kept in Redis, and how ``fleet status`` shows it.

One hash per tenant x resource, ``<namespace>:status:<tenant>:<resource>``, written by the job
(:mod:`._job`) at each step. The states:

- ``never``: no run yet; ``queued``: a run was asked for and waits for a worker;
- ``running``; ``ok``: the last run finished;
- ``retrying``: the last run failed and the job engine will try again (with backoff);
- ``error``: the last run failed and no retry is left (the next scheduled run tries again);
- ``auth``: Outreach refused the tenant's credentials (401). Its runs are held back, without a
  request, until the credentials in the config change.

``lag`` is the time since the start of the last successful run: everything changed before that
is in the output.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "FINAL_STATES",
    "FleetKeys",
    "StatusStore",
    "SyncStatus",
    "render_table",
]

#: states after which a run is over (``fleet sync --wait`` stops waiting for it)
FINAL_STATES = frozenset({"ok", "error", "auth"})


@attrs.frozen
class FleetKeys:
    """The Redis keys of one fleet (its ``namespace``)."""

    namespace: str

    def status(self, tenant: str, resource: str) -> str:
        return f"{self.namespace}:status:{tenant}:{resource}"

    def lock(self, tenant: str, resource: str) -> str:
        return f"{self.namespace}:lock:{tenant}:{resource}"

    def queued(self, tenant: str, resource: str) -> str:
        return f"{self.namespace}:queued:{tenant}:{resource}"

    def schedule(self, tenant: str, resource: str) -> str:
        return f"{self.namespace}:next:{tenant}:{resource}"

    def checkpoints(self, tenant: str) -> str:
        """The prefix of a tenant's export checkpoints (one tenant's never meet another's)."""
        return f"{self.namespace}:checkpoint:{tenant}:"


@attrs.frozen
class SyncStatus:
    """One tenant x resource, as last recorded (epoch seconds for times)."""

    tenant: str
    resource: str
    state: str = "never"
    started_at: float | None = None
    finished_at: float | None = None
    #: when the last successful run finished, and when it started
    last_success: float | None = None
    last_success_started: float | None = None
    #: the export's watermark after the last success (an ISO time, or an id)
    watermark: str | None = None
    #: records written over every run, and by the last successful one
    records: int = 0
    last_run_records: int = 0
    last_error: str | None = None
    #: the credentials' fingerprint when Outreach refused them (state ``auth``)
    credential: str | None = None
    #: ``host:pid`` of the process that ran (or runs) the last run
    worker: str | None = None

    def lag(self, now: float) -> float | None:
        """Seconds since the start of the last successful run (None before any)."""
        if self.last_success_started is None:
            return None
        return max(0.0, now - self.last_success_started)

    def to_json(self, now: float) -> dict[str, Any]:
        fields = attrs.asdict(self)
        fields.pop("credential")
        fields["lag"] = self.lag(now)
        return fields


_FLOATS = ("started_at", "finished_at", "last_success", "last_success_started")
_INTS = ("records", "last_run_records")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(tenant: str, resource: str, raw: Mapping[Any, Any]) -> SyncStatus:
    text = {_text(key): _text(value) for key, value in raw.items()}
    values: dict[str, Any] = {}
    for name in attrs.fields_dict(SyncStatus):
        if name in text and name not in ("tenant", "resource"):
            value: Any = text[name]
            if name in _FLOATS:
                value = float(value)
            elif name in _INTS:
                value = int(value)
            values[name] = value
    return SyncStatus(tenant, resource, **values)


class StatusStore:
    """Reads and writes the status hashes of one fleet."""

    def __init__(self, redis: Redis, keys: FleetKeys) -> None:
        self.redis = redis
        self.keys = keys

    async def read(self, tenant: str, resource: str) -> SyncStatus:
        raw = await self.redis.hgetall(self.keys.status(tenant, resource))
        return _decode(tenant, resource, raw)

    async def read_all(self, targets: Iterable[tuple[str, str]]) -> list[SyncStatus]:
        chosen = list(targets)
        async with self.redis.pipeline(transaction=False) as pipe:
            for tenant, resource in chosen:
                pipe.hgetall(self.keys.status(tenant, resource))
            raws = await pipe.execute()
        return [_decode(t, r, raw) for (t, r), raw in zip(chosen, raws, strict=True)]

    async def update(self, tenant: str, resource: str, **fields: object) -> None:
        """Set fields (None deletes one)."""
        key = self.keys.status(tenant, resource)
        setting = {name: str(value) for name, value in fields.items() if value is not None}
        clearing = [name for name, value in fields.items() if value is None]
        async with self.redis.pipeline(transaction=True) as pipe:
            if setting:
                pipe.hset(key, mapping=setting)  # type: ignore[arg-type]
            if clearing:
                pipe.hdel(key, *clearing)
            await pipe.execute()


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _when(now: float, at: float | None) -> str:
    return "-" if at is None else f"{_ago(now - at)} ago"


def render_table(statuses: Sequence[SyncStatus], now: float | None = None) -> str:
    """The plain-text table of ``fleet status``: one line per tenant x resource."""
    now = time.time() if now is None else now
    header = ("TENANT", "RESOURCE", "STATE", "LAST SUCCESS", "WATERMARK", "RECORDS", "LAG", "ERROR")
    rows = [header]
    for s in statuses:
        rows.append(
            (
                s.tenant,
                s.resource,
                s.state,
                _when(now, s.last_success),
                s.watermark or "-",
                str(s.records),
                _ago(s.lag(now)),
                (s.last_error or "-")[:80],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    )
