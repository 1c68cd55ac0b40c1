"""Fleets: many Outreach orgs synced by many worker processes, every record once.

- :mod:`._config`: ``fleet.toml`` parsed into typed values.
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

__all__ = [
    "FleetConfig",
    "FleetConfigError",
    "OAuthConfig",
    "Tenant",
    "WorkerConfig",
    "load_config",
    "parse_config",
    "parse_duration",
]
