"""``fleet.toml`` parsing, pinned down key by key: each default users rely on, each message word
for word, each boundary. Written to kill the mutants that ``tests/fleet/test_config.py`` lets
live (``tools/mutation.py run --only outreach_async.fleet._config``)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from outreach_async.fleet import (
    FleetConfig,
    FleetConfigError,
    OAuthConfig,
    Tenant,
    WorkerConfig,
    load_config,
    parse_config,
    parse_duration,
)


def _doc(tenant: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A minimal valid document; ``tenant`` replaces tenant ``a``'s table, ``top`` adds keys."""
    table = {"token": "t", "out": "{resource}.jsonl"} if tenant is None else tenant
    return {"redis": "redis://h/0", "tenants": {"a": table}, **top}


def _tenant(**keys: Any) -> Tenant:
    table: dict[str, Any] = {"token": "t", "out": "{resource}.jsonl", **keys}
    return parse_config(_doc(table)).tenant("a")


def _message(data: dict[str, Any], source: str = "f.toml") -> str:
    with pytest.raises(FleetConfigError) as caught:
        parse_config(data, source)
    return str(caught.value)


def _exactly(expected: str) -> str:
    return "^" + re.escape(expected) + "$"


# --- parse_duration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10", 10.0),
        ("1.5h", 5400.0),
        ("0.5s", 0.5),
        ("  15 m  ", 900.0),
        ("\t2d\n", 172800.0),
        ("1ms", 0.001),
        ("3m", 180.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("7s", 7.0),
        (0.25, 0.25),
        (3, 3.0),
    ],
)
def test_parse_duration_forms(text: str | float, seconds: float) -> None:
    result = parse_duration(text)
    assert result == seconds
    assert type(result) is float


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "True is not a duration"),
        (False, "False is not a duration"),
        ("soon", "'soon' is not a duration (e.g. 30s, 15m, 1h)"),
        ("15 minutes", "'15 minutes' is not a duration (e.g. 30s, 15m, 1h)"),
        ("1.h", "'1.h' is not a duration (e.g. 30s, 15m, 1h)"),
        (".5s", "'.5s' is not a duration (e.g. 30s, 15m, 1h)"),
        ("x15m", "'x15m' is not a duration (e.g. 30s, 15m, 1h)"),
        ("15mx", "'15mx' is not a duration (e.g. 30s, 15m, 1h)"),
        ("-5s", "'-5s' is not a duration (e.g. 30s, 15m, 1h)"),
        ("", "'' is not a duration (e.g. 30s, 15m, 1h)"),
        ("1w", "'1w' is not a duration (e.g. 30s, 15m, 1h)"),
        (0, "0 is not a duration above zero"),
        (-1, "-1 is not a duration above zero"),
        (0.0, "0.0 is not a duration above zero"),
        ("0s", "'0s' is not a duration above zero"),
        ("0", "'0' is not a duration above zero"),
        (float("inf"), "inf is not a duration above zero"),
        (float("nan"), "nan is not a duration above zero"),
        (float("-inf"), "-inf is not a duration above zero"),
    ],
)
def test_parse_duration_rejects_with_its_message(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=_exactly(message)):
        parse_duration(value)


def test_parse_duration_smallest_positive_values() -> None:
    assert parse_duration(1e-9) == 1e-9
    assert parse_duration("0.001s") == 0.001


# --- defaults users rely on -----------------------------------------------------------------


def test_tenant_defaults() -> None:
    tenant = parse_config(_doc(), base_dir=None).tenant("a")
    assert tenant.base_url == "https://api.outreach.io/api/v2"
    assert tenant.resources == ("prospects", "accounts")
    assert tenant.every == 900.0
    assert tenant.rate_limit_user == "a"
    assert tenant.timeout == 30.0
    assert tenant.max_retries == 5
    assert tenant.page_size == 1000
    assert tenant.token == "t"
    assert tenant.token_env is None
    assert tenant.oauth is None
    assert tenant.out == "{resource}.jsonl"  # no base_dir: left as written
    assert tenant.name == "a"


