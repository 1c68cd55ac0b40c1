"""Exports of a live organisation: the sandbox changes records while they are read (churn).

The sandbox's clock is virtual and moves 30 ms per request, so churn (about 150 updates per
virtual second) lands between pages exactly as it would between real pages of 30 ms, and no
test waits. Each test checks the export against the sandbox's own records:

- one-off (no state): every record that existed for the whole run appears exactly once, at a
  version at least as new as at the run's start;
- incremental (state): a change log; after each run the last line of every id is at least as
  new as the server's version at the run's start, and none is missing; a run without changes
  during it leaves every last line current.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from outreach_async import OutreachClient
from outreach_async.export import SQLiteCheckpointStore, export_resource
from outreach_async.sandbox import Sandbox

from .helpers import read_jsonl
from .test_kill9 import export_command

T0 = 1_800_000_000.0  # after every seeded timestamp
PAGE_SECONDS = 0.03
RATE = 150.0  # updates per virtual second


@contextlib.asynccontextmanager
async def live_sandbox(seed: int, rate: float = RATE) -> AsyncIterator[Sandbox]:
    """A sandbox whose clock moves ``PAGE_SECONDS`` per request, churning at ``rate``."""
    holder: list[Sandbox] = []

    def clock() -> float:
        return T0 + PAGE_SECONDS * (len(holder[0].requests) if holder else 0)

    async with Sandbox(seed=seed, churn=rate, clock=clock) as sandbox:
        holder.append(sandbox)
        yield sandbox


def versions(sandbox: Sandbox) -> dict[int, str]:
    """Every prospect's ``updatedAt`` in the sandbox now."""
    return {
        id_: record["attributes"]["updatedAt"]
        for id_, record in sandbox.store.table("prospect").records.items()
    }


