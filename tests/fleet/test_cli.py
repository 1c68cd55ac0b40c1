"""``outreach-async fleet``: bad input gets one line and the right exit status."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from outreach_async.cli import main
from tests.fleet.conftest import fleet_toml


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def _config(tmp_path: Path, redis_url: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(
        fleet_toml(redis_url, "test-cli", tmp_path, [("acme", "http://127.0.0.1:9/api/v2", "t")])
    )
    return path


@pytest.mark.parametrize("action", [["sync"], ["status"], ["worker"]])
def test_a_bad_config_exits_2_naming_the_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: list[str]
) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text('redis = "redis://127.0.0.1:1/0"\n[tenants.acme]\ntoken = "t"\nout = "x"\n')
    assert main(["fleet", *action, "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err == (
        f"outreach-async: {path}: tenants.acme.out: expected a path with {{resource}} in it, "
        "or a database URL, got 'x'"
    )


def test_a_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "status", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("action", [["sync"], ["status"], ["sync", "--wait"]])
def test_an_unknown_tenant_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: list[str]
) -> None:
    path = _config(tmp_path, f"redis://127.0.0.1:{_closed_port()}/0")
    assert main(["fleet", *action, "--config", str(path), "--tenant", "nobody"]) == 2
    assert capsys.readouterr().err.strip().endswith("no tenant 'nobody' (tenants: acme)")


@pytest.mark.parametrize("action", [["sync"], ["status"], ["worker"]])
def test_an_unreachable_redis_exits_3_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: list[str]
) -> None:
    port = _closed_port()
    path = _config(tmp_path, f"redis://127.0.0.1:{port}/0")
    assert main(["fleet", *action, "--config", str(path)]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith(f"outreach-async: cannot reach Redis at 127.0.0.1:{port} ")


@pytest.mark.redis
def test_status_before_any_run(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, redis_url)
    assert main(["fleet", "status", "--config", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["tenant"], r["resource"], r["state"]) for r in rows] == [
        ("acme", "prospects", "never"),
        ("acme", "accounts", "never"),
    ]
    assert main(["fleet", "status", "--config", str(path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["TENANT", "RESOURCE", "STATE"]
    assert table[1].split()[:3] == ["acme", "prospects", "never"]
