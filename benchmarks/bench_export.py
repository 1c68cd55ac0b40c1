"""Export benchmarks (issues 7 and 12): throughput against a raw loop, partitions against
their ideal, and memory against the size of the export.

    python -m benchmarks.bench_export            # every figure
    python -m benchmarks.bench_export --quick    # smaller data, one round

Every server runs in its own process, so the exporter has a core of its own (Outreach's servers
are not on the client's machine either):

- the **sandbox** (``outreach-async sandbox serve``), seeded, with 50 ms of latency: real
  prospects (230 attributes, every relationship, about 6 KB each as it renders them);
- a **fast server** (below) that serves synthetic prospects (25 attributes, 5 relationships,
  about 1 KB) computed from their index and encoded before the first run, with cursor
  pagination, ``filter[updatedAt]`` ranges, ``count`` and a fixed latency: it isolates the
  exporter's cost from the server's.

Like with like: the raw loop writes every record as one JSON line too (as the API sent it, with
orjson, the export's own parser). Partitioned runs record the client's CPU seconds (this
process) and the sandbox's (``/proc/PID/stat``), and each round's ideal is the longest of the
wire's floor (pages x latency / partitions) and those two CPU floors. Beside it, the partitioned
runs count their requests and the round trips that came one after another (planning, the longest
span's pages, the catch-up pass): the latency those cost is what the wire's floor leaves out.
Every comparison runs in interleaved rounds (three), its variants taking turns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson
from aiohttp import web

from outreach_async import OutreachClient
from outreach_async.cli import _collector_tuned
from outreach_async.export import export_resource

from ._loopback import loopback_socket, serving_prospects
from ._rounds import MIN_ROUNDS, CpuLog, interleave, process_cpu_s, ratio, spread, timed
from ._stamp import stamp

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
    sock, base = loopback_socket()

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

    async with serving_prospects(sock, prospects):
        yield base


@contextlib.asynccontextmanager
async def fast_server_process(total: int, latency: float) -> AsyncIterator[tuple[str, int]]:
    """The fast server in a child process (``python -m benchmarks.bench_export serve``)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.bench_export", "serve", str(total), str(latency),
        "cache", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    base = (await asyncio.wait_for(child.stdout.readline(), 120)).decode().strip()
    try:
        yield base, child.pid
    finally:
        child.terminate()
        await child.wait()


async def _serve_forever(total: int, latency: float, cache: bool) -> None:
    async with fast_server(total, latency, cache) as base:
        if cache:  # every record encoded before the first run: no run pays a cold cache
            async with aiohttp.ClientSession() as session:
                url = f"{base}/prospects?page%5Bsize%5D={total}"
                async with session.get(url) as response:
                    await response.read()
        print(base, flush=True)
        await asyncio.Event().wait()


# ---------------------------------------------------------------------------------- runs


async def raw_jsonl(base_url: str, token: str, out: Path, page_size: int = 1000) -> int:
    """The baseline: aiohttp and orjson, each record written as one JSON line (as sent)."""
    count = 0
    url: str | None = f"{base_url}/prospects?page%5Bsize%5D={page_size}&sort=updatedAt"
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        with out.open("wb") as sink:
            while url:
                async with session.get(url) as response:
                    document = orjson.loads(await response.read())
                for record in document["data"]:
                    sink.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
                count += len(document["data"])
                url = (document.get("links") or {}).get("next")
    return count


async def export_count(
    base_url: str,
    token: str,
    out: Path,
    *,
    partitions: int = 1,
    page_size: int = 1000,
    wire: WireLog | None = None,
) -> int:
    """``export_resource`` to a JSON Lines file; the records written."""
    traces = [wire.trace_config()] if wire is not None else []
    async with OutreachClient(
        token, base_url=base_url, max_concurrency=CONCURRENCY, trace_configs=traces
    ) as outreach:
        result = await export_resource(
            outreach, "prospects", out, partitions=partitions, page_size=page_size
        )
    if wire is not None:
        wire.end_run()
    return result.records


