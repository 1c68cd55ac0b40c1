"""Exactly once after ``kill -9``: an ``outreach-async export`` subprocess is killed at random
moments, then run again until it finishes; the output holds every record exactly once.

The sandbox runs in the test process (on loopback); the exporter is a real child process that
checkpoints to SQLite every 20 ms, each kill lands once the output grew by a random amount (plus a
random delay), so between checkpoints, with records written past the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from outreach_async.sandbox import FaultConfig, Sandbox

from .helpers import ids_of, stored_ids

pytestmark = [
    pytest.mark.slow,
    pytest.mark.outreach_sandbox(seed=1500, faults=FaultConfig(latency=0.01)),
]


def export_command(sandbox: Sandbox, out: Path, state: Path, extra: Sequence[str]) -> list[str]:
    return [
        sys.executable, "-m", "outreach_async.cli", "export", "prospects",
        "--out", str(out), "--state", str(state), "--base-url", sandbox.base_url,
        "--token", sandbox.token, "--page-size", "40", "--checkpoint-every", "0.02", "-q",
        *extra,
    ]  # fmt: skip


def size_of(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def run_to_end(command: list[str]) -> None:
    child = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, errors = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 0, errors.decode()


async def kill_after_growth(command: list[str], out: Path, growth: int, jitter: float) -> bool:
    """Start the exporter, SIGKILL it once ``out`` grew by ``growth`` bytes (plus up to
    ``jitter`` seconds). False if it finished first."""
    start = size_of(out)
    child = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    while child.returncode is None:
        if size_of(out) >= start + growth:
            await asyncio.sleep(jitter)
            if child.returncode is None:
                child.send_signal(signal.SIGKILL)
                await child.wait()
                return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(child.wait()), 0.005)
    return False


@pytest.mark.parametrize("partitions", ["1", "3"])
async def test_kill_9_at_random_moments_then_rerun_leaves_each_record_once(
    outreach_sandbox: Sandbox, tmp_path: Path, partitions: str
) -> None:
    rng = random.Random(int(partitions))
    out, state = tmp_path / "prospects.jsonl", tmp_path / "sync.db"
    command = export_command(outreach_sandbox, out, state, ["--partitions", partitions])
    kills = 0
    for _ in range(4):
        growth = rng.randrange(100_000, 900_000)  # the whole export is about 6.5 MB
        kills += await kill_after_growth(command, out, growth, rng.uniform(0.0, 0.03))
    await run_to_end(command)
    counts = ids_of(out)  # every line parses: no torn line survived
    assert set(counts) == stored_ids(outreach_sandbox)
    assert set(counts.values()) == {1}
    assert kills >= 3, "the exporter finished before the kills"


async def test_sigterm_exits_4_and_a_rerun_finishes(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out, state = tmp_path / "prospects.jsonl", tmp_path / "sync.db"
    command = export_command(outreach_sandbox, out, state, [])
    child = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    while size_of(out) == 0:  # noqa: ASYNC110 - polling another process's file
        await asyncio.sleep(0.02)
    child.send_signal(signal.SIGTERM)
    assert child.stderr is not None
    errors = (await child.stderr.read()).decode()
    assert await child.wait() == 4
    assert "interrupted; run the same command again to resume" in errors
    await run_to_end(command)
    counts = ids_of(out)
    assert set(counts) == stored_ids(outreach_sandbox)
    assert set(counts.values()) == {1}
