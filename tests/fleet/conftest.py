"""Fixtures of the fleet tests: a fresh fleet namespace per test and ``fleet.toml`` files for
sandboxes (the Redis client, ``redis_client``, is the root conftest's)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from outreach_async.fleet import OAuthConfig

#: a tenant of :func:`fleet_toml`: its name, base URL, and static token or OAuth table
TenantSpec = tuple[str, str, str | OAuthConfig]


@pytest.fixture
def namespace() -> str:
    """A fleet namespace (and Dramatiq queue) of this test's own."""
    return f"test-fleet-{uuid.uuid4().hex[:12]}"


def fleet_toml(
    redis_url: str,
    namespace: str,
    out_dir: Path,
    tenants: Sequence[TenantSpec],
    *,
    resources: Sequence[str] = ("prospects", "accounts"),
    worker: str = "",
    extra: str = "",
    every: str = "1h",
    out: str | None = None,
) -> str:
    """A fleet.toml for ``(name, base_url, token or oauth)`` tenants, each with its own budget
    user; ``out`` (default: JSON Lines in ``out_dir``) is every tenant's output."""
    if out is None:
        out = f"{out_dir}/{{tenant}}/{{resource}}.jsonl"
    lines = [
        f'redis = "{redis_url}"',
        f'namespace = "{namespace}"',
        "[defaults]",
        f"resources = {list(resources)!r}".replace("'", '"'),
        f'every = "{every}"',
        f'out = "{out}"',
        "max_retries = 1",
        extra,
        "[worker]",
        f'queue = "{namespace}"',
        worker,
    ]
    for name, base_url, token in tenants:
        lines += [
            f"[tenants.{name}]",
            f'base_url = "{base_url}"',
            f'rate_limit_user = "{namespace}-{name}"',
        ]
        lines += [f'token = "{token}"'] if isinstance(token, str) else _oauth_table(name, token)
    return "\n".join(lines) + "\n"


def _oauth_table(tenant: str, oauth: OAuthConfig) -> list[str]:
    return [
        f"[tenants.{tenant}.oauth]",
        f'client_id = "{oauth.client_id}"',
        f'client_secret = "{oauth.client_secret}"',
        f'refresh_token = "{oauth.refresh_token}"',
        f'token_url = "{oauth.token_url}"',
    ]


#: writes ``fleet.toml`` in the test's directory (see :func:`fleet_toml`) and returns its path
WriteFleet = Callable[..., Path]


@pytest.fixture
def write_fleet(redis_url: str, namespace: str, tmp_path: Path) -> WriteFleet:
    def write(tenants: Sequence[TenantSpec], **options: Any) -> Path:
        path = tmp_path / "fleet.toml"
        path.write_text(fleet_toml(redis_url, namespace, tmp_path, tenants, **options))
        return path

    return write
