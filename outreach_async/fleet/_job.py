"""The fleet's one job: sync one tenant x resource from its checkpoint. Engine-agnostic.

:func:`sync_tenant_resource` is a plain ``async def``: the Dramatiq adapter (:mod:`._dramatiq`)
calls it, and so can a Celery, arq or cron user. It

1. holds back a tenant whose credentials Outreach refused (status ``auth``) until they change;
2. takes the tenant x resource's :class:`~._lock.LeaseLock` (a run that finds another alive
   returns ``busy``: run it again later), so two runs never overlap;
3. runs the incremental export (:func:`~outreach_async.export.export_resource`) with its
   checkpoint in Redis (one prefix per tenant) and the tenant's own budget
   (:class:`~outreach_async.RedisRateLimiter` keyed by ``rate_limit_user``);
4. records what happened in the tenant x resource's status (:mod:`._status`).

A re-run is harmless: the export continues from its checkpoint, so each record lands in the
output once however often, or wherever, the job runs. Errors are recorded and returned, not
raised (``retrying`` when the caller says it will retry), except bugs, which are recorded and
raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import attrs

from outreach_async import (
    AuthenticationError,
    OutreachClient,
    OutreachError,
    RedisRateLimiter,
)
from outreach_async.export import ExportResult, RedisCheckpointStore, export_resource

from ._config import FleetConfig, Tenant
from ._lock import LOST, LeaseLock
from ._status import FleetKeys, StatusStore, SyncStatus

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["SyncOutcome", "redis_now", "sync_tenant_resource"]


@attrs.frozen
class SyncOutcome:
    """What one call of :func:`sync_tenant_resource` did."""

    tenant: str
    resource: str
    #: ``ok``, ``error``, ``retrying``, ``auth`` (refused or held back), or ``busy`` (another
    #: run of the same tenant x resource is in progress: nothing was done)
    state: str
    #: records this run wrote
    records: int = 0
    error: str | None = None


async def redis_now(redis: Redis) -> float:
    """Redis's clock, in epoch seconds: one clock for every machine of the fleet."""
    seconds, micros = await redis.time()
    return float(seconds) + micros / 1e6


async def sync_tenant_resource(
    config: FleetConfig,
    tenant: str,
    resource: str,
    redis: Redis,
    *,
    will_retry: bool = False,
    clock: Callable[[], Awaitable[float]] | None = None,
) -> SyncOutcome:
    """Sync ``resource`` of ``tenant`` once (see the module docstring).

    ``redis`` is the fleet's Redis (``config.redis``); ``will_retry`` says the caller retries a
    failed run (its status then reads ``retrying``, not ``error``); ``clock`` returns epoch
    seconds (default: Redis's clock). Raises :class:`~outreach_async.FleetConfigError` for an
    unknown tenant.
    """
    target = config.tenant(tenant)
    keys = FleetKeys(config.namespace)
    statuses = StatusStore(redis, keys)
    now = clock or (lambda: redis_now(redis))
    try:
        fingerprint = target.credential_fingerprint()
    except OutreachError as exc:  # token_env unset on this worker
        await redis.delete(keys.queued(tenant, resource))
        await _record_failure(statuses, target, resource, now, exc, will_retry)
        return SyncOutcome(tenant, resource, "retrying" if will_retry else "error", error=str(exc))
    current = await statuses.read(tenant, resource)
    if current.state == "auth" and current.credential == fingerprint:
        await redis.delete(keys.queued(tenant, resource))  # before the time: see below
        return await _held_back(statuses, current, now)
    lock = LeaseLock(redis, keys.lock(tenant, resource), lease=config.worker.lock_lease)
    if not await lock.acquire_unless_alive():
        return SyncOutcome(tenant, resource, "busy")
    # The queued marker goes before the start time is taken: an asker who saw the marker
    # (and so queued nothing) is answered by a run that starts after it asked.
    await redis.delete(keys.queued(tenant, resource))
    started = await now()
    await statuses.update(
        tenant, resource, state="running", started_at=started, worker=_this_worker()
    )
    try:
        ran = await lock.run(lambda: _export(config, target, resource, redis, keys))
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.shield(_interrupted(statuses, target, resource))
        raise
    except AuthenticationError as exc:
        await statuses.update(
            tenant,
            resource,
            state="auth",
            finished_at=await now(),
            last_error=_one_line(exc),
            credential=fingerprint,
        )
        return SyncOutcome(tenant, resource, "auth", error=_one_line(exc))
    except (OutreachError, OSError) as exc:
        await _record_failure(statuses, target, resource, now, exc, will_retry)
        state = "retrying" if will_retry else "error"
        return SyncOutcome(tenant, resource, state, error=_one_line(exc))
    except Exception as exc:  # a bug: recorded for `fleet status`, then raised
        await _record_failure(statuses, target, resource, now, exc, will_retry)
        raise
    if ran is LOST:
        lost = OSError("the run lost its lock (Redis unreachable or the worker stalled)")
        await _record_failure(statuses, target, resource, now, lost, will_retry)
        state = "retrying" if will_retry else "error"
        return SyncOutcome(tenant, resource, state, error=_one_line(lost))
    assert isinstance(ran, ExportResult)
    await statuses.update(
        tenant,
        resource,
        state="ok",
        finished_at=await now(),
        last_success=await now(),
        last_success_started=started,
        watermark=_watermark_text(ran.watermark),
        records=ran.exported,
        last_run_records=ran.records,
        last_error=None,
        credential=None,
    )
    return SyncOutcome(tenant, resource, "ok", records=ran.records)