def test_fleet_defaults() -> None:
    config = parse_config(_doc())
    assert config.path == "fleet.toml"
    assert config.namespace == "outreach-async:fleet"
    assert config.redis == "redis://h/0"
    assert config.worker == WorkerConfig()


def test_worker_defaults() -> None:
    worker = parse_config(_doc()).worker
    assert worker.threads == 4
    assert worker.heartbeat_timeout == 60.0
    assert worker.lock_lease == 30.0
    assert worker.time_limit == 21600.0
    assert worker.max_retries == 3
    assert worker.retry_backoff == 15.0
    assert worker.stop_timeout == 30.0
    assert worker.queue == "outreach-async-fleet"
    assert parse_config(_doc(worker={})).worker == WorkerConfig()


def test_every_worker_key_is_read() -> None:
    worker = parse_config(
        _doc(
            worker={
                "threads": 9,
                "heartbeat_timeout": "2m",
                "lock_lease": "45s",
                "time_limit": "1h",
                "max_retries": 0,
                "retry_backoff": "1s",
                "stop_timeout": "5s",
                "queue": "q2",
            }
        )
    ).worker
    assert worker == WorkerConfig(
        threads=9,
        heartbeat_timeout=120.0,
        lock_lease=45.0,
        time_limit=3600.0,
        max_retries=0,
        retry_backoff=1.0,
        stop_timeout=5.0,
        queue="q2",
    )
    assert parse_config(_doc(worker={"threads": 1})).worker.threads == 1


@pytest.mark.parametrize(
    ("worker", "message"),
    [
        ({"threads": 0}, "f.toml: worker.threads: expected a whole number of at least 1, got 0"),
        (
            {"threads": 2.0},
            "f.toml: worker.threads: expected a whole number of at least 1, got 2.0",
        ),
        (
            {"threads": True},
            "f.toml: worker.threads: expected a whole number of at least 1, got True",
        ),
        (
            {"max_retries": -1},
            "f.toml: worker.max_retries: expected a whole number of at least 0, got -1",
        ),
        (
            {"heartbeat_timeout": "x"},
            "f.toml: worker.heartbeat_timeout: expected a duration such as "
            '"30s", "15m" or "1h", got \'x\'',
        ),
        (
            {"lock_lease": 0},
            'f.toml: worker.lock_lease: expected a duration such as "30s", "15m" or "1h", got 0',
        ),
        (
            {"time_limit": "0s"},
            "f.toml: worker.time_limit: expected a duration such as "
            '"30s", "15m" or "1h", got \'0s\'',
        ),
        (
            {"retry_backoff": -1},
            'f.toml: worker.retry_backoff: expected a duration such as "30s", "15m" or "1h", '
            "got -1",
        ),
        (
            {"stop_timeout": False},
            'f.toml: worker.stop_timeout: expected a duration such as "30s", "15m" or "1h", '
            "got False",
        ),
        ({"queue": ""}, "f.toml: worker.queue: expected a non-empty string, got ''"),
        ({"queue": 3}, "f.toml: worker.queue: expected a non-empty string, got 3"),
        (
            {"thread": 3},
            "f.toml: worker.thread: expected one of heartbeat_timeout, lock_lease, max_retries, "
            "queue, retry_backoff, stop_timeout, threads, time_limit, got 'thread'",
        ),
    ],
)
def test_worker_mistakes(worker: dict[str, Any], message: str) -> None:
    assert _message(_doc(worker=worker)) == message


# --- tenant keys ----------------------------------------------------------------------------


def test_every_tenant_key_is_read() -> None:
    tenant = _tenant(
        base_url="https://eu.example/api/v2",
        resources=["sequence_states", "prospect"],
        every="1h",
        rate_limit_user="me@x",
        timeout="5s",
        max_retries=0,
        page_size=1,
    )
    assert tenant.base_url == "https://eu.example/api/v2"
    assert tenant.resources == ("sequenceStates", "prospects")
    assert tenant.every == 3600.0
    assert tenant.rate_limit_user == "me@x"
    assert tenant.timeout == 5.0
    assert tenant.max_retries == 0
    assert tenant.page_size == 1
    assert _tenant(page_size=1000).page_size == 1000
    assert _tenant(max_retries=7).max_retries == 7


