"""The fleet's one job: sync one tenant x resource from its checkpoint. Engine-agnostic.

:func:`sync_tenant_resource` is a plain ``async def``: the Dramatiq adapter (:mod:`._dramatiq`)
calls it, and so can a Celery, arq or cron user. It

1. holds back a tenant whose credentials Outreach refused (status ``auth``) until they change;
2. takes the tenant x resource's :class:`~._lock.LeaseLock` (a run that finds another alive
   returns ``busy``: run it again later), so two runs never overlap;
3. authenticates with the tenant's token, or its OAuth tokens shared by the fleet in Redis
   (:mod:`._tokens`), and runs the incremental export
   (:func:`~outreach_async.export.export_resource`) with its checkpoint in Redis (one prefix per
   tenant) and the tenant's own budget (:class:`~outreach_async.RedisRateLimiter` keyed by
   ``rate_limit_user``);
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
import random
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import attrs

from outreach_async import (
    AuthenticationError,
    OutreachClient,
    OutreachError,
    RedisRateLimiter,
)
from outreach_async._transport import Timer
from outreach_async.export import ExportResult, RedisCheckpointStore, export_resource
from outreach_async.sinks import open_sink

from ._config import FleetConfig, Tenant
from ._lock import LOST, LeaseLock
from ._status import FleetKeys, StatusStore, SyncStatus
from ._tokens import tenant_credentials

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["JobClocks", "SyncOutcome", "redis_now", "sync_tenant_resource"]


@attrs.frozen
class JobClocks:
    """What a job's client, budget (its :class:`~outreach_async.RedisRateLimiter`) and export
    tell time and wait with: real time by default. Tests pass virtual clocks, so a budget's
    windows pass without waiting."""

    #: epoch seconds, compared with the server's ``X-RateLimit-Reset``
    wall_clock: Callable[[], float] = time.time
    #: for durations (retries, the export's commit interval)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    #: bounds one request (the client's ``timer``)
    timer: Timer = asyncio.timeout
    #: jitter of retries and pauses (None: a fresh ``random.Random``)
    rng: random.Random | None = None
    #: an OAuth tenant's token clock, epoch seconds: when its access token expires, see
    #: :mod:`._tokens` (None: ``wall_clock``)
    tokens: Callable[[], float] | None = None

    def token_clock(self) -> Callable[[], float]:
        """The clock an OAuth tenant's tokens expire on: ``tokens``, else ``wall_clock``."""
        return self.tokens or self.wall_clock


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
    clocks: JobClocks | None = None,
) -> SyncOutcome:
    """Sync ``resource`` of ``tenant`` once (see the module docstring).

    ``redis`` is the fleet's Redis (``config.redis``); ``will_retry`` says the caller retries a
    failed run (its status then reads ``retrying``, not ``error``); ``clock`` returns epoch
    seconds for the status (default: Redis's clock); ``clocks`` what the client, the budget,
    the export and an OAuth tenant's tokens run on (default: real time). Raises
    :class:`~outreach_async.FleetConfigError` for an unknown tenant.
    """
    target = config.tenant(tenant)
    run = _Run(config, target, resource, redis, will_retry, clock, clocks or JobClocks())
    return await run.perform()


