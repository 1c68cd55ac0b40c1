"""Export benchmarks (issue 7): throughput against a raw loop, partitions against the ideal, and
memory against the size of the export.

    python -m benchmarks.bench_export            # every figure (a few minutes)
    python -m benchmarks.bench_export --quick    # smaller data

Three servers, each in its own process so that the exporter has a core of its own (Outreach's
servers are not on the client's machine either):

- the **sandbox** (``outreach-async sandbox serve``), seeded, with 50 ms of latency: real
  prospects (230 attributes, every relationship, about 6 KB each as it renders them);
- a **fast server** (below) that serves synthetic prospects (25 attributes, 5 relationships,
  about 1 KB) computed from their index, with cursor pagination, ``filter[updatedAt]`` ranges,
  ``count`` and a fixed latency, and almost no work per page: it isolates the exporter's cost
  from the server's, which is what the ideal ``pages x latency / concurrency`` assumes;
- the raw loop's and the exporter's requests go to the same server in each comparison.

Every figure is a median over interleaved rounds, measured in the same run as its baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from outreach_async import OutreachClient
from outreach_async.cli import _collector_tuned
from outreach_async.export import export_resource

LATENCY = 0.05
CONCURRENCY = 8
T0_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
STEP_MS = 13  # two records share each timestamp: the inclusive boundary is always in play


# ---------------------------------------------------------------------------------- servers


@contextlib.asynccontextmanager
async def sandbox_process(seed: int, latency: float) -> AsyncIterator[tuple[str, str, int]]:
    """``outreach-async sandbox serve`` in a child process: (base_url, token, pid)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "outreach_async.cli", "sandbox", "serve", "--port", "0",
        "--seed", str(seed), "--latency", f"{latency}", "--rate-limit", "off",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    found: dict[str, str] = {}
    while len(found) < 2:
        line = (await asyncio.wait_for(child.stdout.readline(), 600)).decode()
        if not line:
            raise RuntimeError("the sandbox exited before it served")
        for key in ("OUTREACH_BASE_URL", "OUTREACH_TOKEN"):
            if f"{key}=" in line:
                found[key] = line.split("=", 1)[1].strip()
    try:
        yield found["OUTREACH_BASE_URL"], found["OUTREACH_TOKEN"], child.pid
    finally:
        child.terminate()
        await child.wait()