def test_defaults_apply_and_the_tenant_wins() -> None:
    defaults = {
        "base_url": "https://d.example",
        "resources": ["accounts"],
        "every": "2m",
        "out": "d/{tenant}/{resource}",
        "timeout": 9,
        "max_retries": 2,
        "page_size": 50,
    }
    data = {
        "redis": "redis://h/0",
        "defaults": defaults,
        "tenants": {
            "a": {"token": "t"},
            "b": {
                "token": "t",
                "base_url": "https://b.example",
                "resources": ["prospects"],
                "every": "3m",
                "out": "b/{resource}",
                "timeout": 4,
                "max_retries": 1,
                "page_size": 60,
            },
        },
    }
    config = parse_config(data)
    a, b = config.tenant("a"), config.tenant("b")
    assert (a.base_url, a.resources, a.every, a.timeout, a.max_retries, a.page_size) == (
        "https://d.example",
        ("accounts",),
        120.0,
        9.0,
        2,
        50,
    )
    assert a.output_for("accounts") == "d/a/accounts"
    assert (b.base_url, b.resources, b.every, b.timeout, b.max_retries, b.page_size) == (
        "https://b.example",
        ("prospects",),
        180.0,
        4.0,
        1,
        60,
    )
    assert b.output_for("prospects") == "b/prospects"
    assert config.targets() == [("a", "accounts"), ("b", "prospects")]
    assert config.targets("b") == [("b", "prospects")]


def test_namespace_and_source_are_kept() -> None:
    config = parse_config(_doc(namespace="ns:2"), "my.toml")
    assert config.namespace == "ns:2"
    assert config.path == "my.toml"


@pytest.mark.parametrize("redis", ["redis://h/0", "rediss://h:6380/1", "unix:///tmp/r.sock"])
def test_redis_schemes(redis: str) -> None:
    assert parse_config({**_doc(), "redis": redis}).redis == redis


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "f.toml: redis: expected a non-empty string, got nothing"),
        ({"redis": 5}, "f.toml: redis: expected a non-empty string, got 5"),
        ({"redis": "  "}, "f.toml: redis: expected a non-empty string, got '  '"),
        ({"redis": "http://h"}, "f.toml: redis: expected a redis:// URL, got 'http://h'"),
        (
            {"redis": "xredis://h"},
            "f.toml: redis: expected a redis:// URL, got 'xredis://h'",
        ),
        (
            {"redis": "redis://h"},
            "f.toml: tenants: expected at least one [tenants.NAME] table, got nothing",
        ),
        (
            {"redis": "redis://h", "tenants": {}},
            "f.toml: tenants: expected at least one [tenants.NAME] table, got nothing",
        ),
        ({"redis": "redis://h", "tenants": 3}, "f.toml: tenants: expected a table, got 3"),
        (
            {**_doc(), "defaults": "x"},
            "f.toml: defaults: expected a table, got 'x'",
        ),
        ({**_doc(), "worker": []}, "f.toml: worker: expected a table, got []"),
        (
            {**_doc(), "tenant": {}},
            "f.toml: tenant: expected one of defaults, namespace, redis, tenants, worker, "
            "got 'tenant'",
        ),
        (
            {**_doc(), "defaults": {"rate_limit_user": "u"}},
            "f.toml: defaults.rate_limit_user: expected one of base_url, every, max_retries, "
            "out, page_size, resources, timeout, got 'rate_limit_user'",
        ),
        ({**_doc(), "namespace": ""}, "f.toml: namespace: expected a non-empty string, got ''"),
        (
            {"redis": "redis://h", "tenants": {"a": "t"}},
            "f.toml: tenants.a: expected a table, got 't'",
        ),
        (
            {"redis": "redis://h", "tenants": {"-a": {"token": "t", "out": "{resource}"}}},
            "f.toml: tenants.-a: expected a tenant name of letters, digits, _ . @ -, got '-a'",
        ),
        (
            {"redis": "redis://h", "tenants": {"a/b": {"token": "t", "out": "{resource}"}}},
            "f.toml: tenants.a/b: expected a tenant name of letters, digits, _ . @ -, got 'a/b'",
        ),
        (
            {"redis": "redis://h", "tenants": {"": {"token": "t", "out": "{resource}"}}},
            "f.toml: tenants.: expected a tenant name of letters, digits, _ . @ -, got ''",
        ),
        (
            _doc({"token": "t", "out": "{resource}", "rate_limit": 1}),
            "f.toml: tenants.a.rate_limit: expected one of base_url, every, max_retries, oauth, "
            "out, page_size, rate_limit_user, resources, timeout, token, token_env, "
            "got 'rate_limit'",
        ),
    ],
)
def test_document_mistakes(data: dict[str, Any], message: str) -> None:
    assert _message(data) == message


