"""``outreach-async export RESOURCE --out postgresql://... | duckdb:///...``: the real command in
child processes, killed with SIGKILL mid-run, against a real PostgreSQL and the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
from pathlib import Path

import pytest
import yarl

from outreach_async.sandbox import FaultConfig, Sandbox

from .conftest import asyncpg
from .test_postgres_sink import fetch, sandbox_versions, table_versions

pytestmark = pytest.mark.outreach_sandbox(seed=1200, faults=FaultConfig(latency=0.01))


def command(sandbox: Sandbox, out: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "outreach_async.cli", "export", "prospects", "--out", out,
        "--base-url", sandbox.base_url, "--token", sandbox.token, "--page-size", "40",
        "--checkpoint-every", "0.02", "-q", *extra,
    ]  # fmt: skip


async def run(args: list[str]) -> tuple[int, str]:
    child = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, errors = await asyncio.wait_for(child.communicate(), 120)
    assert child.returncode is not None
    return child.returncode, errors.decode()


async def rows_in(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM prospects") or 0)
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def kill_once_rows_reach(args: list[str], url: str, rows: int) -> bool:
    """Start the export and SIGKILL it once the table holds ``rows`` rows; False if it ended
    first."""
    child = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    while child.returncode is None:
        if await rows_in(url) >= rows:
            child.send_signal(signal.SIGKILL)
            await child.wait()
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(child.wait()), 0.005)
    return False


@pytest.mark.parametrize("partitions", ["1", "3"])
async def test_kill_9_then_rerun_leaves_every_record_once_and_current(
    outreach_sandbox: Sandbox, database: str, partitions: str
) -> None:
    rng = random.Random(int(partitions))
    args = command(outreach_sandbox, database, "--partitions", partitions)
    kills = 0
    for target in sorted(rng.sample(range(50, 1100), 5)):
        kills += await kill_once_rows_reach(args, database, target)
        if kills and rng.random() < 0.5:  # the org changes between runs too
            changed = rng.sample(sorted(outreach_sandbox.store.table("prospect").records), 5)
            for id_ in changed:
                outreach_sandbox.store.update("prospect", id_, {"title": f"t{rng.random()}"})
    status, errors = await run(args)
    assert status == 0, errors
    assert kills >= 3, "the export finished before the kills"
    assert await table_versions(database) == sandbox_versions(outreach_sandbox)
    [checkpoint] = await fetch(database, "SELECT value FROM outreach_checkpoints")
    assert '"spans":null' in checkpoint["value"]  # the run finished


async def test_duckdb_export_and_rerun(outreach_sandbox: Sandbox, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    path = tmp_path / "outreach.duckdb"
    status, errors = await run(command(outreach_sandbox, f"duckdb:///{path}"))
    assert status == 0, errors
    outreach_sandbox.store.update("prospect", 11, {"title": "Changed"})
    status, errors = await run(command(outreach_sandbox, f"duckdb:///{path}"))
    assert status == 0, errors
    with duckdb.connect(str(path)) as db:
        assert db.execute("SELECT count(*), count(DISTINCT id) FROM prospects").fetchone() == (
            1200,
            1200,
        )
        assert db.execute("SELECT title FROM prospects WHERE id = 11").fetchone() == ("Changed",)


@pytest.mark.parametrize(
    ("setup", "url_change", "status", "message"),
    [
        (None, {"port": 1}, 3, "cannot reach postgresql://postgres@127.0.0.1:1/"),
        (
            "CREATE ROLE w_{db} LOGIN PASSWORD 'right'",
            {"user": "w_{db}", "password": "s3cr3t-wrong"},
            3,
            "cannot log in",
        ),
        ("CREATE TABLE prospects (id text PRIMARY KEY)", {}, 2, "incompatible layout: id is text"),
    ],
)
async def test_bad_databases_exit_with_one_line_and_write_nothing(
    outreach_sandbox: Sandbox,
    database: str,
    setup: str | None,
    url_change: dict[str, object],
    status: int,
    message: str,
) -> None:
    url = yarl.URL(database)
    db = url.path.lstrip("/")  # roles are cluster-wide: named after the test's database
    if setup:
        await fetch(database, setup.format(db=db))
    if "port" in url_change:
        url = url.with_port(int(str(url_change["port"])))
    if "user" in url_change:
        user = str(url_change["user"]).format(db=db)
        url = url.with_user(user).with_password(str(url_change["password"]))
    code, errors = await run(command(outreach_sandbox, str(url)))
    assert code == status, errors
    assert message in errors
    assert len(errors.strip().splitlines()) == 1
    assert "Traceback" not in errors
    assert "s3cr3t-wrong" not in errors
    assert not [r for r in outreach_sandbox.requests if "prospects" in r.path]  # no API call


async def test_state_with_a_database_is_bad_input(outreach_sandbox: Sandbox, database: str) -> None:
    code, errors = await run(command(outreach_sandbox, database, "--state", "x.db"))
    assert code == 2
    assert "a database keeps its checkpoints itself" in errors
