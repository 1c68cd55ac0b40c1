"""Shared test configuration."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Property tests run on a 2-core CI machine next to loopback servers: no deadline flakiness.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=50
)
settings.load_profile("default")