def _stamp(millis: int) -> str:
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=millis)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _millis(text: str) -> int:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def synthetic_prospect(index: int, base: str) -> dict[str, Any]:
    """Prospect number ``index`` (0-based) of the fast server: 25 attributes, 5 relationships."""
    id_ = index + 1
    updated = _stamp(T0_MS + (index // 2) * STEP_MS)
    attributes: dict[str, Any] = {
        "firstName": f"First{id_ % 997}",
        "lastName": f"Last{id_ % 991}",
        "title": ("CEO", "CTO", "VP Sales", None)[id_ % 4],
        "company": f"Company {id_ % 313}",
        "emails": [f"p{id_}@example.com"],
        "homePhones": [],
        "tags": ["imported", f"batch{id_ % 10}"],
        "addressCity": "Seattle" if id_ % 3 else None,
        "addressCountry": "US",
        "timeZone": "America/Los_Angeles",
        "engagedScore": (id_ % 100) / 10,
        "openCount": id_ % 17,
        "clickCount": id_ % 5,
        "replyCount": id_ % 3,
        "createdAt": _stamp(T0_MS - 86_400_000),
        "updatedAt": updated,
        "engagedAt": None,
        "touchedAt": updated,
        "optedOut": False,
        "source": "benchmark",
        "custom1": f"c{id_ % 97}",
        "custom2": None,
        "custom3": None,
        "custom4": None,
        "custom5": None,
    }
    return {
        "type": "prospect",
        "id": id_,
        "attributes": attributes,
        "relationships": {
            "account": {"data": {"type": "account", "id": id_ % 1000 + 1}},
            "owner": {"data": {"type": "user", "id": id_ % 20 + 1}},
            "stage": {"data": None},
            "persona": {"data": {"type": "persona", "id": 1}},
            "sequenceStates": {"links": {"related": f"{base}/sequenceStates?p={id_}"}},
        },
        "links": {"self": f"{base}/prospects/{id_}"},
    }


def _first_index_at_or_after(millis: int) -> int:
    return max(0, -(-(millis - T0_MS) // STEP_MS)) * 2


def _last_index_at_or_before(millis: int, total: int) -> int:
    return min(total - 1, ((millis - T0_MS) // STEP_MS) * 2 + 1)


def _window(query: Any, total: int) -> tuple[int, int]:
    """The index range ``[lo, hi]`` that ``filter[updatedAt]=lo..hi`` selects."""
    text = query.get("filter[updatedAt]")
    if not text:
        return 0, total - 1
    lo_text, _, hi_text = text.partition("..")
    lo = 0 if lo_text in ("", "neginf") else _first_index_at_or_after(_millis(lo_text))
    hi = total - 1 if hi_text in ("", "inf") else _last_index_at_or_before(_millis(hi_text), total)
    return lo, hi


@contextlib.asynccontextmanager
async def fast_server(total: int, latency: float, cache: bool = True) -> AsyncIterator[str]:
    """The fast server in this process. With ``cache`` each record is encoded once and its
    bytes kept (about 1 KB each), so that serving a page is little more than a join."""
    records: dict[int, bytes] | None = {} if cache else None
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/api/v2"

    async def prospects(request: web.Request) -> web.Response:
        if latency:
            await asyncio.sleep(latency)
        query = request.query
        lo, hi = _window(query, total)
        size = int(query.get("page[size]", "50"))
        descending = query.get("sort", "").startswith("-")
        after = int(query.get("page[after]", "0"))
        if descending:
            indexes = list(range(hi - after, max(lo, hi - after - size + 1) - 1, -1))
        else:
            indexes = list(range(lo + after, min(hi, lo + after + size - 1) + 1))
        rest: dict[str, Any] = {}
        if query.get("count") == "true":
            rest["meta"] = {"count": max(0, hi - lo + 1), "count_truncated": False}
        if indexes and after + len(indexes) <= hi - lo:
            following = request.url.update_query({"page[after]": str(after + len(indexes))})
            rest["links"] = {"next": str(following)}
        # the document, assembled from each record's bytes (encoded once, when cached)
        body = b'{"data":[' + b",".join(encoded(i) for i in indexes) + b"]"
        body += b"," + orjson.dumps(rest)[1:] if rest else b"}"
        return web.Response(body=body, content_type="application/vnd.api+json")

    def encoded(index: int) -> bytes:
        found = records.get(index) if records is not None else None
        if found is None:
            found = orjson.dumps(synthetic_prospect(index, base))
            if records is not None:
                records[index] = found
        return found

    app = web.Application()
    app.router.add_get("/api/v2/prospects", prospects)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield base
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def fast_server_process(total: int, latency: float) -> AsyncIterator[str]:
    """The fast server in a child process (``python -m benchmarks.bench_export serve``)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.bench_export", "serve", str(total), str(latency),
        "cache", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    base = (await asyncio.wait_for(child.stdout.readline(), 60)).decode().strip()
    try:
        yield base
    finally:
        child.terminate()
        await child.wait()


async def _serve_forever(total: int, latency: float, cache: bool) -> None:
    async with fast_server(total, latency, cache) as base:
        print(base, flush=True)
        await asyncio.Event().wait()


# ---------------------------------------------------------------------------------- runs


async def raw_count(base_url: str, token: str, page_size: int = 1000) -> int:
    """The baseline: aiohttp and ``json.loads``, counting the records, nothing else."""
    count = 0
    url: str | None = f"{base_url}/prospects?page%5Bsize%5D={page_size}&sort=updatedAt"
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        while url:
            async with session.get(url) as response:
                document = json.loads(await response.read())
            count += len(document["data"])
            url = (document.get("links") or {}).get("next")
    return count


async def export_count(
    base_url: str, token: str, out: Path, *, partitions: int = 1, page_size: int = 1000
) -> int:
    """``export_resource`` to a JSON Lines file; the records written."""
    async with OutreachClient(token, base_url=base_url, max_concurrency=CONCURRENCY) as outreach:
        result = await export_resource(
            outreach, "prospects", out, partitions=partitions, page_size=page_size
        )
    return result.records


async def timed(run: Callable[[], Awaitable[int]], expected: int) -> float:
    start = time.perf_counter()
    count = await run()
    elapsed = time.perf_counter() - start
    if count != expected:
        raise AssertionError(f"{count} records, expected {expected}")
    return elapsed


async def interleaved(
    runs: dict[str, Callable[[], Awaitable[int]]], expected: int, rounds: int
) -> dict[str, float]:
    """Median seconds of each run, the runs taking turns."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            samples[name].append(await timed(run, expected))
    return {name: statistics.median(values) for name, values in samples.items()}


# ---------------------------------------------------------------------------------- figures


async def bench_throughput(total: int, rounds: int, server: str) -> dict[str, float]:
    """Sequential export (records written to JSON Lines) against the raw counting loop."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        async with _server(server, total, LATENCY) as (base, token):
            times = await interleaved(
                {
                    "raw_json_loads": lambda: raw_count(base, token),
                    "export_jsonl": lambda: export_count(base, token, out),
                },
                total,
                rounds,
            )
    return {
        "records": total,
        "latency_s": LATENCY,
        "raw_records_per_s": total / times["raw_json_loads"],
        "export_records_per_s": total / times["export_jsonl"],
        "export_vs_raw": times["raw_json_loads"] / times["export_jsonl"],
    }


async def bench_partitions(
    total: int, rounds: int, server: str, page_size: int = 1000
) -> dict[str, float]:
    """Partitioned export against the sequential one and the ideal."""
    with tempfile.TemporaryDirectory() as tmp, _collector_tuned():  # as the command line runs
        out = Path(tmp) / "out.jsonl"
        async with _server(server, total, LATENCY) as (base, token):
            times = await interleaved(
                {
                    "sequential": lambda: export_count(base, token, out, page_size=page_size),
                    "partitioned": lambda: export_count(
                        base, token, out, partitions=CONCURRENCY, page_size=page_size
                    ),
                },
                total,
                rounds,
            )
    pages = -(-total // page_size)
    ideal = pages * LATENCY / CONCURRENCY
    return {
        "records": total,
        "page_size": page_size,
        "partitions": CONCURRENCY,
        "sequential_s": times["sequential"],
        "partitioned_s": times["partitioned"],
        "speedup": times["sequential"] / times["partitioned"],
        "ideal_s": ideal,
        "vs_ideal": times["partitioned"] / ideal,
    }


def bench_memory(sizes: list[int]) -> dict[str, float]:
    """Peak RSS of an ``outreach-async export`` process for each size (fast server, no latency)."""
    peaks: dict[str, float] = {f"peak_mb_{total}": peak_rss_mb(total) for total in sizes}
    peaks["ratio"] = peaks[f"peak_mb_{sizes[-1]}"] / peaks[f"peak_mb_{sizes[0]}"]
    return peaks


# Runs the command line, then reports the process's own peak resident memory (VmHWM). Not
# ru_maxrss: Linux carries the parent's size at fork across exec into it.
_MEASURED_EXPORT = """
import sys
from outreach_async.cli import main
status = main(sys.argv[1:])
with open("/proc/self/status") as info:
    peak = next(line.split()[1] for line in info if line.startswith("VmHWM:"))
print("peak_kib", peak, file=sys.stderr)
sys.exit(status)
"""


def peak_rss_mb(total: int) -> float:
    """The peak resident memory of one ``outreach-async export`` of ``total`` records."""
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_export", "serve", str(total), "0"],
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        base = server.stdout.readline().decode().strip()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.jsonl"
            export = subprocess.run(
                [sys.executable, "-c", _MEASURED_EXPORT, "export", "prospects", "-q",
                 "--out", str(out), "--state", str(Path(tmp) / "sync.db"),
                 "--base-url", base, "--token", "benchmark"],
                stderr=subprocess.PIPE, check=True,
            )  # fmt: skip
            with out.open("rb") as lines:
                written = sum(1 for _ in lines)
            if written != total:
                raise AssertionError(f"{written} records written, expected {total}")
            peak = export.stderr.decode().split("peak_kib")[-1].split()[0]
            return int(peak) / 1024
    finally:
        server.terminate()
        server.wait()


@contextlib.asynccontextmanager
async def _server(kind: str, total: int, latency: float) -> AsyncIterator[tuple[str, str]]:
    if kind == "sandbox":
        async with sandbox_process(total, latency) as (base, token, _pid):
            yield base, token
    else:
        async with fast_server_process(total, latency) as base:
            yield base, "benchmark"


def run_all(quick: bool = False) -> dict[str, dict[str, float]]:
    """Every export figure (``quick``: smaller data, one round)."""
    rounds = 1 if quick else 3
    small, big = (20_000, 200_000) if quick else (100_000, 1_000_000)
    partitioned = 50_000 if quick else 200_000
    return {
        # the comparison: records written to JSON Lines against a raw counting loop
        "throughput_sandbox_50ms": asyncio.run(
            bench_throughput(5_000 if quick else 20_000, rounds, "sandbox")
        ),
        "throughput_fast_server_50ms": asyncio.run(
            bench_throughput(20_000 if quick else 100_000, rounds, "fast")
        ),
        # latency-bound (100-record pages): what partitioning buys against the ideal
        "partitions_fast_server_50ms_pages_of_100": asyncio.run(
            bench_partitions(partitioned, 1, "fast", page_size=100)
        ),
        # CPU-bound on a small machine (1000-record pages): decoding and encoding set the pace
        "partitions_fast_server_50ms_pages_of_1000": asyncio.run(
            bench_partitions(partitioned, 1, "fast", page_size=1000)
        ),
        "partitions_sandbox_50ms_pages_of_1000": asyncio.run(
            bench_partitions(10_000 if quick else 50_000, 1, "sandbox")
        ),
        "memory": bench_memory([small, big]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_export")
    parser.add_argument("--quick", action="store_true", help="smaller data, one round")
    parser.add_argument("figures", nargs="*", help="serve TOTAL LATENCY [cache] (internal)")
    args = parser.parse_args(argv)
    if args.figures[:1] == ["serve"]:
        with contextlib.suppress(KeyboardInterrupt):
            figures = args.figures
            asyncio.run(_serve_forever(int(figures[1]), float(figures[2]), "cache" in figures))
        return 0
    results = {"cpus": os.cpu_count(), **run_all(args.quick)}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
