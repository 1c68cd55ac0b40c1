"""The sandbox's own serving speed (issue 3): records/s for 1000-record pages on one core.

The sandbox runs in its own process (``outreach-async sandbox serve``), so it has one core to
itself; a minimal client in this process reads pages and finds ``links.next`` with a byte
search (no JSON parsing), so the figure is the server's, not the client's. Client benchmarks
use it to know the server is not their bottleneck.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import aiohttp
import orjson

_NEXT = re.compile(rb'"next":"([^"]+)"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served_sandbox(seed: int) -> Iterator[tuple[str, str]]:
    """A seeded sandbox in a child process; yields its API base URL and its token."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "outreach_async.cli",
        "sandbox",
        "serve",
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--rate-limit",
        "off",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        yield _read_banner(process)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _read_banner(process: subprocess.Popen[bytes]) -> tuple[str, str]:
    # ``sandbox serve`` prints OUTREACH_BASE_URL=... and OUTREACH_TOKEN=... once it listens.
    found: dict[str, str] = {}
    assert process.stdout is not None
    for raw in process.stdout:
        key, _, value = raw.decode().strip().partition("=")
        if key in ("OUTREACH_BASE_URL", "OUTREACH_TOKEN"):
            found[key] = value
        if len(found) == 2:
            return found["OUTREACH_BASE_URL"], found["OUTREACH_TOKEN"]
    raise RuntimeError("the sandbox exited before it was ready")


async def _stream(url: str, token: str) -> tuple[int, int, int, float]:
    """Pages, records, bytes and seconds to read a whole collection, following next links."""
    pages = size = records = 0
    start = time.perf_counter()
    next_url: str | None = url
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        while next_url:
            async with session.get(next_url) as response:
                body = await response.read()
                response.raise_for_status()
            pages += 1
            size += len(body)
            found = _NEXT.search(body[-2000:])
            next_url = found.group(1).decode() if found else None
            records += 1000 if next_url else len(orjson.loads(body)["data"])
    return pages, records, size, time.perf_counter() - start


async def _measure(base_url: str, token: str, resource: str, rounds: int) -> dict[str, float]:
    url = f"{base_url}/{resource}?page%5Bsize%5D=1000"
    runs = [await _stream(url, token) for _ in range(rounds)]
    pages, records, size, _ = runs[0]
    seconds = statistics.median(r[3] for r in runs)
    return {
        "records": records,
        "pages": pages,
        "mb_per_page": size / pages / 1e6,
        "seconds": seconds,
        "records_per_s": records / seconds,
    }


async def _seconds_to_start(seed: int) -> tuple[float, int, int]:
    """Seconds to seed ``seed`` prospects with the whole org around them (every collection
    type, :mod:`outreach_async.sandbox.seed`) and start serving; records and types seeded."""
    from outreach_async.sandbox import Sandbox

    started = time.perf_counter()
    async with Sandbox(seed=seed) as sandbox:
        elapsed = time.perf_counter() - started
        tables = sandbox.store.tables.values()
        records = sum(len(table) for table in tables)
        types = sum(1 for table in tables if len(table))
    return elapsed, records, types


def run_all(quick: bool = False) -> dict[str, object]:
    seed = 20_000 if quick else 100_000
    rounds = 1 if quick else 3
    seconds, records, types = asyncio.run(_seconds_to_start(seed))
    out: dict[str, object] = {
        "seed_prospects": seed,
        "seed_records": records,
        "seed_types": types,
        "seed_and_start_s": seconds,
    }
    with served_sandbox(seed) as (base_url, token):
        for resource in ("prospects", "tasks", "events"):
            out[resource] = asyncio.run(_measure(base_url, token, resource, rounds))
    return out
