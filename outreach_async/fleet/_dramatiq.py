"""The Dramatiq adapter: worker processes, enqueueing, and a schedule that keeps itself going.

Dramatiq's Redis broker gives the fleet at-least-once delivery with late acks: a message is
acknowledged only when its job returns, and the messages of a worker that stops sending
heartbeats (SIGKILL, a lost machine) go back to the queue once ``heartbeat_timeout`` passes.
That, plus a job that resumes from its checkpoint, is "exactly once per record". The
``AsyncIO`` middleware runs the ``async def`` actor on one event loop per worker process.

- **Messages.** One actor, ``outreach_async_fleet_sync(tenant, resource, schedule=None)``. A run
  asked for now (``fleet sync``) carries no ``schedule``; a scheduled run carries its id.
- **Schedule.** A run that ends (``ok``, ``error`` or ``auth``) enqueues the next run of its
  tenant x resource with ``delay=every`` and records that run's id as the one live schedule
  (``<namespace>:next:<tenant>:<resource>``); a scheduled message whose id is not the live one
  was superseded and does nothing. So however many runs are asked for, one chain remains.
- **Busy.** A run asked for while another runs (found by the job's lock) is sent again after
  one lease, so it is never lost; a scheduled one is dropped (the running one schedules).
- **Retries.** A failed run (network, 5xx, 429 after the client's retries) is retried by
  Dramatiq's ``Retries`` middleware with exponential backoff, ``max_retries`` times.
- **Dead workers.** The broker re-queues a dead worker's messages during its *maintenance*,
  which stock Dramatiq runs on a random fraction of its Redis commands; here it runs on a clock
  (every quarter of ``heartbeat_timeout``), so the hand-over time is bounded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq.brokers.redis import MAINTENANCE_COMMAND_BLACKLIST, RedisBroker
from dramatiq.middleware import AsyncIO, CurrentMessage

from outreach_async._exceptions import OutreachError

from ._config import FleetConfig, load_config
from ._job import SyncOutcome, redis_now, sync_tenant_resource
from ._status import FleetKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["ACTOR_NAME", "FleetApp", "Requested"]

logger = logging.getLogger("outreach_async.fleet")

ACTOR_NAME = "outreach_async_fleet_sync"
#: how long a "queued" marker outlives a message that never ran (a flushed queue): after it,
#: ``fleet sync`` enqueues again (harmless: a run resumes from its checkpoint)
QUEUED_TTL = 3600


class _ClockedMaintenanceBroker(RedisBroker):
    """Dramatiq's Redis broker, with its maintenance (re-queueing the messages of dead
    workers) run every ``maintenance_interval`` seconds instead of by chance."""

    def __init__(self, *, maintenance_interval: float, **options: Any) -> None:
        super().__init__(**options)  # type: ignore[no-untyped-call]
        self._maintenance_interval = maintenance_interval
        self._maintenance_lock = threading.Lock()
        self._last_maintenance = 0.0

    def _should_do_maintenance(self, command: str) -> int:
        if command in MAINTENANCE_COMMAND_BLACKLIST:
            return 0
        with self._maintenance_lock:
            now = time.monotonic()
            if now - self._last_maintenance < self._maintenance_interval:
                return 0
            self._last_maintenance = now
            return 1


def build_broker(config: FleetConfig) -> RedisBroker:
    """The fleet's broker: Redis, its heartbeat timeout, the AsyncIO middleware."""
    heartbeat = config.worker.heartbeat_timeout
    broker = _ClockedMaintenanceBroker(
        url=config.redis,
        namespace=f"{config.namespace}:dramatiq",
        heartbeat_timeout=int(heartbeat * 1000),
        maintenance_interval=max(0.05, heartbeat / 4),
    )
    broker.add_middleware(AsyncIO())
    broker.add_middleware(CurrentMessage())
    return broker


class Requested:
    """What ``fleet sync`` asked for: the Redis time it asked at, and per target whether a
    message was sent (False: one was queued already)."""

    def __init__(self, asked_at: float, sent: dict[tuple[str, str], bool]) -> None:
        self.asked_at = asked_at
        self.sent = sent


