"""Exactly once after ``kill -9``: an ``outreach-async export`` subprocess is killed at many
points, then run again until it finishes; the output holds every record of the sandbox exactly
once.

The exporter is a real child process. It talks to the sandbox through a small proxy in the test
process, which holds the n-th request of a run: the test then knows where the child stands
(it asked for that page, so every earlier page is in its hands) and kills it there. Each kill is
one of three kinds, and the state at kill time (the checkpoint's offset in SQLite, the output's
length) is recorded:

- *at a checkpoint*: the child checkpoints after every batch (``--checkpoint-every 0``); the kill
  waits until the checkpoint covers everything written, so the resume has nothing to cut;
- *between checkpoints*: the child would checkpoint only after an hour, so everything it wrote
  in this run lies past the checkpoint, and the resume must cut it off and write it again;
- *mid-page*: the kill lands the moment the request arrives, while the previous page is being
  written or checkpointed.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import attrs
import pytest
from aiohttp import web

from outreach_async.sandbox import FaultConfig, Sandbox

from .helpers import ids_of, stored_ids

pytestmark = [
    pytest.mark.slow,
    pytest.mark.outreach_sandbox(seed=1500, faults=FaultConfig(latency=0.01)),
]

AT_CHECKPOINT, BETWEEN_CHECKPOINTS, MID_PAGE = "at a checkpoint", "between checkpoints", "mid-page"
#: the child's checkpoint interval per kind of kill
CADENCE = {AT_CHECKPOINT: "0", BETWEEN_CHECKPOINTS: "3600", MID_PAGE: "0.02"}


def export_command(
    sandbox: Sandbox,
    out: Path,
    state: Path,
    extra: Sequence[str],
    *,
    base_url: str | None = None,
    page_size: int = 40,
    checkpoint_every: str | None = "0.02",
) -> list[str]:
    """The CLI export of prospects from ``sandbox`` (or through ``base_url`` to it)."""
    command = [
        sys.executable, "-m", "outreach_async.cli", "export", "prospects",
        "--out", str(out), "--state", str(state), "--base-url", base_url or sandbox.base_url,
        "--token", sandbox.token, "--page-size", str(page_size), "-q", *extra,
    ]  # fmt: skip
    if checkpoint_every is not None:
        command += ["--checkpoint-every", checkpoint_every]
    return command


def size_of(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def ends_torn(path: Path) -> bool:
    """Whether the file's last line is incomplete."""
    if size_of(path) == 0:
        return False
    with path.open("rb") as file:
        file.seek(-1, 2)
        return file.read(1) != b"\n"


def checkpointed_offset(state: Path) -> int:
    """The output offset the checkpoint store holds (0 before the first checkpoint)."""
    if not state.exists():
        return 0
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT value FROM outreach_checkpoints").fetchall()
    return max((int(json.loads(value).get("offset") or 0) for (value,) in rows), default=0)


@attrs.define
class Gate:
    """A proxy to the sandbox that holds the ``hold_at``-th request until :meth:`release`."""

    upstream: str
    url: str = ""
    seen: int = 0
    hold_at: int | None = None
    reached: asyncio.Event = attrs.Factory(asyncio.Event)
    released: asyncio.Event = attrs.Factory(asyncio.Event)

    def arm(self, hold_at: int) -> None:
        self.seen, self.hold_at = 0, hold_at
        self.reached.clear()
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    async def forward(self, request: web.Request) -> web.StreamResponse:
        self.seen += 1
        if self.seen == self.hold_at:
            self.reached.set()
            await self.released.wait()
        target = self.upstream + request.path_qs.removeprefix("/api/v2")
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, target, headers=headers, data=await request.read()
            ) as answer,
        ):
            body = (await answer.read()).replace(self.upstream.encode(), self.url.encode())
            kept = {k: v for k, v in answer.headers.items() if k.lower() in _KEPT_HEADERS}
            return web.Response(status=answer.status, body=body, headers=kept)


