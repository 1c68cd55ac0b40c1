"""``fleet.toml`` parsing: the documented shape works, and every mistake names file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach_async.fleet import FleetConfigError, load_config, parse_config, parse_duration

DOCUMENTED = """
redis = "redis://127.0.0.1:6379/0"

[defaults]
resources = ["prospects", "accounts"]
every = "15m"

[tenants.acme]
base_url = "https://api.outreach.io/api/v2"
token = "s3cret-token"
rate_limit_user = "sync@acme"
out = "data/acme/{resource}.jsonl"

[tenants.globex]
token_env = "GLOBEX_TOKEN"
resources = ["sequence_states"]
every = "30s"
out = "postgresql://me@localhost/{tenant}"

[tenants.initech]
out = "x/{tenant}/{resource}.jsonl"

[tenants.initech.oauth]
client_id = "app"
client_secret = "shh"
refresh_token = "r1"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    return path


def test_the_documented_config_parses(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, DOCUMENTED))
    acme, globex, initech = (config.tenant(n) for n in ("acme", "globex", "initech"))
    assert config.redis == "redis://127.0.0.1:6379/0"
    assert acme.resources == ("prospects", "accounts")
    assert acme.every == 900.0
    assert acme.rate_limit_user == "sync@acme"
    assert acme.output_for("accounts") == str(tmp_path / "data/acme/accounts.jsonl")
    assert globex.resources == ("sequenceStates",)
    assert globex.every == 30.0
    assert globex.rate_limit_user == "globex"  # the default: the tenant's name
    assert globex.is_database()
    assert globex.output_for("x") == "postgresql://me@localhost/globex"
    assert initech.oauth is not None
    assert initech.oauth.refresh_token == "r1"
    assert initech.output_for("prospects") == str(tmp_path / "x/initech/prospects.jsonl")
    assert config.targets("globex") == [("globex", "sequenceStates")]
    assert len(config.targets()) == 5


def test_no_credential_shows_in_a_repr(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, DOCUMENTED))
    assert "s3cret-token" not in repr(config)
    assert "shh" not in repr(config.tenant("initech"))


def test_token_env_is_read_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(
        {"redis": "redis://h/0", "tenants": {"a": {"token_env": "A_TOK", "out": "{resource}"}}}
    )
    monkeypatch.delenv("A_TOK", raising=False)
    with pytest.raises(FleetConfigError, match="A_TOK"):
        config.tenant("a").access_token()
    monkeypatch.setenv("A_TOK", "t1")
    first = config.tenant("a").credential_fingerprint()
    assert config.tenant("a").access_token() == "t1"
    monkeypatch.setenv("A_TOK", "t2")
    assert config.tenant("a").credential_fingerprint() != first
    assert "t2" not in config.tenant("a").credential_fingerprint()


BASE = 'redis = "redis://h/0"\n[tenants.a]\ntoken = "t"\nout = "{resource}.jsonl"\n'


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("", "redis", "expected a non-empty string"),
        ('redis = "http://x"\n', "redis", "a redis:// URL"),
        ('redis = "redis://h/0"\n', "tenants", "at least one"),
        (BASE + 'every = "soon"\n', "tenants.a.every", "a duration"),
        (BASE + "every = 0\n", "tenants.a.every", "a duration"),
        (BASE + 'resources = ["prospcts"]\n', "tenants.a.resources", "resource names"),
        (BASE + "resources = []\n", "tenants.a.resources", "non-empty list"),
        (BASE + 'token_env = "X"\n', "tenants.a", "exactly one of token"),
        (BASE + 'tokn = "X"\n', "tenants.a.tokn", "one of"),
        (BASE.replace("{resource}", "all"), "tenants.a.out", "{resource}"),
        (BASE + "max_retries = -1\n", "tenants.a.max_retries", "at least 0"),
        (BASE + "page_size = 1001\n", "tenants.a.page_size", "at most 1000"),
        (BASE.replace("{resource}.jsonl", "duckdb:///x.db"), "tenants.a.out", "with {tenant}"),
        (BASE + "[worker]\nthreads = 0\n", "worker.threads", "at least 1"),
        (BASE + "[worker]\nheartbeat_timeout = true\n", "worker.heartbeat_timeout", "duration"),
        (BASE + "[defaults]\ntoken = 'x'\n", "defaults.token", "one of"),
        (BASE + "[tenants.a.oauth]\nclient_id = 'c'\n", "tenants.a", "exactly one"),
        ('redis = "redis://h/0"\n[tenants."a b"]\ntoken="t"\nout="{resource}"', "tenants.a b", ""),
    ],
)
def test_a_mistake_names_the_file_the_key_and_what_is_expected(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(FleetConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: expected "), message
    assert expected in message


def test_a_credential_is_never_echoed_in_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace('token = "t"', "token = 12345678"))
    with pytest.raises(FleetConfigError) as caught:
        load_config(path)
    assert "12345678" not in str(caught.value)
    assert "tenants.a.token" in str(caught.value)


def test_missing_file_and_bad_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(FleetConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(FleetConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "redis = \n"))


def test_an_unknown_tenant_names_the_known_ones(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, BASE))
    with pytest.raises(FleetConfigError, match=r"no tenant 'zz' \(tenants: a\)"):
        config.tenant("zz")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900.0), ("30s", 30.0), ("1h", 3600.0), ("250ms", 0.25), ("2d", 172800.0), (5, 5.0)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@given(st.one_of(st.text(max_size=12), st.integers(), st.floats(), st.booleans()))
def test_parse_duration_returns_a_positive_number_or_raises_value_error(
    value: str | int | float,
) -> None:
    try:
        seconds = parse_duration(value)
    except ValueError:
        return
    assert 0 < seconds < float("inf")


def test_the_readme_fleet_toml_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("## Fleets") :]
    block = section[section.index("```toml\n") + 8 : section.index("```\n", 8)]
    config = load_config(_write(tmp_path, block))
    assert sorted(config.tenants) == ["acme", "globex"]
    assert config.tenant("globex").output_for("accounts") == str(
        tmp_path / "data/globex/accounts.jsonl"
    )
    assert config.tenant("acme").rate_limit_user == "sync@acme"
    assert config.tenant("globex").every == 900.0
    assert config.worker.heartbeat_timeout == 60.0


def test_the_readme_oauth_tenant_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("**OAuth tenants.**") :]
    block = section[section.index("```toml\n") + 8 : section.index("```\n", 8)]
    tenant = load_config(_write(tmp_path, block)).tenant("initech")
    assert tenant.oauth is not None
    assert tenant.oauth.client_id == "your-app-id"
    assert tenant.oauth.token_url == "https://api.outreach.io/oauth/token"
    assert tenant.access_token() is None  # no static token: it syncs with the shared store
