"""Client benchmarks (issues 2 and 12): streaming against raw aiohttp loops, and latency hidden.

Every variant streams the same collection (1000-prospect pages, every attribute and
relationship, about 7 MB a page) from a page server in its own process and does the same work
per record: it appends the record's id to a list. The raw loops are what a user writes in an
afternoon: aiohttp, ``json.loads`` or ``orjson.loads``, ``links.next``. Typed decoding on its own
is ``bench_decode``'s.

The page server serves the collection on two ports, without latency and with 50 ms a page, and
every variant runs on both in the same interleaved rounds, so the latency row's ideal comes from
this run's own parts: ``max(pages x latency, outreach-async's own time without latency in the
same round)``: the wire's floor or the client's, whichever is longer. ``pages x latency`` leaves
out the time each page takes to arrive, so the wire is also measured on its own: a loop that
reads every page's bytes and finds its next link, decoding nothing (``wire_latency``).

Method: one warm-up round (every variant once, not kept), then five interleaved rounds. Each
run records its wall time, the client's CPU time (``time.process_time``: this process; the page
server is another) and the page server's CPU time, so a reader sees where the time goes and a
busy shared machine, which stretches wall time, shows as wall well above CPU. outreach-async runs
with ``pause_collector_while_decoding()`` on, as its command line does; the raw loops leave the
collector alone, as an afternoon's loop does, so ``outreach_async_collector_on`` is the client
again with the collector left alone too (no latency run).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from yarl import URL

from outreach_async import OutreachClient, pause_collector_while_decoding
from outreach_async._pagination import next_link_hint

from ._pageserver import page_servers
from ._rounds import CpuLog, interleave, ratio, spread

PAGE_SIZE = 1000
LATENCY = 0.05
#: measured rounds, after the warm-up round
ROUNDS = 5


async def raw_loop(base_url: str, loads: Callable[[bytes], Any]) -> int:
    """aiohttp + ``loads``, following ``links.next``: the records' ids."""
    ids: list[int] = []
    url: str | None = f"{base_url}/prospects?page%5Bsize%5D={PAGE_SIZE}"
    async with aiohttp.ClientSession() as session:
        while url:
            async with session.get(url) as response:
                document = loads(await response.read())
            ids.extend(record["id"] for record in document["data"])
            url = document.get("links", {}).get("next")
    return len(ids)


async def client_loop(base_url: str, *, pause_collector: bool = True) -> int:
    """``outreach.prospects.list()``: the typed records' ids."""
    pause_collector_while_decoding(pause_collector)
    ids: list[int | None] = []
    try:
        async with OutreachClient("token", base_url=base_url) as outreach:
            ids.extend(
                [prospect.id async for prospect in outreach.prospects.list(page_size=PAGE_SIZE)]
            )
    finally:
        pause_collector_while_decoding(True)  # as ``python -m benchmarks`` runs every suite
    return len(ids)


async def wire_loop(base_url: str) -> int:
    """The wire alone: every page's bytes read and its next link found, nothing decoded (the
    pages read). With latency, what no client with one request in flight can beat."""
    pages = 0
    url: URL | None = URL(f"{base_url}/prospects?page%5Bsize%5D={PAGE_SIZE}", encoded=True)
    async with aiohttp.ClientSession() as session:
        while url is not None:
            async with session.get(url) as response:
                body = await response.read()
            pages += 1
            url = next_link_hint(body)
    return pages


VARIANTS: dict[str, Callable[[str], Awaitable[int]]] = {
    "raw_json": lambda base: raw_loop(base, json.loads),
    "raw_orjson": lambda base: raw_loop(base, orjson.loads),
    "outreach_async": client_loop,
}
#: run without latency only: the client with the collector left alone, as the raw loops run
COLLECTOR_ON = "outreach_async_collector_on"
#: run with latency only: the bytes of every page and nothing else
WIRE = "wire_latency"


async def bench_stream(total: int, rounds: int, warmup: int = 1) -> dict[str, Any]:
    """Every variant, without and with latency, interleaved; seconds, CPU, rates, ratios, ideal."""
    pages = -(-total // PAGE_SIZE)
    async with page_servers(total, PAGE_SIZE, [0.0, LATENCY]) as servers:
        fast, slow = servers.bases
        costs = CpuLog(servers.cpu_seconds)
        run = functools.partial(costs.timed, expected=total)
        runs: dict[str, Callable[[], Awaitable[float]]] = {}
        for name, variant in VARIANTS.items():
            runs[name] = run(name, lambda v=variant: v(fast))  # type: ignore[misc]
            runs[f"{name}_latency"] = run(f"{name}_latency", lambda v=variant: v(slow))  # type: ignore[misc]
        runs[COLLECTOR_ON] = run(COLLECTOR_ON, lambda: client_loop(fast, pause_collector=False))
        runs[WIRE] = costs.timed(WIRE, lambda: wire_loop(slow), pages)
        seconds = await interleave(runs, rounds, warmup=warmup)
    cpu, server_cpu = costs.kept(costs.client, rounds), costs.kept(costs.server, rounds)
    ours, ours_slow = seconds["outreach_async"], seconds["outreach_async_latency"]
    ideal = [max(pages * LATENCY, own) for own in ours]
    return {
        "method": (
            f"warm-up rounds not kept: {warmup}; then {rounds} interleaved round(s), the order "
            "rotated; wall time (time.perf_counter), the client's CPU time (time.process_time) "
            "and the page server's CPU time (its own process) of every run"
        ),
        "records": total,
        "pages": pages,
        "page_size": PAGE_SIZE,
        "rounds": rounds,
        "warmup_rounds": warmup,
        "seconds": {name: spread(values) for name, values in seconds.items()},
        "cpu_seconds": {name: spread(values) for name, values in cpu.items()},
        "server_cpu_seconds": {name: spread(values) for name, values in server_cpu.items()},
        "records_per_s": {name: spread([total / s for s in v]) for name, v in seconds.items()},
        # > 1: outreach-async is faster (the raw loop's time over ours)
        "vs_raw_json": ratio(seconds["raw_json"], ours),
        "vs_raw_orjson": ratio(seconds["raw_orjson"], ours),
        # the same in the client's CPU time, which other work on the machine does not stretch
        "cpu_vs_raw_orjson": ratio(cpu["raw_orjson"], cpu["outreach_async"]),
        # both with the collector left alone
        "collector_on_vs_raw_orjson": ratio(seconds["raw_orjson"], seconds[COLLECTOR_ON]),
        "collector_on_cpu_vs_raw_orjson": ratio(cpu["raw_orjson"], cpu[COLLECTOR_ON]),
        "latency": {
            "latency_s": LATENCY,
            "wire_floor_s": pages * LATENCY,
            "ideal_s": spread(ideal),
            # < 1.15 is the target: ours with latency over max(wire floor, ours without)
            "vs_ideal": ratio(ours_slow, ideal),
            # the floor measured: pages x latency leaves out each page's transfer, which a
            # client with one request in flight waits for too (the wire loop's time)
            "wire_s": spread(seconds[WIRE]),
            "vs_wire": ratio(ours_slow, seconds[WIRE]),
            "vs_raw_orjson": ratio(seconds["raw_orjson_latency"], ours_slow),
        },
    }


def run_all(quick: bool = False) -> dict[str, Any]:
    """``quick``: 20,000 records, one round, no warm-up; else 30,000 records, a warm-up round
    and five measured rounds."""
    total, rounds, warmup = (20_000, 1, 0) if quick else (30_000, ROUNDS, 1)
    return {"stream_prospects": asyncio.run(bench_stream(total, rounds, warmup))}