def test_tenant_names_allowed() -> None:
    names = ["a", "A9", "9a", "acme_2.eu@x-y"]
    tenants = {n: {"token": "t", "out": "{resource}"} for n in names}
    config = parse_config({"redis": "redis://h", "tenants": tenants})
    assert sorted(config.tenants) == sorted(names)
    assert [config.tenant(n).name for n in names] == names


# --- credentials ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "got"),
    [
        ({}, "[]"),
        ({"token": "t", "token_env": "E"}, "['token', 'token_env']"),
        ({"token_env": "E", "oauth": {}}, "['token_env', 'oauth']"),
        ({"token": "t", "oauth": {}}, "['token', 'oauth']"),
        (
            {"token": "t", "token_env": "E", "oauth": {}},
            "['token', 'token_env', 'oauth']",
        ),
    ],
)
def test_exactly_one_credential(keys: dict[str, Any], got: str) -> None:
    message = _message(_doc({"out": "{resource}", **keys}))
    assert message == (
        f"f.toml: tenants.a: expected exactly one of token, token_env or an oauth table, got {got}"
    )


def test_each_credential_alone_works(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _tenant()
    assert (token.token, token.token_env, token.oauth) == ("t", None, None)
    assert token.access_token() == "t"
    env = parse_config(_doc({"token_env": "ENV_T", "out": "{resource}"})).tenant("a")
    assert (env.token, env.token_env, env.oauth) == (None, "ENV_T", None)
    monkeypatch.setenv("ENV_T", "from-env")
    assert env.access_token() == "from-env"
    oauth = parse_config(
        _doc(
            {
                "out": "{resource}",
                "oauth": {
                    "client_id": "c",
                    "client_secret": "s",
                    "refresh_token": "r",
                    "token_url": "https://auth.example/token",
                },
            }
        )
    ).tenant("a")
    assert (oauth.token, oauth.token_env) == (None, None)
    assert oauth.oauth == OAuthConfig(
        client_id="c",
        client_secret="s",
        refresh_token="r",
        token_url="https://auth.example/token",
    )
    assert oauth.access_token() is None


def test_oauth_token_url_defaults_to_none() -> None:
    oauth = {"client_id": "c", "client_secret": "s", "refresh_token": "r"}
    tenant = parse_config(_doc({"out": "{resource}", "oauth": oauth})).tenant("a")
    assert tenant.oauth is not None
    assert tenant.oauth.token_url is None


_OAUTH = {"client_id": "c", "client_secret": "s", "refresh_token": "r"}


@pytest.mark.parametrize(
    ("oauth", "message"),
    [
        ("x", "f.toml: tenants.a.oauth: expected a table, got 'x'"),
        (
            {**_OAUTH, "scope": "x"},
            "f.toml: tenants.a.oauth.scope: expected one of client_id, client_secret, "
            "refresh_token, token_url, got 'scope'",
        ),
        (
            {"client_secret": "s", "refresh_token": "r"},
            "f.toml: tenants.a.oauth.client_id: expected a non-empty string, got nothing",
        ),
        (
            {"client_id": "c", "refresh_token": "r"},
            "f.toml: tenants.a.oauth.client_secret: expected a non-empty string, got nothing",
        ),
        (
            {"client_id": "c", "client_secret": "s"},
            "f.toml: tenants.a.oauth.refresh_token: expected a non-empty string, got nothing",
        ),
        (
            {**_OAUTH, "client_secret": 1234},
            "f.toml: tenants.a.oauth.client_secret: expected a non-empty string, got a int",
        ),
        (
            {**_OAUTH, "refresh_token": 5.5},
            "f.toml: tenants.a.oauth.refresh_token: expected a non-empty string, got a float",
        ),
        (
            {**_OAUTH, "token_url": 1},
            "f.toml: tenants.a.oauth.token_url: expected a non-empty string, got 1",
        ),
    ],
)
def test_oauth_mistakes(oauth: Any, message: str) -> None:
    assert _message(_doc({"out": "{resource}", "oauth": oauth})) == message


def test_oauth_needs_a_token_url_beside_any_api_but_outreachs() -> None:
    local = {"out": "{resource}", "base_url": "http://127.0.0.1:8801/api/v2", "oauth": _OAUTH}
    assert _message(_doc(local)) == (
        "f.toml: tenants.a.oauth.token_url: expected the token endpoint of "
        "http://127.0.0.1:8801/api/v2's server (only Outreach's API has a default), got nothing"
    )
    given = {**local, "oauth": {**_OAUTH, "token_url": "http://127.0.0.1:8801/oauth/token"}}
    assert parse_config(_doc(given)).tenant("a").oauth is not None
    for spelled in ("https://api.outreach.io/api/v2", "https://API.Outreach.io:443/api/v2"):
        production = {**local, "base_url": spelled}
        assert parse_config(_doc(production)).tenant("a").oauth is not None


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            {"token": 12345678},
            "f.toml: tenants.a.token: expected a non-empty string, got a int",
        ),
        (
            {"token": ""},
            "f.toml: tenants.a.token: expected a non-empty string, got a str",
        ),
        (
            {"token_env": 5},
            "f.toml: tenants.a.token_env: expected a non-empty string, got 5",
        ),
        (
            {"token_env": " "},
            "f.toml: tenants.a.token_env: expected a non-empty string, got ' '",
        ),
    ],
)
def test_credential_value_mistakes(keys: dict[str, Any], message: str) -> None:
    assert _message(_doc({"out": "{resource}", **keys})) == message


