"""The command line keeps the user's files and says what went wrong in one line.

Each test runs the real console entry (``outreach-async``) as a child process against a sandbox
on loopback, then checks the exit status, the one line on stderr (no traceback) and the bytes of
the user's files.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from outreach_async import ConnectError
from outreach_async.cli import ExitStatus
from outreach_async.cli._export import _show_retries
from outreach_async.export import ProgressBar
from outreach_async.sandbox import Sandbox
from tests.ports import unused_port

from ..integration.virtual_time import VirtualClock, virtual_client
from .helpers import ids_of, stored_ids

PREVIOUS = b'{"type":"prospect","id":424242,"firstName":"kept"}\n' * 500

CONSOLE = Path(sys.executable).with_name("outreach-async")
ENTRY = [str(CONSOLE)] if CONSOLE.exists() else [sys.executable, "-m", "outreach_async.cli"]


async def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``outreach-async ARGS``; its exit status and stderr."""
    child = await asyncio.create_subprocess_exec(
        *ENTRY, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env
    )
    _, err = await asyncio.wait_for(child.communicate(), 120)
    assert child.returncode is not None
    return child.returncode, err.decode()


def one_line(err: str) -> str:
    """The single line a failed command printed (no traceback, nothing else)."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("outreach-async: ")
    return lines[0]


def size_of(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


def connect(sandbox: Sandbox) -> list[str]:
    return ["--base-url", sandbox.base_url, "--token", sandbox.token]


# ------------------------------------------------------------------ one-off exports


@pytest.mark.outreach_sandbox(seed=40)
async def test_a_one_off_export_replaces_the_file_when_complete(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "p.jsonl"
    out.write_bytes(PREVIOUS)
    status, err = await cli("export", "prospects", "-o", str(out), *connect(outreach_sandbox))
    assert status == ExitStatus.OK, err
    assert set(ids_of(out)) == stored_ids(outreach_sandbox)
    assert max(ids_of(out).values()) == 1
    assert leftovers(tmp_path) == []
    assert "the next run starts" not in err  # a one-off export has no state, so no next run


@pytest.mark.outreach_sandbox(seed=40)
@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--token", "wrong"], ExitStatus.API, "Outreach answered 401"),
        (["--base-url", "127.0.0.1:8787/api/v2"], ExitStatus.USAGE, "is not an http(s) URL"),
        (["--base-url", "{root}"], ExitStatus.USAGE, "its path lacks /api/v2"),
        (["--filter", "titl=CEO"], ExitStatus.USAGE, "'titl': no such field; did you mean title?"),
    ],
)
async def test_a_failed_one_off_export_leaves_the_file_byte_for_byte(
    outreach_sandbox: Sandbox, tmp_path: Path, args: list[str], status: int, message: str
) -> None:
    out = tmp_path / "p.jsonl"
    out.write_bytes(PREVIOUS)
    root = outreach_sandbox.base_url.removesuffix("/api/v2")
    given = [a.replace("{root}", root) for a in args]
    code, err = await cli(
        "export", "prospects", "-o", str(out), *connect(outreach_sandbox), *given
    )  # fmt: skip
    assert code == status
    assert message in one_line(err)
    assert out.read_bytes() == PREVIOUS
    assert leftovers(tmp_path) == []


def slow_export(out: Path, *extra: str) -> list[str]:
    """An in-process sandbox export that takes a while: 2,000 records, 100 a page, 50 ms each."""
    return [
        "export", "prospects", "-o", str(out), "--sandbox", "--sandbox-seed", "2000",
        "--sandbox-latency", "0.05", "--page-size", "100", "-q", *extra,
    ]  # fmt: skip


async def start_and_wait_for_growth(args: list[str], watched: Path) -> asyncio.subprocess.Process:
    """Start the command; return once ``watched`` holds some records (it is still running)."""
    child = await asyncio.create_subprocess_exec(
        *ENTRY, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    while size_of(watched) < 10_000:
        assert child.returncode is None, "the export ended before it could be interrupted"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(child.wait()), 0.01)
    return child


async def test_kill_9_during_a_one_off_export_leaves_the_file_then_a_rerun_replaces_it(
    tmp_path: Path,
) -> None:
    out = tmp_path / "p.jsonl"
    out.write_bytes(PREVIOUS)
    child = await start_and_wait_for_growth(slow_export(out), tmp_path / "p.jsonl.partial")
    child.send_signal(signal.SIGKILL)
    await child.wait()
    assert out.read_bytes() == PREVIOUS
    assert leftovers(tmp_path) == ["p.jsonl.partial"]  # named after its target
    status, err = await cli(*slow_export(out, "--sandbox-latency", "0"))
    assert status == ExitStatus.OK, err
    assert len(ids_of(out)) == 2000
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("signal_", [signal.SIGINT, signal.SIGTERM])
async def test_an_interrupted_one_off_export_leaves_the_file_and_no_partial(
    tmp_path: Path, signal_: signal.Signals
) -> None:
    out = tmp_path / "p.jsonl"
    out.write_bytes(PREVIOUS)
    child = await start_and_wait_for_growth(slow_export(out), tmp_path / "p.jsonl.partial")
    child.send_signal(signal_)
    _, err = await child.communicate()
    assert child.returncode == ExitStatus.INTERRUPTED
    assert "interrupted" in one_line(err.decode())
    assert out.read_bytes() == PREVIOUS
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------ incremental exports


def incremental(out: Path, state: Path, *extra: str) -> list[str]:
    return [
        "export", "accounts", "-o", str(out), "--state", str(state), "--sandbox",
        "--sandbox-seed", "50", "-q", *extra,
    ]  # fmt: skip


def lose_state(state: Path, how: str) -> None:
    if how == "missing":
        state.unlink()
    elif how == "empty":
        state.write_bytes(b"")
    elif how == "unreadable":
        state.write_bytes(b"this is not a SQLite database, it is " * 100)
    elif how == "wrong shape":  # valid JSON in the checkpoint row, not a checkpoint
        with contextlib.closing(sqlite3.connect(state)) as db, db:
            db.execute("UPDATE outreach_checkpoints SET value = ?", ('{"version": 1, "base": 7}',))


@pytest.mark.parametrize("how", ["missing", "empty", "unreadable", "wrong shape"])
async def test_a_lost_state_beside_an_output_with_records_is_refused_then_restart_works(
    tmp_path: Path, how: str
) -> None:
    out, state = tmp_path / "accounts.jsonl", tmp_path / "sync.db"
    status, err = await cli(*incremental(out, state))
    assert status == ExitStatus.OK, err
    exported = out.read_bytes()
    lose_state(state, how)

    status, err = await cli(*incremental(out, state))
    assert status == ExitStatus.STATE
    line = one_line(err)
    assert str(out) in line
    assert str(state) in line
    assert "--restart" in line
    assert out.read_bytes() == exported  # never appended to

    status, err = await cli(*incremental(out, state, "--restart"))
    assert status == ExitStatus.OK, err
    assert out.read_bytes() == exported  # the same records, each once


async def test_restart_says_what_it_discards(tmp_path: Path) -> None:
    out, state = tmp_path / "accounts.jsonl", tmp_path / "sync.db"
    args = incremental(out, state)[:-1]  # without -q
    assert (await cli(*args))[0] == ExitStatus.OK
    exported = out.read_bytes()
    status, err = await cli(*args, "--restart")
    assert status == ExitStatus.OK, err
    assert f"starting over; this export's checkpoint in {state} and the contents of {out}" in err
    assert out.read_bytes() == exported


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "{file}/p.jsonl"], "--out {file}/p.jsonl: cannot be written"),
        (["-o", "{tmp}"], "--out {tmp}: is a directory"),
        (["-o", "-", "--state", "{file}/sync.db"], "--state {file}/sync.db: cannot be written"),
        (["-o", "/dev/full"], "/dev/full"),
        (["-o", "-", "--restart"], "--restart starts an incremental export over: it needs --state"),
    ],
)
async def test_a_path_that_cannot_be_written_exits_2_naming_it(
    tmp_path: Path, args: list[str], message: str
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    filled = {"{file}": str(a_file), "{tmp}": str(tmp_path)}
    for placeholder, value in filled.items():
        args = [a.replace(placeholder, value) for a in args]
        message = message.replace(placeholder, value)
    status, err = await cli("export", "users", "--sandbox", "--sandbox-seed", "5", *args)
    assert status == ExitStatus.USAGE
    assert message in one_line(err)


async def test_a_name_that_does_not_resolve_fails_at_once(tmp_path: Path) -> None:
    out = tmp_path / "p.jsonl"
    out.write_bytes(PREVIOUS)
    status, err = await cli(
        "export", "prospects", "-o", str(out), "--base-url", "http://outreach.invalid/api/v2",
        "--token", "t",
    )  # fmt: skip
    assert status == ExitStatus.API
    assert "cannot resolve the host name 'outreach.invalid'" in one_line(err)
    assert "retry" not in err
    assert out.read_bytes() == PREVIOUS


def without_credentials() -> dict[str, str]:
    import os

    env = dict(os.environ)
    for name in ("OUTREACH_TOKEN", "OUTREACH_CLIENT_ID", "OUTREACH_CLIENT_SECRET"):
        env.pop(name, None)
    return env


async def test_token_file_errors_say_what_is_missing(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    base = ["export", "users", "-o", "-", "--base-url", "http://127.0.0.1:1/api/v2"]
    env = without_credentials()
    status, err = await cli(*base, "--token-file", str(tokens), env=env)
    assert status == ExitStatus.USAGE
    assert f"--token-file {tokens}: no such file" in one_line(err)

    tokens.write_text("{}")
    status, err = await cli(*base, "--token-file", str(tokens), env=env)
    assert status == ExitStatus.USAGE
    line = one_line(err)
    assert f"the tokens in {tokens} are refreshed with the OAuth app's credentials" in line
    assert "OUTREACH_CLIENT_ID (or --client-id) and OUTREACH_CLIENT_SECRET" in line

    env["OUTREACH_CLIENT_ID"] = "app"
    status, err = await cli(*base, "--token-file", str(tokens), env=env)
    assert "set OUTREACH_CLIENT_SECRET" in one_line(err)
    assert "OUTREACH_CLIENT_ID" not in err


# ------------------------------------------------------------------ retries on show


async def test_on_a_terminal_each_retry_shows_on_the_progress_line() -> None:
    clock, err, screen = VirtualClock(), io.StringIO(), io.StringIO()
    bar = ProgressBar("prospects", stream=screen, enabled=True)
    base_url = f"http://127.0.0.1:{unused_port()}/api/v2"
    hooks = _show_retries(bar, err)
    async with clock.running(), virtual_client(clock, base_url, "t", hooks=hooks) as client:
        with pytest.raises(ConnectError):
            await client.prospects.list().first()
    bar.close()
    assert err.getvalue() == ""
    assert re.search(r"retry 1 in [0-9.]+ s after ConnectError", screen.getvalue())


async def test_each_retry_is_logged_when_stderr_is_not_a_terminal() -> None:
    clock, err = VirtualClock(), io.StringIO()
    hooks = _show_retries(None, err)
    base_url = f"http://127.0.0.1:{unused_port()}/api/v2"
    async with clock.running(), virtual_client(clock, base_url, "t", hooks=hooks) as client:
        with pytest.raises(ConnectError, match="cannot connect"):
            await client.prospects.list().first()
    lines = err.getvalue().splitlines()
    assert len(lines) >= 2
    assert lines[0].startswith(f"outreach-async: GET {base_url}/prospects")
    assert "retry 1 in " in lines[0]
    assert lines[0].endswith("s after ConnectError")


async def test_a_fleet_member_is_told_to_move_the_file_not_to_restart(tmp_path: Path) -> None:
    out, state = tmp_path / "accounts.jsonl", tmp_path / "sync.db"
    out.write_bytes(PREVIOUS)
    status, err = await cli(*incremental(out, state, "--partition", "0/2"))
    assert status == ExitStatus.STATE
    line = one_line(err)
    assert f"move {out} away, or give this member another --out" in line
    assert "--restart" not in line
    assert out.read_bytes() == PREVIOUS


async def test_a_sandbox_port_out_of_range_exits_2() -> None:
    status, err = await cli("sandbox", "serve", "--port", "99999")
    assert status == ExitStatus.USAGE
    assert "port must be 0-65535" in one_line(err)
