"""``fleet.toml``: what a fleet syncs, where, and how often. Pure: text in, typed values out.

```toml
redis = "redis://127.0.0.1:6379/0"

[defaults]
resources = ["prospects", "accounts"]
every = "15m"

[tenants.acme]
base_url = "https://api.outreach.io/api/v2"
token_env = "ACME_TOKEN"             # or token = "...", or an [tenants.acme.oauth] table
rate_limit_user = "sync@acme"        # whose budget this tenant spends (default: the tenant name)
out = "data/{tenant}/{resource}.jsonl"
```

Every key of ``[defaults]`` may be given per tenant too (the tenant's wins). ``[worker]`` tunes the
worker processes (see :class:`WorkerConfig`). A mistake raises :class:`FleetConfigError` naming
the file, the key and what was expected; unknown keys are mistakes too (a typo must not be
silently ignored).
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from yarl import URL

from outreach_async._exceptions import FleetConfigError, UnknownResourceError
from outreach_async.auth._provider import is_production
from outreach_async.export import resolve_resource

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

DEFAULT_BASE_URL = "https://api.outreach.io/api/v2"
DEFAULT_EVERY = 15 * 60.0
DEFAULT_RESOURCES = ("prospects", "accounts")
_DATABASE_SCHEMES = ("postgresql://", "postgres://", "duckdb://")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


def parse_duration(text: str | int | float) -> float:
    """Seconds from ``"15m"``, ``"30s"``, ``"1h"``, ``"250ms"``, ``"2d"`` or a number of seconds;
    ValueError when it is none of those or not above zero."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not a duration (e.g. 30s, 15m, 1h)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{text!r} is not a duration above zero")
    return seconds


def _digest(material: str) -> str:
    """A short one-way digest of credentials: what Redis may hold instead of them."""
    return hashlib.sha256(material.encode()).hexdigest()[:16]


@attrs.frozen
class OAuthConfig:
    """A tenant's OAuth app and its first refresh token (the fleet keeps the rotated ones)."""

    client_id: str
    client_secret: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    token_url: str | None = None

    def seed_fingerprint(self) -> str:
        """A digest of the configured refresh token (and its app): the fleet seeds its shared
        token store once per value, so an edited refresh token replaces the stored set once and
        an unchanged one never overwrites rotated tokens. Never the token itself."""
        return _digest(f"seed\0{self.client_id}\0{self.refresh_token}")


@attrs.frozen
class Tenant:
    """One Outreach org the fleet syncs."""

    name: str
    base_url: str
    #: where each resource goes: a path template or a database URL, with ``{tenant}`` and
    #: ``{resource}`` filled in (relative paths are relative to the config file's directory)
    out: str
    resources: tuple[str, ...]
    #: seconds between the end of one sync of a resource and the start of the next
    every: float
    #: the Outreach user whose budget this tenant spends (the Redis rate limiter's key)
    rate_limit_user: str
    token: str | None = attrs.field(default=None, repr=False)
    token_env: str | None = None
    oauth: OAuthConfig | None = None
    #: the client's per-request timeout and retries, seconds and count
    timeout: float = 30.0
    max_retries: int = 5
    #: records per request (1..1000; fewer means more, smaller requests)
    page_size: int = 1000

    def output_for(self, resource: str) -> str:
        """The output of one resource (a path or a database URL)."""
        return self.out.replace("{tenant}", self.name).replace("{resource}", resource)

    def is_database(self) -> bool:
        return self.out.startswith(_DATABASE_SCHEMES)

    def access_token(self) -> str | None:
        """The static token (``token``, or ``token_env`` read now); None for OAuth tenants.
        Raises :class:`FleetConfigError` when ``token_env`` names an unset variable."""
        if self.token is not None:
            return self.token
        if self.token_env is not None:
            value = os.environ.get(self.token_env)
            if not value:
                raise FleetConfigError(
                    f"tenant {self.name!r}: the environment variable {self.token_env} "
                    "(its token_env) is not set"
                )
            return value
        return None

    def credential_fingerprint(self) -> str:
        """A digest of the credentials as configured now: when it changes, a tenant held back
        for a revoked token is tried again. Never the credential itself."""
        if self.oauth is not None:
            # the secret too: an app whose secret was wrong (invalid_client) resumes once fixed
            oauth = self.oauth
            return _digest(
                f"oauth\0{oauth.client_id}\0{oauth.client_secret}\0{oauth.refresh_token}"
            )
        return _digest(f"token\0{self.access_token()}")


@attrs.frozen
class WorkerConfig:
    """How worker processes run jobs (``[worker]``)."""

    #: jobs one worker process runs at once
    threads: int = 4
    #: a worker silent this long is dead, and its jobs are handed to another worker (Dramatiq's
    #: Redis broker heartbeat); bounds how long a SIGKILLed worker's job waits
    heartbeat_timeout: float = 60.0
    #: the lease of the per tenant x resource lock, renewed every third of it while a job runs
    lock_lease: float = 30.0
    #: a job running longer than this is stopped (and retried from its checkpoint)
    time_limit: float = 6 * 3600.0
    #: retries of a failed job (network, 5xx, 429 after the client's own retries), with backoff
    max_retries: int = 3
    #: the backoff before the first retry; it doubles with each retry
    retry_backoff: float = 15.0
    #: how long SIGTERM waits for running jobs to finish before the worker exits anyway
    stop_timeout: float = 30.0
    #: the Dramatiq queue (two fleets may share a Redis with different queues and namespaces)
    queue: str = "outreach-async-fleet"