_KEPT_HEADERS = {"content-type", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"}


@asynccontextmanager
async def gate_to(sandbox: Sandbox) -> AsyncIterator[Gate]:
    gate = Gate(sandbox.base_url)
    app = web.Application()
    app.router.add_route("*", "/api/v2/{tail:.*}", gate.forward)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    gate.url = f"http://{host}:{port}/api/v2"
    try:
        yield gate
    finally:
        gate.release()
        await runner.cleanup()


async def wait_for_state(
    child: asyncio.subprocess.Process, ready: Callable[[], bool], *, poll: float = 0.005
) -> bool:
    """Poll another process's files until ``ready()`` holds; False if the child exited first."""
    async with asyncio.timeout(60):  # a hang guard, not a measurement
        while not ready():
            if child.returncode is not None:
                return False
            await asyncio.sleep(poll)
    return True


@attrs.frozen
class Kill:
    kind: str
    hold_at: int
    size: int
    offset: int
    torn: bool


async def run_and_kill(
    gate: Gate, command: list[str], kind: str, hold_at: int, out: Path, state: Path
) -> Kill | None:
    """One run of the exporter, killed as ``kind`` says at its ``hold_at``-th request; None if
    it finished first."""
    start_offset, start_size = checkpointed_offset(state), size_of(out)
    gate.arm(hold_at)
    child = await asyncio.create_subprocess_exec(
        *command, "--checkpoint-every", CADENCE[kind],
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    reached = asyncio.ensure_future(gate.reached.wait())
    exited = asyncio.ensure_future(child.wait())
    await asyncio.wait([reached, exited], return_when=asyncio.FIRST_COMPLETED)
    reached.cancel()
    if exited.done():
        return None
    if kind == AT_CHECKPOINT:  # this run wrote and checkpointed everything it was handed
        await wait_for_state(
            child, lambda: checkpointed_offset(state) == size_of(out) > start_offset
        )
    elif kind == BETWEEN_CHECKPOINTS:  # this run wrote past the checkpoint
        # (it follows a kill at a checkpoint, so the resume has nothing to cut first)
        assert start_size == start_offset
        await wait_for_state(child, lambda: size_of(out) > start_offset)
    if child.returncode is not None:
        return None
    child.send_signal(signal.SIGKILL)
    await exited
    gate.release()
    return Kill(kind, hold_at, size_of(out), checkpointed_offset(state), ends_torn(out))


@pytest.mark.parametrize(("partitions", "rounds"), [("1", 12), ("3", 6)])
async def test_kill_9_at_many_points_then_rerun_leaves_each_record_once(
    outreach_sandbox: Sandbox, tmp_path: Path, partitions: str, rounds: int
) -> None:
    rng = random.Random(int(partitions))
    out, state = tmp_path / "prospects.jsonl", tmp_path / "sync.db"
    kills: list[Kill] = []
    async with gate_to(outreach_sandbox) as gate:
        command = export_command(
            outreach_sandbox,
            out,
            state,
            ["--partitions", partitions],
            base_url=gate.url,
            page_size=25,
            checkpoint_every=None,
        )
        kinds = [AT_CHECKPOINT, BETWEEN_CHECKPOINTS, MID_PAGE]  # in this order, see run_and_kill
        for round_ in range(rounds):
            kill = await run_and_kill(
                gate, command, kinds[round_ % 3], rng.randrange(4, 9), out, state
            )
            if kill is None:
                break
            kills.append(kill)
        gate.arm(0)  # hold nothing
        child = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, errors = await child.communicate()
        assert child.returncode == 0, errors.decode()

    counts = ids_of(out)  # every line parses: no torn line survived
    assert set(counts) == stored_ids(outreach_sandbox)  # none missing, none foreign
    assert set(counts.values()) == {1}  # none twice
    report = [attrs.astuple(kill) for kill in kills]
    assert len(kills) == rounds, report  # each run was killed; none finished first
    at_checkpoint = [k for k in kills if k.size == k.offset > 0]
    past_checkpoint = [k for k in kills if k.size > k.offset > 0]
    assert len(at_checkpoint) >= rounds // 3, report  # the resume had nothing to cut
    assert len(past_checkpoint) >= rounds // 3, report  # it cut records off, wrote them again
    assert {k.kind for k in kills} == {AT_CHECKPOINT, BETWEEN_CHECKPOINTS, MID_PAGE}


async def test_sigterm_exits_4_and_a_rerun_finishes(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out, state = tmp_path / "prospects.jsonl", tmp_path / "sync.db"
    async with gate_to(outreach_sandbox) as gate:
        command = export_command(outreach_sandbox, out, state, [], base_url=gate.url, page_size=25)
        gate.arm(4)
        child = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        await gate.reached.wait()  # the child is mid-export, waiting for a page
        child.send_signal(signal.SIGTERM)
        gate.release()
        assert child.stderr is not None
        errors = (await child.stderr.read()).decode()
        assert await child.wait() == 4
        assert "interrupted; run the same command again to resume" in errors
        gate.arm(0)
        rerun = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, errors_again = await rerun.communicate()
        assert rerun.returncode == 0, errors_again.decode()
    counts = ids_of(out)
    assert set(counts) == stored_ids(outreach_sandbox)
    assert set(counts.values()) == {1}
