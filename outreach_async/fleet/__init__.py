"""Fleets: many Outreach orgs synced by many worker processes, every record once.

- :mod:`._config`: ``fleet.toml`` parsed into typed values.
- :mod:`._job`: :func:`sync_tenant_resource`, the one job (any job engine can run it).
- :mod:`._lock`, :mod:`._status`: the per tenant x resource lock and status, in Redis.
- :mod:`._tokens`: a tenant's credentials in a job (OAuth tenants: one token set per tenant,
  shared by every worker through :class:`~outreach_async.RedisTokenStore`).
- :mod:`._dramatiq`: the Dramatiq adapter (workers, enqueueing, the self-kept schedule).
- :mod:`._wait`: waiting for asked-for syncs to end, with a deadline (``fleet sync --wait``).

Needs the ``fleet`` extra (``pip install 'outreach-async[fleet]'``): Dramatiq and redis-py.
"""

from __future__ import annotations

from ._config import (
    FleetConfig,
    FleetConfigError,
    OAuthConfig,
    Tenant,
    WorkerConfig,
    load_config,
    parse_config,
    parse_duration,
)
from ._dramatiq import ACTOR_NAME, FleetApp, Requested, build_broker
from ._job import JobClocks, SyncOutcome, redis_now, sync_tenant_resource
from ._status import FINAL_STATES, FleetKeys, StatusStore, SyncStatus, render_table
from ._wait import WaitOutcome, wait_for_syncs

__all__ = [
    "ACTOR_NAME",
    "FINAL_STATES",
    "FleetApp",
    "FleetKeys",
    "FleetConfig",
    "FleetConfigError",
    "JobClocks",
    "OAuthConfig",
    "Requested",
    "StatusStore",
    "SyncOutcome",
    "SyncStatus",
    "Tenant",
    "WaitOutcome",
    "WorkerConfig",
    "build_broker",
    "load_config",
    "parse_config",
    "parse_duration",
    "redis_now",
    "render_table",
    "sync_tenant_resource",
    "wait_for_syncs",
]
