"""``outreach-async``: arguments, messages and exit statuses, against the sandbox."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
import time
from pathlib import Path

import pytest

from outreach_async.cli import ExitStatus, main
from outreach_async.sandbox import Sandbox

from .helpers import ids_of, read_jsonl


def test_a_sandbox_export_to_a_file_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "prospects.jsonl"
    status = main(["export", "prospects", "--sandbox", "--sandbox-seed", "120", "--out", str(out)])
    assert status == ExitStatus.OK
    assert len(ids_of(out)) == 120
    err = capsys.readouterr().err
    assert f"exported 120 prospects to {out}" in err
    assert "the next run starts" not in err  # a one-off export: there is no next run
    state = tmp_path / "sync.db"
    status = main(["export", "prospects", "--sandbox", "--sandbox-seed", "120", "--out",
                   str(tmp_path / "synced.jsonl"), "--state", str(state)])  # fmt: skip
    assert status == ExitStatus.OK
    assert "the next run starts at 20" in capsys.readouterr().err


def test_the_format_follows_a_csv_file_name(tmp_path: Path) -> None:
    out = tmp_path / "accounts.csv"
    assert main(["export", "accounts", "--sandbox", "--sandbox-seed", "50", "-o", str(out),
                 "--fields", "name,domain", "-q"]) == 0  # fmt: skip
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0] == ["id", "domain", "name"]
    assert len(rows) > 1


def test_records_go_to_stdout_by_default(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    status = main(["export", "users", "--sandbox", "--sandbox-seed", "10", "-q", "--fields",
                   "email"])  # fmt: skip
    assert status == 0
    lines = capfdbinary.readouterr().out.splitlines()
    assert lines
    assert all(line.startswith(b'{"type":"user","id":') for line in lines)


def test_a_second_run_with_state_appends_nothing_new(tmp_path: Path) -> None:
    out, state = tmp_path / "p.jsonl", tmp_path / "sync.db"
    args = ["export", "prospects", "--sandbox", "--sandbox-seed", "60", "--out", str(out),
            "--state", str(state), "-q"]  # fmt: skip
    assert main(args) == 0
    size = out.stat().st_size
    assert main(args) == 0  # the sandbox is seeded the same way: nothing changed since
    assert out.stat().st_size == size


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prospectz"], "unknown resource 'prospectz'; did you mean prospects"),
        (["prospects", "--filter", "nope=1"], "cannot filter prospect by 'nope'"),
        (["prospects", "--filter", "title"], "--filter takes key=value"),
        (["prospects", "--filter", "updatedAt=2024-01-01..inf"], "use since/until"),
        (["prospects", "--since", "yesterday"], "not an ISO 8601 date"),
        (["prospects", "--fields", "colour"], "has no field 'colour'"),
        (["prospects", "--partition", "3/3"], "0 <= i < N"),
        (["prospects", "--partitions", "0"], "at least 1"),
        (["prospects", "--max-concurrency", "0"], "--max-concurrency must be at least 1, not 0"),
        (["prospects", "--sandbox-latency", "-1"], "--sandbox-latency must be at least 0"),
        (["prospects", "--checkpoint-every", "-1"], "--checkpoint-every must be at least 0"),
        (["prospects", "--page-size", "5000"], "between 1 and 1000"),
        (["imports"], "cannot be listed"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status = main(["export", *args, "--sandbox", "--sandbox-seed", "5", "-o", str(tmp_path / "x")])
    assert status == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("outreach-async: ")
    assert "Traceback" not in err


def test_no_token_and_no_sandbox_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTREACH_TOKEN", raising=False)
    monkeypatch.delenv("OUTREACH_CLIENT_SECRET", raising=False)
    assert main(["export", "prospects"]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "no token: pass --token or set OUTREACH_TOKEN; or log in with" in err
    assert "or use --sandbox" in err


def test_argparse_errors_return_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export"]) == 2
    assert main(["export", "prospects", "--format", "xml"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_a_checkpoint_that_outgrew_its_file_exits_5(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, state = tmp_path / "p.jsonl", tmp_path / "sync.db"
    args = ["export", "prospects", "--sandbox", "--sandbox-seed", "20", "-o", str(out), "--state",
            str(state), "-q"]  # fmt: skip
    assert main(args) == 0
    out.write_bytes(b"")  # someone emptied the output behind the sync's back
    assert main(args) == ExitStatus.STATE
    assert "it was truncated or replaced" in capsys.readouterr().err


def test_the_help_lists_commands_and_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert "export    export one resource" in listing
    assert "sandbox   run a local Outreach API sandbox" in listing
    assert main(["export", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "3 Outreach API or network error" in help_text
    assert "4 interrupted (run it again to resume)" in help_text


async def run_cli(*args: str) -> tuple[int, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "outreach_async.cli", *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await child.communicate()
    assert child.returncode is not None
    return child.returncode, err.decode()


@pytest.mark.outreach_sandbox(seed=30)
async def test_a_rejected_token_exits_3_without_showing_it(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    status, err = await run_cli(
        "export", "prospects", "--base-url", outreach_sandbox.base_url, "--token", "s3cr3t-tok",
        "-o", str(tmp_path / "p.jsonl"),
    )  # fmt: skip
    assert status == ExitStatus.API
    assert "Outreach answered 401" in err
    assert "s3cr3t-tok" not in err


@pytest.mark.outreach_sandbox(seed=30)
async def test_the_environment_gives_the_url_and_token(
    outreach_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTREACH_BASE_URL", outreach_sandbox.base_url)
    monkeypatch.setenv("OUTREACH_TOKEN", outreach_sandbox.token)
    out = tmp_path / "p.jsonl"
    status, err = await run_cli("export", "prospects", "-o", str(out), "--partitions", "2")
    assert status == 0, err
    assert len(read_jsonl(out)) == 30


@pytest.mark.outreach_sandbox(seed=30, mint_throttle=0.0)
async def test_tokens_saved_by_auth_login_are_refreshed_and_used(
    outreach_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from outreach_async.auth import FileTokenStore, TokenSet

    authority = outreach_sandbox.authority
    token_file = tmp_path / "tokens.json"
    refresh = authority.issue_refresh_token()
    # an access token that expired an hour ago: the export must refresh before it starts
    await FileTokenStore(token_file).save(TokenSet("stale-access", refresh, time.time() - 3600))
    monkeypatch.delenv("OUTREACH_TOKEN", raising=False)
    monkeypatch.setenv("OUTREACH_CLIENT_ID", authority.client_id)
    monkeypatch.setenv("OUTREACH_CLIENT_SECRET", authority.client_secret)
    out = tmp_path / "p.jsonl"
    status, err = await run_cli(
        "export", "prospects", "-o", str(out), "--base-url", outreach_sandbox.base_url,
        "--token-file", str(token_file), "--token-url", outreach_sandbox.token_url,
    )  # fmt: skip
    assert status == 0, err
    assert len(read_jsonl(out)) == 30
    saved = await FileTokenStore(token_file).load()
    assert saved is not None
    assert saved.refresh_token != refresh  # the rotated refresh token was persisted
    assert authority.is_valid(saved.access_token)
