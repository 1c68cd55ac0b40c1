"""A local Outreach API v2 on loopback, for demos, tests and benchmarks.

.. code-block:: python

    from outreach_async.sandbox import Sandbox

    async with Sandbox(seed=10_000) as sandbox:
        ...  # sandbox.base_url, sandbox.token, sandbox.store, sandbox.requests

It behaves as ``outreach-api-facts.md`` describes Outreach: cursor pagination with absolute links,
legacy and new filter syntax, sorts, includes, sparse fieldsets, writes with Outreach's errors,
member actions with their state rules, OAuth, the per-user rate limit, webhooks and faults.
"""

from .app import RecordedRequest
from .churn import ChurnConfig
from .config import SandboxConfig
from .faults import FaultConfig
from .ratelimit import RateLimitConfig
from .seed import SeedProfile
from .server import Sandbox
from .store import Store

__all__ = [
    "ChurnConfig",
    "FaultConfig",
    "RateLimitConfig",
    "RecordedRequest",
    "Sandbox",
    "SandboxConfig",
    "SeedProfile",
    "Store",
]