async def _export(
    config: FleetConfig, target: Tenant, resource: str, redis: Redis, keys: FleetKeys
) -> ExportResult:
    limiter = RedisRateLimiter(redis, target.rate_limit_user)
    store = RedisCheckpointStore(redis, prefix=keys.checkpoints(target.name))
    output = target.output_for(resource)
    if target.is_database():
        # The sinks issue's database outputs plug in here (their checkpoint lives in the
        # database); until they land, a database URL is refused with the reason.
        raise OSError(f"tenant {target.name!r}: database outputs are not supported yet")
    await asyncio.to_thread(os.makedirs, os.path.dirname(output) or ".", exist_ok=True)
    token = target.access_token()
    if token is None:
        raise OSError(f"tenant {target.name!r}: OAuth tenants need the shared token store")
    async with OutreachClient(
        token,
        base_url=target.base_url,
        timeout=target.timeout,
        max_retries=target.max_retries,
        rate_limiter=limiter,
    ) as client:
        return await export_resource(
            client, resource, output, checkpoint=store, page_size=target.page_size
        )


async def _held_back(
    statuses: StatusStore, current: SyncStatus, now: Callable[[], Awaitable[float]]
) -> SyncOutcome:
    """A tenant whose credentials were refused and have not changed: no request is sent."""
    at = await now()
    await statuses.update(current.tenant, current.resource, started_at=at, finished_at=at)
    return SyncOutcome(current.tenant, current.resource, "auth", error=current.last_error)


async def _record_failure(
    statuses: StatusStore,
    target: Tenant,
    resource: str,
    now: Callable[[], Awaitable[float]],
    exc: BaseException,
    will_retry: bool,
) -> None:
    await statuses.update(
        target.name,
        resource,
        state="retrying" if will_retry else "error",
        finished_at=await now(),
        last_error=_one_line(exc),
    )


async def _interrupted(statuses: StatusStore, target: Tenant, resource: str) -> None:
    """A run cancelled (worker stopping, time limit): its job is delivered again, and resumes
    from its checkpoint. Not finished: no ``finished_at``."""
    await statuses.update(
        target.name, resource, state="retrying", last_error="interrupted (worker stopping)"
    )


def _this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _watermark_text(watermark: dt.datetime | int | None) -> str | None:
    if watermark is None:
        return None
    if isinstance(watermark, dt.datetime):
        return watermark.isoformat().replace("+00:00", "Z")
    return str(watermark)