def test_access_token_message_and_empty_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = parse_config(_doc({"token_env": "NOPE_TOK", "out": "{resource}"})).tenant("a")
    monkeypatch.delenv("NOPE_TOK", raising=False)
    expected = "tenant 'a': the environment variable NOPE_TOK (its token_env) is not set"
    with pytest.raises(FleetConfigError, match=_exactly(expected)):
        tenant.access_token()
    monkeypatch.setenv("NOPE_TOK", "")
    with pytest.raises(FleetConfigError, match=_exactly(expected)):
        tenant.access_token()


def _digest(material: str) -> str:
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def test_credential_fingerprint_values(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _tenant().credential_fingerprint() == _digest("token\0t")
    env = parse_config(_doc({"token_env": "FP_TOK", "out": "{resource}"})).tenant("a")
    monkeypatch.setenv("FP_TOK", "v")
    assert env.credential_fingerprint() == _digest("token\0v")
    oauth = parse_config(_doc({"out": "{resource}", "oauth": _OAUTH})).tenant("a")
    assert oauth.credential_fingerprint() == _digest("oauth\0c\0s\0r")
    assert oauth.oauth is not None
    assert oauth.oauth.seed_fingerprint() == _digest("seed\0c\0r")
    assert len(oauth.credential_fingerprint()) == 16


# --- out: paths and database URLs -----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://me@h/{tenant}",
        "postgres://me@h/db_{tenant}",
        "duckdb:///data/{tenant}.duckdb",
    ],
)
def test_database_urls(url: str, tmp_path: Path) -> None:
    tenant = parse_config(_doc({"token": "t", "out": url}), base_dir=tmp_path).tenant("a")
    assert tenant.out == url  # never joined to the config's directory
    assert tenant.is_database()
    assert tenant.output_for("prospects") == url.replace("{tenant}", "a")