def last_lines(lines: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The last line of each id (a change log's current state)."""
    return {line["id"]: line for line in lines}


def assert_at_least(lines: dict[int, dict[str, Any]], start: dict[int, str]) -> None:
    """Nothing missing, and every record at least as new as at the start."""
    assert start.keys() <= lines.keys(), f"missing: {sorted(start.keys() - lines.keys())[:10]}"
    stale = [i for i, v in start.items() if lines[i]["updatedAt"] < v]
    assert not stale, f"older than at the start: {stale[:10]}"


def assert_consistent(lines: dict[int, dict[str, Any]], sandbox: Sandbox) -> None:
    """A line at the sandbox's current version carries the sandbox's current values."""
    table = sandbox.store.table("prospect").records
    for id_, line in lines.items():
        stored = table[id_]["attributes"]
        if line["updatedAt"] == stored["updatedAt"]:
            assert line.get("custom1") == stored.get("custom1"), id_


async def export(sandbox: Sandbox, out: Path | io.BytesIO, **options: Any) -> Any:
    async with OutreachClient(sandbox.token, base_url=sandbox.base_url) as outreach:
        return await export_resource(outreach, "prospects", out, page_size=50, **options)


@pytest.mark.parametrize("partitions", [1, 4])
async def test_a_one_off_export_of_a_live_org_holds_every_record_once(
    tmp_path: Path, partitions: int
) -> None:
    async with live_sandbox(seed=2000) as sandbox:
        start = versions(sandbox)
        out = tmp_path / "prospects.jsonl"
        result = await export(sandbox, out, partitions=partitions)
        lines = read_jsonl(out)
        counts = Counter(line["id"] for line in lines)
        assert sandbox.churn.updates > 100  # the org changed a lot during the run
        assert set(counts.values()) == {1}  # never twice
        assert set(counts) == set(start)  # nothing missing (churn creates nothing)
        assert result.records == len(lines) == 2000
        assert result.superseded > 0  # versions read twice, the older one dropped
        by_id = last_lines(lines)
        assert_at_least(by_id, start)
        assert_consistent(by_id, sandbox)


async def test_a_one_off_csv_export_of_a_live_org_holds_every_record_once(
    tmp_path: Path,
) -> None:
    async with live_sandbox(seed=600) as sandbox:
        out = tmp_path / "prospects.csv"
        result = await export(sandbox, out, format="csv", partitions=3)
        rows = out.read_text().splitlines()  # seeded prospects carry no newlines in cells
        ids = Counter(int(row.split(",", 1)[0]) for row in rows[1:])
        assert sandbox.churn.updates > 0
        assert set(ids.values()) == {1}
        assert set(ids) == set(versions(sandbox))
        assert result.records == 600


@pytest.mark.parametrize("partitions", [1, 4])
async def test_an_incremental_export_of_a_live_org_is_a_complete_change_log(
    tmp_path: Path, partitions: int
) -> None:
    async with live_sandbox(seed=2000) as sandbox:
        store = SQLiteCheckpointStore(tmp_path / "sync.db")
        out = tmp_path / "prospects.jsonl"
        try:
            for _ in range(2):  # the first run, then one over what changed since
                start = versions(sandbox)
                result = await export(sandbox, out, checkpoint=store, partitions=partitions)
                assert not result.waiting
                assert_at_least(last_lines(read_jsonl(out)), start)
            sandbox.churn.config.rate = 0  # a quiet run: afterwards every last line is current
            await export(sandbox, out, checkpoint=store, partitions=partitions)
        finally:
            await store.close()
        lines = read_jsonl(out)
        current = last_lines(lines)
        assert {i: line["updatedAt"] for i, line in current.items()} == versions(sandbox)
        assert_consistent(current, sandbox)
        # a change log, not a pile of repeats: no version is written twice
        assert len({(line["id"], line["updatedAt"]) for line in lines}) == len(lines)


async def test_a_fleet_run_of_a_live_org_is_complete_once_its_last_span_caught_up(
    tmp_path: Path,
) -> None:
    async with live_sandbox(seed=1500) as sandbox:
        store = SQLiteCheckpointStore(tmp_path / "fleet.db")
        outputs = [tmp_path / f"share{i}.jsonl" for i in range(3)]

        async def member(i: int) -> Any:
            return await export(
                sandbox, outputs[i], checkpoint=store, partition=f"{i}/3", partitions=2
            )

        try:
            start = versions(sandbox)
            # Share 2 holds the last of the 6 spans. Run first, it reads its spans while the
            # other shares have not started: its last span stays open and it waits.
            first = await member(2)
            assert first.waiting
            others = await asyncio.gather(member(0), member(1))
            assert not any(r.waiting for r in others)
            last = await member(2)  # the catch-up pass, the others being done
            assert not last.waiting
        finally:
            await store.close()
        lines = [line for path in outputs for line in read_jsonl(path)]
        latest: dict[int, dict[str, Any]] = {}
        for line in lines:  # the newest line of each id over the shares' files
            if line["id"] not in latest or line["updatedAt"] > latest[line["id"]]["updatedAt"]:
                latest[line["id"]] = line
        assert sandbox.churn.updates > 50
        assert_at_least(latest, start)
        assert len({(line["id"], line["updatedAt"]) for line in lines}) == len(lines)


async def test_a_one_off_export_to_a_stream_is_a_change_log(tmp_path: Path) -> None:
    async with live_sandbox(seed=1000) as sandbox:
        start = versions(sandbox)
        buffer = io.BytesIO()
        await export(sandbox, buffer)  # a stream: no compaction
        lines = [orjson.loads(line) for line in buffer.getvalue().splitlines()]
        ids = Counter(line["id"] for line in lines)
        assert max(ids.values()) > 1  # records changed after they were read came again
        assert_at_least(last_lines(lines), start)


# ---------------------------------------------------------------------------- kill -9


async def kill_after_requests(sandbox: Sandbox, command: list[str], requests: int) -> bool:
    """Start the exporter; SIGKILL it once the sandbox has served ``requests`` more requests.
    False if it finished first."""
    target = len(sandbox.requests) + requests
    child = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    while child.returncode is None:
        if len(sandbox.requests) >= target:
            child.send_signal(signal.SIGKILL)
            await child.wait()
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(child.wait()), 0.005)
    return False


@pytest.mark.slow
async def test_kill_9_during_a_live_incremental_export_then_resume_loses_nothing(
    tmp_path: Path,
) -> None:
    rng = random.Random(16)
    async with live_sandbox(seed=1500) as sandbox:
        out, state = tmp_path / "prospects.jsonl", tmp_path / "sync.db"
        command = export_command(sandbox, out, state, ["--partitions", "3"])
        start = versions(sandbox)  # the run starts here; the kills do not end it
        kills = 0
        for _ in range(3):
            kills += await kill_after_requests(sandbox, command, rng.randrange(4, 12))
        child = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, errors = await asyncio.wait_for(child.communicate(), 120)
        assert child.returncode == 0, errors.decode()
        lines = read_jsonl(out)  # every line parses: no torn line survived
        assert kills >= 2, "the exporter finished before the kills"
        assert sandbox.churn.updates > 50
        assert_at_least(last_lines(lines), start)
        # exactly once across the kills: no version of a record is written twice
        assert len({(line["id"], line["updatedAt"]) for line in lines}) == len(lines)
