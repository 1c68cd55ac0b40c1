"""Resolver benchmark (issue 5): the prospects of 2,000 tasks, batched against one GET per task.

Against a sandbox on loopback with a fixed per-request latency (5 ms by default, a fast link to
Outreach; real round trips are longer, which only widens the gap). The tasks are listed before
each timed run and are not part of the figures; every variant starts from fresh handles, so no
run profits from another's cache. Variants:

- ``resolve``: ``outreach.prospects.resolve(t.prospect for t in tasks)``: ``filter[id]`` batches;
- ``naive_loop``: ``for t in tasks: await t.prospect.fetch()``: one GET per task, in turn;
- ``naive_gather``: the same GETs all at once, as far as the client's ``max_concurrency`` (8)
  lets them go.

Every variant runs in every round, the order rotated (three rounds).

``include=prospect`` on the task listing itself is shown too: the prospects then cost no request
after the listing (its figure is the listing, and it is larger pages, so not directly comparable).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from outreach_async import OutreachClient, Prospect, Task, ToOne
from outreach_async.sandbox import FaultConfig, RateLimitConfig, Sandbox

from ._rounds import MIN_ROUNDS, ratio, rotated, spread

#: the client's default max_concurrency, which caps the naive gather
CONCURRENCY = 8

Run = Callable[[OutreachClient, list[Task]], Awaitable[list[Prospect | None]]]


def _prospect(task: Task) -> ToOne[Prospect]:
    handle = task.prospect
    if not isinstance(handle, ToOne):
        raise AssertionError(f"task {task.id} came without its prospect relationship")
    return handle


async def _resolve(outreach: OutreachClient, tasks: list[Task]) -> list[Prospect | None]:
    return await outreach.prospects.resolve(t.prospect for t in tasks)


async def _naive_loop(outreach: OutreachClient, tasks: list[Task]) -> list[Prospect | None]:
    return [await _prospect(t).fetch() for t in tasks]


async def _naive_gather(outreach: OutreachClient, tasks: list[Task]) -> list[Prospect | None]:
    return list(await asyncio.gather(*(_prospect(t).fetch() for t in tasks)))


RUNS: dict[str, Run] = {
    "resolve": _resolve,
    "naive_loop": _naive_loop,
    "naive_gather": _naive_gather,
}


def _check(tasks: list[Task], prospects: list[Prospect | None]) -> None:
    wanted = [_prospect(t).id for t in tasks]
    got = [p.id if p is not None else None for p in prospects]
    if got != wanted:
        raise AssertionError("a variant resolved the wrong prospects")


async def _timed_run(
    sandbox: Sandbox, outreach: OutreachClient, run: Run, tasks: int
) -> tuple[float, int]:
    """Seconds and requests to resolve the prospects of ``tasks`` freshly listed tasks."""
    listed = await outreach.tasks.list(page_size=1000).collect(limit=tasks)
    before = len(sandbox.requests)
    start = time.perf_counter()
    prospects = await run(outreach, listed)
    elapsed = time.perf_counter() - start
    requests = len(sandbox.requests) - before
    _check(listed, prospects)
    return elapsed, requests


async def _timed_include(
    sandbox: Sandbox, outreach: OutreachClient, tasks: int
) -> tuple[float, int]:
    before = len(sandbox.requests)
    start = time.perf_counter()
    listing = outreach.tasks.list(include=["prospect"], page_size=1000)
    listed = await listing.collect(limit=tasks)
    prospects = [await _prospect(t).fetch() for t in listed]
    elapsed = time.perf_counter() - start
    _check(listed, prospects)
    return elapsed, len(sandbox.requests) - before


async def bench_resolve(tasks: int, latency: float, rounds: int) -> dict[str, Any]:
    """Requests and seconds to resolve the prospects of ``tasks`` tasks, per variant, with
    every variant in every round (interleaved)."""
    sandbox = Sandbox(
        seed=tasks * 4,  # the seed plan makes one task per four prospects
        faults=FaultConfig(latency=latency),
        rate_limit=RateLimitConfig(limit=10_000_000),  # the naive loop alone needs thousands
    )
    timings: dict[str, list[float]] = {name: [] for name in [*RUNS, "include_prospect"]}
    requests: dict[str, int] = {}
    async with sandbox, OutreachClient(sandbox.token, base_url=sandbox.base_url) as outreach:
        for round_ in range(rounds):
            for name in rotated([*RUNS, "include_prospect"], round_):
                if name == "include_prospect":
                    elapsed, requests[name] = await _timed_include(sandbox, outreach, tasks)
                else:
                    elapsed, requests[name] = await _timed_run(sandbox, outreach, RUNS[name], tasks)
                timings[name].append(elapsed)
        distinct = len(
            {
                _prospect(t).id
                for t in await outreach.tasks.list(page_size=1000).collect(limit=tasks)
            }
        )
    out: dict[str, Any] = {
        "tasks": tasks,
        "latency_s": latency,
        "rounds": rounds,
        "concurrency": CONCURRENCY,
        "distinct_prospects": distinct,
    }
    for name, samples in timings.items():
        out[f"{name}_requests"] = requests[name]
        out[f"{name}_s"] = spread(samples)
    out["naive_loop_vs_resolve"] = ratio(timings["naive_loop"], timings["resolve"])
    out["naive_gather_vs_resolve"] = ratio(timings["naive_gather"], timings["resolve"])
    return out


def run_all(quick: bool = False) -> dict[str, dict[str, Any]]:
    """The figures for ``python -m benchmarks resolve`` (``quick``: 500 tasks, one round)."""
    if quick:
        return {"resolve_500_tasks_5ms": asyncio.run(bench_resolve(500, 0.005, 1))}
    return {"resolve_2000_tasks_5ms": asyncio.run(bench_resolve(2000, 0.005, MIN_ROUNDS))}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run_all("--quick" in sys.argv), indent=2))