@pytest.mark.parametrize(
    "url", ["postgresql://me@h/db", "postgres://me@h/{resource}", "duckdb:///x.db"]
)
def test_a_database_url_needs_tenant(url: str) -> None:
    message = _message(_doc({"token": "t", "out": url}))
    assert (
        message
        == f"f.toml: tenants.a.out: expected a database URL with {{tenant}} in it, got {url!r}"
    )


@pytest.mark.parametrize("out", ["data/{tenant}.jsonl", "mysql://h/{tenant}"])
def test_a_path_needs_resource(out: str) -> None:
    message = _message(_doc({"token": "t", "out": out}))
    assert message == (
        f"f.toml: tenants.a.out: expected a path with {{resource}} in it, or a database URL, "
        f"got {out!r}"
    )


def test_out_is_required_and_a_string() -> None:
    assert _message(_doc({"token": "t"})) == (
        "f.toml: tenants.a.out: expected a non-empty string, got nothing"
    )
    assert _message(_doc({"token": "t", "out": 3})) == (
        "f.toml: tenants.a.out: expected a non-empty string, got 3"
    )


def test_a_path_is_relative_to_base_dir(tmp_path: Path) -> None:
    tenant = parse_config(_doc(), base_dir=tmp_path).tenant("a")
    assert tenant.out == str(tmp_path / "{resource}.jsonl")
    assert not tenant.is_database()
    assert tenant.output_for("accounts") == str(tmp_path / "accounts.jsonl")
    absolute = parse_config(_doc({"token": "t", "out": "/abs/{resource}"}), base_dir=tmp_path)
    assert absolute.tenant("a").out == "/abs/{resource}"


def test_output_for_fills_both_placeholders() -> None:
    tenant = parse_config(_doc({"token": "t", "out": "{tenant}/{resource}/{tenant}"})).tenant("a")
    assert tenant.output_for("calls") == "a/calls/a"


# --- resources, counts, durations -----------------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ([], "f.toml: tenants.a.resources: expected a non-empty list of resource names, got []"),
        (
            "prospects",
            "f.toml: tenants.a.resources: expected a non-empty list of resource names, "
            "got 'prospects'",
        ),
        (
            ["prospects", 3],
            "f.toml: tenants.a.resources: expected a non-empty list of resource names, "
            "got ['prospects', 3]",
        ),
        (
            ["prospects", "prospect"],
            "f.toml: tenants.a.resources: expected each resource once, "
            "got ['prospects', 'prospect']",
        ),
        (
            ["accounts", "accounts"],
            "f.toml: tenants.a.resources: expected each resource once, "
            "got ['accounts', 'accounts']",
        ),
    ],
)
def test_resources_mistakes(resources: Any, message: str) -> None:
    assert _message(_doc({"token": "t", "out": "{resource}", "resources": resources})) == message


def test_an_unknown_resource_quotes_the_lookup() -> None:
    message = _message(_doc({"token": "t", "out": "{resource}", "resources": ["accounts", "zq"]}))
    assert message.startswith(
        "f.toml: tenants.a.resources: expected resource names (unknown resource 'zq'"
    )
    assert message.endswith("), got 'zq'")
    assert "webhooks" in message


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            {"max_retries": -1},
            "f.toml: tenants.a.max_retries: expected a whole number of at least 0, got -1",
        ),
        (
            {"max_retries": True},
            "f.toml: tenants.a.max_retries: expected a whole number of at least 0, got True",
        ),
        (
            {"max_retries": "3"},
            "f.toml: tenants.a.max_retries: expected a whole number of at least 0, got '3'",
        ),
        (
            {"page_size": 0},
            "f.toml: tenants.a.page_size: expected a whole number of at least 1, got 0",
        ),
        (
            {"page_size": 1001},
            "f.toml: tenants.a.page_size: expected at most 1000 (the API's largest page), got 1001",
        ),
        (
            {"timeout": "never"},
            'f.toml: tenants.a.timeout: expected a duration such as "30s", "15m" or "1h", '
            "got 'never'",
        ),
        (
            {"every": 0},
            'f.toml: tenants.a.every: expected a duration such as "30s", "15m" or "1h", got 0',
        ),
        (
            {"base_url": ""},
            "f.toml: tenants.a.base_url: expected a non-empty string, got ''",
        ),
        (
            {"rate_limit_user": 1},
            "f.toml: tenants.a.rate_limit_user: expected a non-empty string, got 1",
        ),
    ],
)
def test_tenant_value_mistakes(keys: dict[str, Any], message: str) -> None:
    assert _message(_doc({"token": "t", "out": "{resource}", **keys})) == message


