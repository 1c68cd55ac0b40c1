"""Fleets: many Outreach orgs synced by many worker processes, every record once.

- :mod:`._config`: ``fleet.toml`` parsed into typed values.
- :mod:`._job`: :func:`sync_tenant_resource`, the one job (any job engine can run it).
- :mod:`._lock`, :mod:`._status`: the per tenant x resource lock and status, in Redis.
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
from ._job import SyncOutcome, sync_tenant_resource
from ._status import StatusStore, SyncStatus, render_table

__all__ = [
    "FleetConfig",
    "FleetConfigError",
    "OAuthConfig",
    "StatusStore",
    "SyncOutcome",
    "SyncStatus",
    "Tenant",
    "WorkerConfig",
    "load_config",
    "parse_config",
    "parse_duration",
    "render_table",
    "sync_tenant_resource",
]
