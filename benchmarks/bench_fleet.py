"""Fleet wall time with 1, 2 and 4 worker processes: 20 tenants x 2 resources, 50 ms latency.

Each tenant is a sandbox org (in this process, on loopback) whose every answer takes 50 ms, so
a sync is bound by waiting, as against Outreach. A fresh fleet namespace per run; ``fleet sync
--wait`` is timed from its start to its exit. Figures per worker count: wall seconds, the ideal
(the one-worker time divided by the workers), the speed-up, and the workers' CPU seconds per
thousand records (``RUSAGE_CHILDREN`` around the run: each worker's start-up is included, so
more workers cost more CPU on a small fleet).

``python -m benchmarks fleet`` (``--quick``: 4 tenants, fewer records). Needs ``redis-server``
on PATH and the ``fleet`` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from outreach_async.sandbox import Sandbox
from outreach_async.sandbox.faults import FaultConfig
from outreach_async.sandbox.ratelimit import RateLimitConfig

__all__ = ["run", "run_all"]

LATENCY = 0.05
WORKERS = (1, 2, 4)
THREADS = 4


@contextlib.contextmanager
def _redis() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("the fleet benchmark needs redis-server on PATH")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as workdir:
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", workdir]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(10)


def _config(redis: str, out: Path, orgs: list[Sandbox]) -> str:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    lines = [
        f'redis = "{redis}"',
        f'namespace = "{namespace}"',
        "[defaults]",
        'resources = ["prospects", "accounts"]',
        f'out = "{out}/{{tenant}}/{{resource}}.jsonl"',
        "page_size = 100",
        "[worker]",
        f'queue = "{namespace}"',
        f"threads = {THREADS}",
    ]
    for i, org in enumerate(orgs):
        lines += [f"[tenants.org{i}]", f'base_url = "{org.base_url}"', f'token = "{org.token}"']
    return "\n".join(lines) + "\n"


def _fleet(*args: str) -> list[str]:
    return [sys.executable, "-m", "outreach_async.cli", "fleet", *args]


@contextlib.asynccontextmanager
async def _workers(config: Path, count: int) -> AsyncIterator[None]:
    processes = [
        await asyncio.create_subprocess_exec(
            *_fleet("worker", "--config", str(config)),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            await process.stdout.readline()  # "fleet worker ready"
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await process.wait()


async def _one(redis: str, orgs: list[Sandbox], workers: int, records: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        config = Path(out) / "fleet.toml"
        config.write_text(_config(redis, Path(out), orgs))
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        async with _workers(config, workers):
            started = time.perf_counter()
            sync = await asyncio.create_subprocess_exec(
                *_fleet("sync", "--config", str(config), "--wait"),
                stdout=asyncio.subprocess.DEVNULL,
            )
            status = await sync.wait()
            wall = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0:
        raise RuntimeError(f"fleet sync --wait exited {status}")
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s_per_1000_records": round(1000 * cpu / records, 3)}


async def _measure(tenants: int, seed: int) -> dict[str, Any]:
    slow = FaultConfig(latency=LATENCY)
    unlimited = RateLimitConfig(enabled=False)
    async with contextlib.AsyncExitStack() as stack:
        orgs = [
            await stack.enter_async_context(
                Sandbox(seed=seed, random_seed=i, faults=slow, rate_limit=unlimited)
            )
            for i in range(tenants)
        ]
        records = sum(o.store.count("prospect") + o.store.count("account") for o in orgs)
        figures: dict[str, Any] = {"tenants": tenants, "resources": 2, "records": records}
        with _redis() as redis:
            for workers in WORKERS:
                figures[f"{workers}_workers"] = await _one(redis, orgs, workers, records)
    single = figures["1_workers"]["wall_s"]
    for workers in WORKERS:
        row = figures[f"{workers}_workers"]
        row["ideal_s"] = round(single / workers, 2)
        row["speedup"] = round(single / row["wall_s"], 2)
    return figures


def run(quick: bool = False) -> dict[str, Any]:
    """The figures (``quick``: 4 tenants of 200 prospects instead of 20 of 2,000)."""
    tenants, seed = (4, 200) if quick else (20, 2000)
    return {f"{tenants}_tenants_x_2_resources_50ms": asyncio.run(_measure(tenants, seed))}


run_all = run  # the name benchmarks/__main__.py calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_fleet")
    parser.add_argument("--quick", action="store_true", help="4 tenants, fewer records")
    args = parser.parse_args(argv)
    print(json.dumps({"cpus": os.cpu_count(), **run(args.quick)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
