"""Real fleet processes for the tests: ``outreach-async fleet ...`` started as subprocesses.

The test's own event loop keeps serving the sandboxes (they run in the test process) while it
waits for these, so every wait here is asynchronous and bounded.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["fleet", "run_fleet", "wait_for", "worker"]

#: bound of every wait: far above what the tests need on a quiet machine
TIMEOUT = 120.0


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "outreach_async.cli", "fleet", *args]


async def run_fleet(*args: str) -> tuple[int, str, str]:
    """Run ``outreach-async fleet ARGS`` to its end: (exit status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *_command(*args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@asynccontextmanager
async def worker(config: Path, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """A ``fleet worker`` process, ready when yielded; stopped with SIGTERM (or SIGKILL if the
    test killed or must kill it) at the end."""
    with _append(log) as err:
        process = await asyncio.create_subprocess_exec(
            *_command("worker", "--config", str(config)),
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
        assert line.startswith(b"fleet worker ready"), line
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


@asynccontextmanager
async def fleet(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """A ``fleet ARGS`` process running beside the test (killed if the test leaves early)."""
    process = await asyncio.create_subprocess_exec(
        *_command(*args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def wait_for(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``condition`` until it holds; fail after :data:`TIMEOUT` seconds."""
    async with asyncio.timeout(TIMEOUT):
        for _ in itertools.count():
            if await condition():
                return
            await asyncio.sleep(0.05)


def _append(path: Path) -> BinaryIO:
    return open(path, "ab")