@attrs.define
class WireLog:
    """Each run's requests, and how many round trips of them came one after another.

    The longest sequence of requests each sent after the one before it was answered: the
    round trips the run did not overlap (planning's probes, the longest span's chain of pages,
    the catch-up pass; a page sent just after another span's answer may add one). Counted,
    not timed: about the same on a busy machine."""

    requests: list[int] = attrs.Factory(list)
    in_a_row: list[int] = attrs.Factory(list)
    _spans: list[tuple[float, float]] = attrs.Factory(list)

    def trace_config(self) -> aiohttp.TraceConfig:
        trace = aiohttp.TraceConfig()

        async def sent(_session: Any, context: Any, _params: Any) -> None:
            context.sent = time.perf_counter()

        async def answered(_session: Any, context: Any, _params: Any) -> None:
            self._spans.append((context.sent, time.perf_counter()))

        trace.on_request_start.append(sent)
        trace.on_request_end.append(answered)
        return trace

    def end_run(self) -> None:
        self.requests.append(len(self._spans))
        self.in_a_row.append(round_trips_in_a_row(self._spans))
        self._spans = []


def round_trips_in_a_row(spans: list[tuple[float, float]]) -> int:
    """The longest chain of requests each sent after the previous one was answered."""
    depth: list[tuple[float, int]] = []  # (answered, depth) of the requests sent so far
    longest = 0
    for sent, answered in sorted(spans):
        mine = 1 + max((d for done, d in depth if done <= sent), default=0)
        depth.append((answered, mine))
        longest = max(longest, mine)
    return longest


# ---------------------------------------------------------------------------------- figures