class _Run:
    """One call of :func:`sync_tenant_resource`: its steps share these."""

    def __init__(
        self,
        config: FleetConfig,
        target: Tenant,
        resource: str,
        redis: Redis,
        will_retry: bool,
        clock: Callable[[], Awaitable[float]] | None,
        clocks: JobClocks,
    ) -> None:
        self.config, self.target, self.resource, self.redis = config, target, resource, redis
        self.clocks = clocks
        self.keys = FleetKeys(config.namespace)
        self.statuses = StatusStore(redis, self.keys)
        self.now = clock or (lambda: redis_now(redis))
        #: the state of a failed run: the caller tries again, or not
        self.failed = "retrying" if will_retry else "error"

    async def perform(self) -> SyncOutcome:
        try:
            fingerprint = self.target.credential_fingerprint()
        except OutreachError as exc:  # token_env unset on this worker
            await self._unmark()
            return await self._failure(exc)
        current = await self.statuses.read(self.target.name, self.resource)
        if current.state == "auth" and current.credential == fingerprint:
            await self._unmark()
            return await self._held_back(current)
        lock = LeaseLock(self.redis, self._key(self.keys.lock), lease=self.config.worker.lock_lease)
        if not await lock.acquire_unless_alive():
            return self._outcome("busy")
        await self._unmark()
        return await self._locked(lock, fingerprint)

    async def _locked(self, lock: LeaseLock, fingerprint: str) -> SyncOutcome:
        started = await self.now()
        await self._update(state="running", started_at=started, worker=_this_worker())
        try:
            ran = await lock.run(self._export)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._update(state="retrying", last_error=_INTERRUPTED))
            raise
        except AuthenticationError as exc:
            error = _one_line(exc)
            await self._update(
                state="auth", finished_at=await self.now(), last_error=error, credential=fingerprint
            )
            return self._outcome("auth", error=error)
        except (OutreachError, OSError) as exc:
            return await self._failure(exc)
        except Exception as exc:  # a bug: recorded for `fleet status`, then raised
            await self._failure(exc)
            raise
        if ran is LOST:
            return await self._failure(OSError(_LOST))
        assert isinstance(ran, ExportResult)
        return await self._success(ran, started)

    async def _export(self) -> ExportResult:
        target = self.target
        credentials = await tenant_credentials(
            self.redis, self.config.namespace, target, clock=self.clocks.token_clock()
        )
        async with OutreachClient(
            credentials,
            base_url=target.base_url,
            timeout=target.timeout,
            max_retries=target.max_retries,
            rate_limiter=self._budget(),
            sleep=self.clocks.sleep,
            clock=self.clocks.monotonic,
            wall_clock=self.clocks.wall_clock,
            timer=self.clocks.timer,
            rng=self.clocks.rng,
        ) as client:
            if target.is_database():
                return await self._export_to_database(client)
            return await self._export_to_file(client)

    def _budget(self) -> RedisRateLimiter:
        """The tenant's budget: the one of its ``rate_limit_user``, shared by every tenant and
        worker that names the same user."""
        return RedisRateLimiter(
            self.redis,
            self.target.rate_limit_user,
            wall_clock=self.clocks.wall_clock,
            sleep=self.clocks.sleep,
            rng=self.clocks.rng,
        )

    async def _export_to_file(self, client: OutreachClient) -> ExportResult:
        """JSON Lines, with the checkpoint in Redis under the tenant's own prefix."""
        output = self.target.output_for(self.resource)
        await asyncio.to_thread(os.makedirs, os.path.dirname(output) or ".", exist_ok=True)
        store = RedisCheckpointStore(self.redis, prefix=self.keys.checkpoints(self.target.name))
        return await export_resource(
            client,
            self.resource,
            output,
            checkpoint=store,
            page_size=self.target.page_size,
            clock=self.clocks.monotonic,
        )

    async def _export_to_database(self, client: OutreachClient) -> ExportResult:
        """A database sink keeps the checkpoint with the rows, in one transaction."""
        async with open_sink(self.target.output_for(self.resource), self.resource) as sink:
            return await export_resource(
                client,
                self.resource,
                sink,
                page_size=self.target.page_size,
                clock=self.clocks.monotonic,
            )

    async def _success(self, ran: ExportResult, started: float) -> SyncOutcome:
        finished = await self.now()
        await self._update(
            state="ok",
            finished_at=finished,
            last_success=finished,
            last_success_started=started,
            watermark=_watermark_text(ran.watermark),
            records=ran.exported,
            last_run_records=ran.records,
            last_error=None,
            credential=None,
        )
        return self._outcome("ok", records=ran.records)

    async def _held_back(self, current: SyncStatus) -> SyncOutcome:
        """Credentials refused before and unchanged since: no request is sent."""
        at = await self.now()
        await self._update(started_at=at, finished_at=at)
        return self._outcome("auth", error=current.last_error)

    async def _failure(self, exc: BaseException) -> SyncOutcome:
        error = _one_line(exc)
        await self._update(state=self.failed, finished_at=await self.now(), last_error=error)
        return self._outcome(self.failed, error=error)

    async def _unmark(self) -> None:
        """Drop the queued marker, *before* the run takes its start time: an asker who saw the
        marker (and so queued nothing) is answered by a run that starts after it asked."""
        await self.redis.delete(self._key(self.keys.queued))

    def _key(self, kind: Callable[[str, str], str]) -> str:
        return kind(self.target.name, self.resource)

    async def _update(self, **fields: object) -> None:
        await self.statuses.update(self.target.name, self.resource, **fields)

    def _outcome(self, state: str, *, records: int = 0, error: str | None = None) -> SyncOutcome:
        return SyncOutcome(self.target.name, self.resource, state, records=records, error=error)


_INTERRUPTED = "interrupted (worker stopping); the run resumes from its checkpoint"
_LOST = "the run lost its lock (Redis unreachable or the worker stalled)"


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