def test_defaults_mistakes_name_the_tenant_key() -> None:
    data = {**_doc(), "defaults": {"every": "soon"}}
    assert _message(data) == (
        'f.toml: tenants.a.every: expected a duration such as "30s", "15m" or "1h", got \'soon\''
    )


# --- FleetConfig lookups --------------------------------------------------------------------


def test_tenant_lookup_messages() -> None:
    empty = FleetConfig(path="p.toml", redis="redis://h", tenants={})
    with pytest.raises(FleetConfigError, match=_exactly("p.toml: no tenant 'x' (tenants: none)")):
        empty.tenant("x")
    assert empty.targets() == []
    data = {
        "redis": "redis://h",
        "tenants": {n: {"token": "t", "out": "{resource}"} for n in ("zed", "abe")},
    }
    config = parse_config(data, "q.toml")
    with pytest.raises(
        FleetConfigError, match=_exactly("q.toml: no tenant 'x' (tenants: abe, zed)")
    ):
        config.tenant("x")
    with pytest.raises(
        FleetConfigError, match=_exactly("q.toml: no tenant 'x' (tenants: abe, zed)")
    ):
        config.targets("x")
    assert config.targets() == [
        ("zed", "prospects"),
        ("zed", "accounts"),
        ("abe", "prospects"),
        ("abe", "accounts"),
    ]
    assert config.targets("abe") == [("abe", "prospects"), ("abe", "accounts")]


# --- load_config ----------------------------------------------------------------------------


def test_load_config_messages(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(FleetConfigError, match=_exactly(f"{missing}: no such file")):
        load_config(missing)
    with pytest.raises(
        FleetConfigError, match=_exactly(f"{tmp_path}: cannot be read (Is a directory)")
    ):
        load_config(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text("redis = \n")
    with pytest.raises(FleetConfigError) as caught:
        load_config(bad)
    assert str(caught.value).startswith(f"{bad}: not valid TOML (Invalid value (at line 1")
    assert str(caught.value).endswith(")")


def test_load_config_resolves_paths_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "fleet.toml"
    path.parent.mkdir()
    path.write_text('redis = "redis://h"\n[tenants.a]\ntoken = "t"\nout = "o/{resource}"\n')
    config = load_config(path)
    assert config.path == str(path)
    assert config.tenant("a").out == str(tmp_path / "sub" / "o" / "{resource}")
    path.write_text('redis = "http://h"\n')
    with pytest.raises(
        FleetConfigError, match=_exactly(f"{path}: redis: expected a redis:// URL, got 'http://h'")
    ):
        load_config(path)


# --- the reader's error shape ---------------------------------------------------------------


def test_only_credentials_are_hidden() -> None:
    # a key merely containing "token" elsewhere is echoed; None shows as "nothing" even for
    # credential keys
    assert _message(_doc({"out": "{resource}", "oauth": {**_OAUTH, "client_id": 77}})) == (
        "f.toml: tenants.a.oauth.client_id: expected a non-empty string, got 77"
    )
    assert _message(_doc({"out": "{resource}", "oauth": {**_OAUTH, "refresh_token": None}})) == (
        "f.toml: tenants.a.oauth.refresh_token: expected a non-empty string, got nothing"
    )
