"""``outreach-async fleet``: bad input gets one line and the right exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from redis.asyncio import Redis

from outreach_async.cli import _fleet, main
from outreach_async.fleet import FleetKeys, StatusStore, redis_now
from tests.clock import FakeClock
from tests.fleet.conftest import WriteFleet, fleet_toml
from tests.ports import unused_port


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
    path = _config(tmp_path, f"redis://127.0.0.1:{unused_port()}/0")
    assert main(["fleet", *action, "--config", str(path), "--tenant", "nobody"]) == 2
    assert capsys.readouterr().err.strip().endswith("no tenant 'nobody' (tenants: acme)")


@pytest.mark.parametrize("action", [["sync"], ["status"], ["worker"]])
def test_an_unreachable_redis_exits_3_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: list[str]
) -> None:
    port = unused_port()
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


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--timeout", "30s"], "--timeout needs --wait"),
        (
            ["--wait", "--timeout", "soon"],
            "--timeout: expected a duration such as 30s, 15m or 1h, got 'soon'",
        ),
        (["--wait", "--timeout", "0s"], "--timeout: expected a duration"),
    ],
)
def test_a_bad_timeout_exits_2_before_anything_is_queued(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    path = _config(tmp_path, f"redis://127.0.0.1:{unused_port()}/0")  # never reached
    assert main(["fleet", "sync", "--config", str(path), *options]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith(f"outreach-async: {message}")


@pytest.fixture
def sync_command(
    write_fleet: WriteFleet, monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock
) -> list[str]:
    """``fleet sync`` of a one-tenant fleet on the real Redis, no worker running; ``--wait``
    waits on ``fake_clock``."""
    path = write_fleet([("acme", "http://127.0.0.1:9/api/v2", "t")])
    monkeypatch.setattr(_fleet, "wait_clock", fake_clock)
    monkeypatch.setattr(_fleet, "wait_sleep", fake_clock.sleep)
    return ["fleet", "sync", "--config", str(path)]


@pytest.mark.redis
def test_wait_with_a_timeout_no_worker_meets_exits_4_and_the_syncs_stay_queued(
    sync_command: list[str], capsys: pytest.CaptureFixture[str], fake_clock: FakeClock
) -> None:
    command = sync_command
    assert main([*command, "--wait", "--timeout", "2m"]) == 4
    out, err = capsys.readouterr()
    assert fake_clock.elapsed == 120
    assert out.splitlines() == [
        "queued 2 syncs (0 already queued)",
        "acme prospects: queued (no worker has started it yet)",
        "acme accounts: queued (no worker has started it yet)",
    ]
    assert err.strip() == (
        "outreach-async: not done after --timeout 2m: queued: acme "
        "(the syncs go on in the workers; `fleet status` shows them)"
    )
    # still queued for the workers: asking again sends nothing new
    assert main(command) == 0
    assert capsys.readouterr().out.strip() == "queued 0 syncs (2 already queued)"


@pytest.mark.redis
def test_a_failure_before_the_timeout_exits_3_and_names_what_still_runs(
    sync_command: list[str],
    redis_url: str,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
    fake_clock: FakeClock,
) -> None:

    async def a_worker_takes_both(sleeps: int) -> None:  # as a worker would write them
        if sleeps != 1:
            return
        redis = Redis.from_url(redis_url)
        statuses = StatusStore(redis, FleetKeys(namespace))
        now = await redis_now(redis)
        await statuses.update("acme", "prospects", state="running", started_at=now, worker="h:7")
        await statuses.update(
            "acme", "accounts", state="error", started_at=now, last_error="ServerError: 503"
        )
        await redis.aclose()

    fake_clock.on_sleep = a_worker_takes_both
    assert main([*sync_command, "--wait", "--timeout", "10s"]) == 3
    out, err = capsys.readouterr()
    assert out.splitlines()[1:] == [
        "acme prospects: running (on h:7)",
        "acme accounts: error (ServerError: 503)",
    ]
    assert err.strip() == (
        "outreach-async: failed: acme; not done after --timeout 10s: running: acme "
        "(the syncs go on in the workers; `fleet status` shows them)"
    )
