"""Loading into PostgreSQL against writing JSON Lines, measured in the same run.

Each run is the real command (``outreach-async export prospects -q``) in its own process, its
wall time and its own peak resident memory (VmHWM) read at the end: once to a JSON Lines file,
once to a fresh PostgreSQL database (``--out postgresql://...``), interleaved, three rounds.

- ``rate_sandbox``: the sandbox (in its own process, no latency) serving N prospects; the
  figure the issue asks for is the load rate over the JSON Lines rate, per round and median.
  Beside it, the CPU time per record of the command's process (both exports) and of the
  PostgreSQL server's processes (the load): on two cores both count.
- ``memory_fast_server``: the load into PostgreSQL of 100,000 and of 1,000,000 synthetic
  prospects from the fast page server, peak memory of each: flat in the record count.

``python -m benchmarks.bench_sinks [--quick]``; needs PostgreSQL's binaries (Debian's
postgresql) or ``POSTGRES_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import yarl

from benchmarks._rounds import proc_stat
from benchmarks.bench_export import measured_export, sandbox_process
from tests.postgres_server import postgres_server_url

ROUNDS = 3


@contextlib.contextmanager
def fast_server(total: int) -> Iterator[str]:
    """The synthetic page server of ``bench_export`` in a child process, no latency."""
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_export", "serve", str(total), "0"],
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        yield server.stdout.readline().decode().strip()
    finally:
        server.terminate()
        server.wait()


async def _new_database(server: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return str(yarl.URL(server).with_path(f"/{name}"))


async def _rows(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM prospects"))
    finally:
        await conn.close()


async def _postmaster(server: str) -> int | None:
    """The PostgreSQL server's main process, when it runs on this machine."""
    conn = await asyncpg.connect(server)
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        try:
            return int(proc_stat(backend)[1])
        except OSError:
            return None
    finally:
        await conn.close()


def _server_cpu(postmaster: int | None) -> float:
    """CPU seconds of the server's processes so far: the postmaster with the backends it has
    reaped, and its live children."""
    if postmaster is None:
        return 0.0
    ticks = sum(int(v) for v in proc_stat(postmaster)[11:15])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            fields = proc_stat(pid)
            if fields[1] == str(postmaster):
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _lines(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for _ in lines)


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


async def rate_sandbox(server: str, total: int, rounds: int) -> dict[str, Any]:
    """JSON Lines and PostgreSQL exports of the same sandbox, taking turns."""
    jsonl: list[float] = []
    postgres: list[float] = []
    cpu: dict[str, list[float]] = {"jsonl": [], "postgres": [], "postgres_server": []}
    postmaster = await _postmaster(server)
    async with sandbox_process(total, 0.0) as (base, token, _pid):
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(rounds):
                out = Path(tmp) / "prospects.jsonl"
                seconds, _, used = await asyncio.to_thread(measured_export, base, token, str(out))
                if _lines(out) != total:
                    raise AssertionError(f"{_lines(out)} lines, expected {total}")
                jsonl.append(total / seconds)
                cpu["jsonl"].append(used / total * 1e6)
                database = await _new_database(server)
                before = _server_cpu(postmaster)
                seconds, _, used = await asyncio.to_thread(measured_export, base, token, database)
                cpu["postgres_server"].append((_server_cpu(postmaster) - before) / total * 1e6)
                if await _rows(database) != total:
                    raise AssertionError(f"{await _rows(database)} rows, expected {total}")
                postgres.append(total / seconds)
                cpu["postgres"].append(used / total * 1e6)
    ratios = [p / j for p, j in zip(postgres, jsonl, strict=True)]
    return {
        "records": total,
        "rounds": rounds,
        "jsonl_records_per_s": _spread(jsonl),
        "postgres_records_per_s": _spread(postgres),
        "postgres_vs_jsonl_per_round": _spread(ratios),
        "postgres_vs_jsonl_of_medians": statistics.median(postgres) / statistics.median(jsonl),
        # CPU microseconds per record: the command (to JSON Lines, into PostgreSQL) and the
        # PostgreSQL server's processes during the load (0 for a server on another machine)
        "cpu_us_per_record": {name: _spread(values) for name, values in cpu.items()},
        "target": ">= 0.5",
    }


async def memory_fast_server(server: str, sizes: list[int]) -> dict[str, Any]:
    """Peak memory of loads of each size into PostgreSQL (fast synthetic server)."""
    figures: dict[str, Any] = {}
    for total in sizes:
        with fast_server(total) as base:
            database = await _new_database(server)
            seconds, peak, _ = await asyncio.to_thread(measured_export, base, "benchmark", database)
            if await _rows(database) != total:
                raise AssertionError(f"{await _rows(database)} rows, expected {total}")
        figures[str(total)] = {
            "seconds": seconds,
            "records_per_s": total / seconds,
            "peak_mb": peak,
        }
    figures["peak_ratio"] = figures[str(sizes[-1])]["peak_mb"] / figures[str(sizes[0])]["peak_mb"]
    figures["target"] = "peak memory flat in the record count"
    return figures


def run(quick: bool = False) -> dict[str, Any]:
    """Every figure (``quick``: smaller data, one round)."""
    with postgres_server_url() as server:
        return {
            "rate_sandbox": asyncio.run(
                rate_sandbox(server, 10_000 if quick else 100_000, 1 if quick else ROUNDS)
            ),
            "memory_fast_server": asyncio.run(
                memory_fast_server(server, [20_000, 100_000] if quick else [100_000, 1_000_000])
            ),
        }


run_all = run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sinks")
    parser.add_argument("--quick", action="store_true", help="smaller data, one round")
    print(json.dumps(run(parser.parse_args(argv).quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