class FleetApp:
    """The fleet's broker and actor, for a worker process or for enqueueing.

    ``config_path``, when given, is read again before each job, so a changed token (or a fixed
    ``token_env``) takes effect without restarting workers; a file that no longer parses is
    logged and the last good configuration kept.
    """

    def __init__(self, config: FleetConfig, *, config_path: str | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.keys = FleetKeys(config.namespace)
        self.broker = build_broker(config)
        worker = config.worker
        declare = dramatiq.actor(
            broker=self.broker,
            actor_name=ACTOR_NAME,
            queue_name=worker.queue,
            max_retries=worker.max_retries,
            min_backoff=int(worker.retry_backoff * 1000),
            max_backoff=int(worker.retry_backoff * 1000 * 2**worker.max_retries),
            time_limit=int(worker.time_limit * 1000),
        )
        self.actor: dramatiq.Actor[Any, Any] = declare(self._perform)
        self._redis: Redis | None = None

    # -------------------------------------------------------------- enqueueing

    def send(
        self, tenant: str, resource: str, *, schedule: str | None = None, delay: float | None = None
    ) -> None:
        """Enqueue one run (blocking: a Redis round trip)."""
        self.actor.send_with_options(
            args=(tenant, resource),
            kwargs={"schedule": schedule},
            delay=None if delay is None else int(delay * 1000),
        )

    async def request(self, redis: Redis, tenant: str | None = None) -> Requested:
        """``fleet sync``: enqueue a run of every tenant x resource (or one tenant's) that has
        none queued yet. Raises :class:`~outreach_async.FleetConfigError` for an unknown
        tenant."""
        targets = self.config.targets(tenant)
        asked_at = await redis_now(redis)
        sent: dict[tuple[str, str], bool] = {}
        for name, resource in targets:
            marker = self.keys.queued(name, resource)
            fresh = await redis.set(marker, str(asked_at), nx=True, ex=QUEUED_TTL)
            if fresh:
                await asyncio.to_thread(self.send, name, resource)
            sent[(name, resource)] = bool(fresh)
        return Requested(asked_at, sent)

    # -------------------------------------------------------------- the actor

    def _current_config(self) -> FleetConfig:
        if self.config_path is None:
            return self.config
        try:
            self.config = load_config(self.config_path)
        except OutreachError as exc:
            logger.warning("fleet: keeping the last good configuration: %s", exc)
        return self.config

    def _redis_client(self) -> Redis:
        """One asyncio Redis client per worker process (its jobs share one event loop)."""
        if self._redis is None:
            from redis.asyncio import Redis

            self._redis = Redis.from_url(self.config.redis)
        return self._redis

    async def _perform(self, tenant: str, resource: str, schedule: str | None = None) -> None:
        config = self._current_config()
        if tenant not in config.tenants:  # removed from the config since it was queued
            logger.warning("fleet: dropping a sync of %s %s: no such tenant now", tenant, resource)
            return
        redis = self._redis_client()
        if schedule is not None and not await self._is_live(redis, tenant, resource, schedule):
            return  # superseded by a later run's schedule
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message is not None else 0
        will_retry = retries < config.worker.max_retries
        outcome = await sync_tenant_resource(config, tenant, resource, redis, will_retry=will_retry)
        logger.info("fleet: %s %s: %s", tenant, resource, outcome.state)
        await self._after(config, redis, outcome, schedule)

    async def _is_live(self, redis: Redis, tenant: str, resource: str, schedule: str) -> bool:
        live = await redis.get(self.keys.schedule(tenant, resource))
        return live == schedule.encode()

    async def _after(
        self, config: FleetConfig, redis: Redis, outcome: SyncOutcome, schedule: str | None
    ) -> None:
        tenant, resource = outcome.tenant, outcome.resource
        if outcome.state == "busy":
            if schedule is None:  # asked for: run it once the current run is over
                await asyncio.to_thread(self.send, tenant, resource, delay=config.worker.lock_lease)
            return
        if outcome.state == "retrying":
            raise dramatiq.Retry(f"{tenant} {resource}: {outcome.error}")
        following = uuid.uuid4().hex
        await redis.set(self.keys.schedule(tenant, resource), following)
        every = config.tenant(tenant).every
        await asyncio.to_thread(self.send, tenant, resource, schedule=following, delay=every)

    # -------------------------------------------------------------- the worker

    def run_worker(self, stop: threading.Event, *, threads: int | None = None) -> None:
        """Run a Dramatiq worker until ``stop`` is set, then stop it: running jobs get
        ``stop_timeout`` to finish; messages not started go back to the queue."""
        worker = dramatiq.Worker(
            self.broker, worker_threads=threads or self.config.worker.threads, worker_timeout=200
        )
        worker.start()
        logger.info("fleet worker %s started (pid %d)", self.broker.broker_id, os.getpid())
        try:
            stop.wait()
        finally:
            worker.stop(timeout=int(self.config.worker.stop_timeout * 1000))
            self.broker.close()

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
