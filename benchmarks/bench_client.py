"""Client benchmarks (issues 2 and 12): streaming against raw aiohttp loops, and latency hidden.

Every variant streams the same collection (1000-prospect pages, every attribute and
relationship, about 7 MB a page) from a page server in its own process and does the same work
per record: it appends the record's id to a list. The raw loops are what a user writes in an
afternoon: aiohttp, ``json.loads`` or ``orjson.loads``, ``links.next``. Typed decoding on its own
is ``bench_decode``'s.

The page server serves the collection on two ports, without latency and with 50 ms a page, and
every variant runs on both in the same interleaved rounds, so the latency row's ideal comes from
this run's own parts: ``max(pages x latency, outreach-async's own time without latency in the
same round)``: the wire's floor or the client's, whichever is longer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from outreach_async import OutreachClient

from ._pageserver import page_servers
from ._rounds import MIN_ROUNDS, interleave, ratio, spread, timed

PAGE_SIZE = 1000
LATENCY = 0.05


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


async def client_loop(base_url: str) -> int:
    """``outreach.prospects.list()``: the typed records' ids."""
    ids: list[int | None] = []
    async with OutreachClient("token", base_url=base_url) as outreach:
        ids.extend([prospect.id async for prospect in outreach.prospects.list(page_size=PAGE_SIZE)])
    return len(ids)


VARIANTS: dict[str, Callable[[str], Awaitable[int]]] = {
    "raw_json": lambda base: raw_loop(base, json.loads),
    "raw_orjson": lambda base: raw_loop(base, orjson.loads),
    "outreach_async": client_loop,
}


async def bench_stream(total: int, rounds: int) -> dict[str, Any]:
    """Every variant, without and with latency, interleaved; seconds, rates, ratios, ideal."""
    async with page_servers(total, PAGE_SIZE, [0.0, LATENCY]) as (fast, slow):
        runs: dict[str, Callable[[], Awaitable[float]]] = {}
        for name, variant in VARIANTS.items():
            runs[name] = lambda v=variant: timed(lambda: v(fast), total)  # type: ignore[misc]
            runs[f"{name}_latency"] = lambda v=variant: timed(lambda: v(slow), total)  # type: ignore[misc]
        seconds = await interleave(runs, rounds)
    pages = -(-total // PAGE_SIZE)
    ours, ours_slow = seconds["outreach_async"], seconds["outreach_async_latency"]
    ideal = [max(pages * LATENCY, own) for own in ours]
    return {
        "records": total,
        "pages": pages,
        "page_size": PAGE_SIZE,
        "rounds": rounds,
        "seconds": {name: spread(values) for name, values in seconds.items()},
        "records_per_s": {name: spread([total / s for s in v]) for name, v in seconds.items()},
        # > 1: outreach-async is faster (the raw loop's time over ours)
        "vs_raw_json": ratio(seconds["raw_json"], ours),
        "vs_raw_orjson": ratio(seconds["raw_orjson"], ours),
        "latency": {
            "latency_s": LATENCY,
            "wire_floor_s": pages * LATENCY,
            "ideal_s": spread(ideal),
            # < 1.15 is the target: ours with latency over max(wire floor, ours without)
            "vs_ideal": ratio(ours_slow, ideal),
            "vs_raw_orjson": ratio(seconds["raw_orjson_latency"], ours_slow),
        },
    }


def run_all(quick: bool = False) -> dict[str, Any]:
    """``quick``: 20,000 records, one round; else 30,000 records, three rounds."""
    total, rounds = (20_000, 1) if quick else (30_000, MIN_ROUNDS)
    return {"stream_prospects": asyncio.run(bench_stream(total, rounds))}