@attrs.frozen
class FleetConfig:
    """A parsed ``fleet.toml``."""

    #: the file it was read from (messages name it)
    path: str
    redis: str = attrs.field(repr=False)
    tenants: Mapping[str, Tenant]
    worker: WorkerConfig = WorkerConfig()
    #: the prefix of every Redis key of this fleet (status, locks, checkpoints)
    namespace: str = "outreach-async:fleet"

    def tenant(self, name: str) -> Tenant:
        """The tenant called ``name``; :class:`FleetConfigError` naming the known ones."""
        try:
            return self.tenants[name]
        except KeyError:
            known = ", ".join(sorted(self.tenants)) or "none"
            raise FleetConfigError(f"{self.path}: no tenant {name!r} (tenants: {known})") from None

    def targets(self, tenant: str | None = None) -> list[tuple[str, str]]:
        """Every (tenant, resource) to sync, or one tenant's."""
        chosen = [self.tenant(tenant)] if tenant is not None else list(self.tenants.values())
        return [(t.name, resource) for t in chosen for resource in t.resources]


def load_config(path: str | os.PathLike[str]) -> FleetConfig:
    """Read and check ``fleet.toml``; :class:`FleetConfigError` for any problem."""
    where = os.fspath(path)
    try:
        with open(where, "rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise FleetConfigError(f"{where}: no such file") from None
    except OSError as exc:
        raise FleetConfigError(f"{where}: cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise FleetConfigError(f"{where}: not valid TOML ({exc})") from None
    return parse_config(data, where, base_dir=Path(where).resolve().parent)


def parse_config(
    data: Mapping[str, Any], source: str = "fleet.toml", *, base_dir: Path | None = None
) -> FleetConfig:
    """The :class:`FleetConfig` that ``data`` (a parsed TOML document) describes."""
    reader = _Reader(source)
    reader.only(data, "", {"redis", "namespace", "defaults", "worker", "tenants"})
    redis = reader.string(data, "redis", required=True)
    if not redis.startswith(("redis://", "rediss://", "unix://")):
        raise reader.error("redis", "a redis:// URL", redis)
    defaults = reader.table(data, "defaults")
    reader.only(defaults, "defaults", _TENANT_DEFAULT_KEYS)
    tenants_table = reader.table(data, "tenants")
    if not tenants_table:
        raise reader.error("tenants", "at least one [tenants.NAME] table", None)
    tenants = {
        name: _tenant(reader, name, table, defaults, base_dir)
        for name, table in tenants_table.items()
    }
    return FleetConfig(
        path=source,
        redis=redis,
        tenants=tenants,
        worker=_worker(reader, reader.table(data, "worker")),
        namespace=reader.string(data, "namespace") or "outreach-async:fleet",
    )


_TENANT_DEFAULT_KEYS = {
    "resources",
    "every",
    "base_url",
    "out",
    "timeout",
    "max_retries",
    "page_size",
}
_TENANT_KEYS = _TENANT_DEFAULT_KEYS | {"token", "token_env", "oauth", "rate_limit_user"}


def _tenant(
    reader: _Reader,
    name: str,
    raw: Any,
    defaults: Mapping[str, Any],
    base_dir: Path | None,
) -> Tenant:
    where = f"tenants.{name}"
    if not isinstance(raw, Mapping):
        raise reader.error(where, "a table", raw)
    if not _NAME.match(name):
        raise reader.error(where, "a tenant name of letters, digits, _ . @ -", name)
    reader.only(raw, where, _TENANT_KEYS)
    merged = {**defaults, **raw}
    credentials = [key for key in ("token", "token_env", "oauth") if key in raw]
    if len(credentials) != 1:
        raise reader.error(where, "exactly one of token, token_env or an oauth table", credentials)
    out = reader.string(merged, "out", where=where, required=True)
    if out.startswith(_DATABASE_SCHEMES):
        # one database per tenant: a database keeps one table per resource type, and one
        # checkpoint per resource, so two tenants sharing one would mix their records
        if "{tenant}" not in out:
            raise reader.error(f"{where}.out", "a database URL with {tenant} in it", out)
    elif "{resource}" not in out:
        raise reader.error(f"{where}.out", "a path with {resource} in it, or a database URL", out)
    if base_dir is not None and not out.startswith(_DATABASE_SCHEMES):
        out = os.fspath(base_dir / out)
    base_url = reader.string(merged, "base_url", where=where) or DEFAULT_BASE_URL
    oauth = _oauth(reader, raw["oauth"], f"{where}.oauth") if "oauth" in raw else None
    if oauth is not None and oauth.token_url is None and not is_production(URL(base_url)):
        # the default endpoint is production's: never send a refresh token to another server
        expected = f"the token endpoint of {base_url}'s server (only Outreach's API has a default)"
        raise reader.error(f"{where}.oauth.token_url", expected, None)
    return Tenant(
        name=name,
        base_url=base_url,
        out=out,
        resources=_resources(reader, merged, where),
        every=reader.duration(merged, "every", where=where, default=DEFAULT_EVERY),
        rate_limit_user=reader.string(raw, "rate_limit_user", where=where) or name,
        token=reader.string(raw, "token", where=where),
        token_env=reader.string(raw, "token_env", where=where),
        oauth=oauth,
        timeout=reader.duration(merged, "timeout", where=where, default=30.0),
        max_retries=reader.count(merged, "max_retries", where=where, default=5, least=0),
        page_size=_page_size(reader, merged, where),
    )


def _page_size(reader: _Reader, merged: Mapping[str, Any], where: str) -> int:
    size = reader.count(merged, "page_size", where=where, default=1000, least=1)
    if size > 1000:
        raise reader.error(f"{where}.page_size", "at most 1000 (the API's largest page)", size)
    return size


def _resources(reader: _Reader, merged: Mapping[str, Any], where: str) -> tuple[str, ...]:
    raw = merged.get("resources", list(DEFAULT_RESOURCES))
    if not isinstance(raw, list) or not raw or not all(isinstance(r, str) for r in raw):
        raise reader.error(f"{where}.resources", "a non-empty list of resource names", raw)
    paths = []
    for name in raw:
        try:
            paths.append(resolve_resource(name).__resource_spec__.path)
        except UnknownResourceError as exc:
            raise reader.error(f"{where}.resources", f"resource names ({exc})", name) from None
    if len(set(paths)) != len(paths):
        raise reader.error(f"{where}.resources", "each resource once", raw)
    return tuple(paths)


def _oauth(reader: _Reader, raw: Any, where: str) -> OAuthConfig:
    if not isinstance(raw, Mapping):
        raise reader.error(where, "a table", raw)
    reader.only(raw, where, {"client_id", "client_secret", "refresh_token", "token_url"})
    return OAuthConfig(
        client_id=reader.string(raw, "client_id", where=where, required=True),
        client_secret=reader.string(raw, "client_secret", where=where, required=True),
        refresh_token=reader.string(raw, "refresh_token", where=where, required=True),
        token_url=reader.string(raw, "token_url", where=where),
    )


def _worker(reader: _Reader, raw: Mapping[str, Any]) -> WorkerConfig:
    where = "worker"
    reader.only(raw, where, {f.name for f in attrs.fields(WorkerConfig)})
    default = WorkerConfig()
    return WorkerConfig(
        threads=reader.count(raw, "threads", where=where, default=default.threads, least=1),
        heartbeat_timeout=reader.duration(
            raw, "heartbeat_timeout", where=where, default=default.heartbeat_timeout
        ),
        lock_lease=reader.duration(raw, "lock_lease", where=where, default=default.lock_lease),
        time_limit=reader.duration(raw, "time_limit", where=where, default=default.time_limit),
        max_retries=reader.count(
            raw, "max_retries", where=where, default=default.max_retries, least=0
        ),
        retry_backoff=reader.duration(
            raw, "retry_backoff", where=where, default=default.retry_backoff
        ),
        stop_timeout=reader.duration(
            raw, "stop_timeout", where=where, default=default.stop_timeout
        ),
        queue=reader.string(raw, "queue", where=where) or default.queue,
    )


@attrs.frozen
class _Reader:
    """Typed reads from the TOML document; every failure names the file and the key."""

    source: str

    def error(self, key: str, expected: str, got: object) -> FleetConfigError:
        shown = "nothing" if got is None else repr(got)
        if key.endswith(("token", "client_secret", "refresh_token")) and got is not None:
            shown = f"a {type(got).__name__}"  # never echo a credential
        return FleetConfigError(f"{self.source}: {key}: expected {expected}, got {shown}")

    def only(self, table: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                full = f"{where}.{key}" if where else key
                raise self.error(full, f"one of {', '.join(sorted(allowed))}", key)

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(key, "a table", value)
        return value

    def string(
        self, data: Mapping[str, Any], key: str, *, where: str = "", required: bool = False
    ) -> Any:
        full = f"{where}.{key}" if where else key
        value = data.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(full, "a non-empty string", value)
        return value

    def duration(self, data: Mapping[str, Any], key: str, *, where: str, default: float) -> float:
        value = data.get(key)
        if value is None:
            return default
        try:
            return parse_duration(value)
        except ValueError:
            expected = 'a duration such as "30s", "15m" or "1h"'
            raise self.error(f"{where}.{key}", expected, value) from None

    def count(
        self, data: Mapping[str, Any], key: str, *, where: str, default: int, least: int
    ) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise self.error(f"{where}.{key}", f"a whole number of at least {least}", value)
        return value
