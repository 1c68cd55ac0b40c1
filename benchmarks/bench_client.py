"""Client benchmarks (issue 2): typed decoding, streaming, and prefetch under latency.

Each figure is a ratio against a baseline measured in the same run, interleaved, median of
several rounds, so the machine's speed cancels out.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from outreach_async import OutreachClient, Prospect
from outreach_async._converter import decode_collection

from ._data import prospect_pages
from ._pageserver import page_server


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_decode(rounds: int = 15) -> dict[str, float]:
    """Bytes of a 1000-prospect page -> typed models, against ``json.loads`` of the same bytes."""
    page = prospect_pages(1000, 1000, 1)[0]
    timings: dict[str, list[float]] = {"json.loads": [], "orjson.loads": [], "typed": []}
    runs: dict[str, Callable[[], object]] = {
        "json.loads": lambda: json.loads(page),
        "orjson.loads": lambda: orjson.loads(page),
        "typed": lambda: decode_collection(page, Prospect, lambda included: None),
    }
    for _ in range(rounds):
        for name, run in runs.items():
            gc.collect()
            start = time.perf_counter()
            result = run()
            timings[name].append(time.perf_counter() - start)
            del result  # freeing the page is not part of decoding
    medians = {name: _median_ms(samples) for name, samples in timings.items()}
    return {
        "page_mb": len(page) / 1e6,
        **{f"{name}_ms": value for name, value in medians.items()},
        "typed_vs_json_loads": medians["typed"] / medians["json.loads"],
    }


async def _raw_loop(base_url: str, loads: Callable[[bytes], object]) -> int:
    count = 0
    url: str | None = f"{base_url}/prospects?page%5Bsize%5D=1000"
    async with aiohttp.ClientSession() as session:
        while url:
            async with session.get(url) as response:
                document = loads(await response.read())
            count += len(document["data"])  # type: ignore[index]
            url = document.get("links", {}).get("next")  # type: ignore[attr-defined]
    return count


async def _client_loop(base_url: str) -> int:
    count = 0
    async with OutreachClient("token", base_url=base_url) as outreach:
        async for _prospect in outreach.prospects.list(page_size=1000):
            count += 1
    return count


async def _timed(run: Callable[[], Awaitable[int]], expected: int) -> float:
    start = time.perf_counter()
    count = await run()
    elapsed = time.perf_counter() - start
    if count != expected:
        raise AssertionError(f"streamed {count} records, expected {expected}")
    return elapsed


async def bench_stream(
    total: int = 100_000, rounds: int = 3, latency: float = 0.0
) -> dict[str, float]:
    """Streaming ``total`` prospects: records/s of the client against raw aiohttp loops."""
    async with page_server(total, 1000, latency) as base_url:
        runs: dict[str, Callable[[], Awaitable[int]]] = {
            "raw_json": lambda: _raw_loop(base_url, json.loads),
            "raw_orjson": lambda: _raw_loop(base_url, orjson.loads),
            "outreach_async": lambda: _client_loop(base_url),
        }
        timings: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(rounds):
            for name, run in runs.items():
                timings[name].append(await _timed(run, total))
    rates = {name: total / statistics.median(samples) for name, samples in timings.items()}
    pages = (total + 999) // 1000
    out = {f"{name}_records_per_s": rate for name, rate in rates.items()}
    out["vs_raw_json"] = rates["outreach_async"] / rates["raw_json"]
    out["vs_raw_orjson"] = rates["outreach_async"] / rates["raw_orjson"]
    if latency:
        client_time = statistics.median(timings["outreach_async"])
        decode_time = statistics.median(timings["raw_orjson"])
        out["latency_s"] = latency
        out["client_time_s"] = client_time
        out["vs_ideal"] = client_time / max(pages * latency, decode_time)
    return out


def run_all(quick: bool = False) -> dict[str, dict[str, float]]:
    total = 20_000 if quick else 100_000
    return {
        "decode_1000_prospects": bench_decode(5 if quick else 15),
        "stream_100k_prospects": asyncio.run(bench_stream(total, 1 if quick else 3)),
        "stream_with_50ms_latency": asyncio.run(bench_stream(total // 2, 1 if quick else 2, 0.05)),
    }