async def bench_throughput(total: int, rounds: int, server: str) -> dict[str, Any]:
    """Sequential export against a raw loop, both writing every record as a JSON line."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        async with _server(server, total, LATENCY) as (base, token, _pid):
            seconds = await interleave(
                {
                    "raw_jsonl": lambda: timed(lambda: raw_jsonl(base, token, out), total),
                    "export_jsonl": lambda: timed(lambda: export_count(base, token, out), total),
                },
                rounds,
            )
    return {
        "records": total,
        "latency_s": LATENCY,
        "rounds": rounds,
        "seconds": {name: spread(values) for name, values in seconds.items()},
        "records_per_s": {name: spread([total / s for s in v]) for name, v in seconds.items()},
        # > 1: the export is faster than the raw loop
        "export_vs_raw": ratio(seconds["raw_jsonl"], seconds["export_jsonl"]),
    }


async def bench_partitions(total: int, rounds: int, page_size: int) -> dict[str, Any]:
    """Partitioned export on the sandbox against the sequential one and the ideal.

    The ideal of each round is the longest of three floors measured in that round: the wire's
    (pages x latency / partitions), the client's CPU seconds (one event loop cannot go faster
    than its own CPU time) and the sandbox's CPU seconds (one process, likewise).

    The CPU-bound ideal takes the client's and the sandbox's CPU from the sequential export of
    the same round instead (their measured per-record costs times the records): what two cores,
    one for each process, allow when partitioning adds no work.
    """
    with tempfile.TemporaryDirectory() as tmp, _collector_tuned():  # as the command line runs
        out = Path(tmp) / "out.jsonl"
        async with _server("sandbox", total, LATENCY) as (base, token, pid):
            cpu, requests = CpuLog(lambda: process_cpu_s(pid)), WireLog()
            seconds = await interleave(
                {
                    "sequential": cpu.timed(
                        "sequential",
                        lambda: export_count(base, token, out, page_size=page_size),
                        total,
                    ),
                    "partitioned": cpu.timed(
                        "partitioned",
                        lambda: export_count(
                            base,
                            token,
                            out,
                            partitions=CONCURRENCY,
                            page_size=page_size,
                            wire=requests,
                        ),
                        total,
                    ),
                },
                rounds,
            )
    pages = -(-total // page_size)
    wire = pages * LATENCY / CONCURRENCY
    client, server = cpu.client["partitioned"], cpu.server["partitioned"]
    ideal = [max(wire, c, s) for c, s in zip(client, server, strict=True)]
    # The CPU-bound ideal: the per-record costs the sequential export measured in the same round
    # (its client's CPU, the sandbox's CPU), each process on one of the two cores, and the wire.
    sequential_client, sequential_server = cpu.client["sequential"], cpu.server["sequential"]
    cpu_ideal = [max(wire, c, s) for c, s in zip(sequential_client, sequential_server, strict=True)]
    return {
        "records": total,
        "page_size": page_size,
        "partitions": CONCURRENCY,
        "latency_s": LATENCY,
        "rounds": rounds,
        "seconds": {name: spread(values) for name, values in seconds.items()},
        "speedup": ratio(seconds["sequential"], seconds["partitioned"]),
        "wire_floor_s": wire,
        "client_cpu_s": spread(client),
        "server_cpu_s": spread(server),
        "sequential_client_cpu_s": spread(cpu.client["sequential"]),
        "sequential_server_cpu_s": spread(cpu.server["sequential"]),
        "client_cpu_us_per_record": spread([c / total * 1e6 for c in client]),
        "ideal_s": spread(ideal),
        "vs_ideal": ratio(seconds["partitioned"], ideal),
        "sequential_client_cpu_us_per_record": spread([c / total * 1e6 for c in sequential_client]),
        "sequential_server_cpu_us_per_record": spread([s / total * 1e6 for s in sequential_server]),
        "cpu_ideal_s": spread(cpu_ideal),
        "vs_cpu_ideal": ratio(seconds["partitioned"], cpu_ideal),
        # what the wire floor leaves out: requests that wait for an answer (planning, the
        # chain of pages in each span, the catch-up pass), counted in the partitioned runs
        "partitioned_requests": spread(requests.requests),
        "partitioned_round_trips_in_a_row": spread(requests.in_a_row),
        "round_trips_in_a_row_s": spread([n * LATENCY for n in requests.in_a_row]),
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


def measured_export(
    base: str, token: str, out: str | Path, *extra: str
) -> tuple[float, float, float]:
    """One ``outreach-async export prospects`` process (``extra``: more options): its seconds,
    peak MiB and CPU seconds."""
    command = [sys.executable, "-c", _MEASURED_EXPORT, "export", "prospects", "-q"]
    command += ["--out", str(out), "--base-url", base, "--token", token, *extra]
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(command, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu  # the export is the only child that ended meanwhile
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode()[-500:])
    peak = done.stderr.decode().split("peak_kib")[-1].split()[0]
    return elapsed, int(peak) / 1024, cpu


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


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
            state = ("--state", str(Path(tmp) / "sync.db"))
            _, peak, _ = measured_export(base, "benchmark", out, *state)
            with out.open("rb") as lines:
                written = sum(1 for _ in lines)
            if written != total:
                raise AssertionError(f"{written} records written, expected {total}")
            return peak
    finally:
        server.terminate()
        server.wait()


@contextlib.asynccontextmanager
async def _server(kind: str, total: int, latency: float) -> AsyncIterator[tuple[str, str, int]]:
    """The sandbox or the fast server in a child process: (base_url, token, pid)."""
    if kind == "sandbox":
        async with sandbox_process(total, latency) as served:
            yield served
    else:
        async with fast_server_process(total, latency) as (base, pid):
            yield base, "benchmark", pid


def run_all(quick: bool = False) -> dict[str, Any]:
    """Every export figure (``quick``: smaller data, one round)."""
    rounds = 1 if quick else MIN_ROUNDS
    small, big = (20_000, 200_000) if quick else (40_000, 400_000)
    return {
        # records written to JSON Lines, against a raw loop writing them as the API sent them
        "throughput_sandbox_50ms": asyncio.run(
            bench_throughput(5_000 if quick else 10_000, rounds, "sandbox")
        ),
        "throughput_fast_server_50ms": asyncio.run(
            bench_throughput(20_000 if quick else 30_000, rounds, "fast")
        ),
        # latency-bound pages of 100 (the target: <= 1.3x the ideal), and CPU-bound pages of 1000
        "partitions_sandbox_50ms_pages_of_100": asyncio.run(
            bench_partitions(5_000 if quick else 15_000, rounds, 100)
        ),
        "partitions_sandbox_50ms_pages_of_1000": asyncio.run(
            bench_partitions(10_000 if quick else 20_000, rounds, 1000)
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
    results = {"stamp": stamp(), **run_all(args.quick)}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
