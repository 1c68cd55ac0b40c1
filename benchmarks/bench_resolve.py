"""Resolver benchmark (issue 5): the prospects of 5,000 tasks, batched against one GET per task.

Against a sandbox on loopback with a fixed per-request latency (5 ms by default, a fast link to
Outreach; real round trips are longer, which only widens the gap). The tasks are listed before
each timed run and are not part of the figures; every variant starts from fresh handles, so no
run profits from another's cache. Variants:

- ``resolve``: ``outreach.prospects.resolve(t.prospect for t in tasks)``: ``filter[id]`` batches;
- ``naive_loop``: ``for t in tasks: await t.prospect.fetch()``: one GET per task, in turn;
- ``naive_gather``: the same GETs all at once, as far as the client's ``max_concurrency`` (8)
  lets them go.

``include=prospect`` on the task listing itself is shown too: the prospects then cost no request
after the listing (its figure is the listing, and it is larger pages, so not directly comparable).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from outreach_async import OutreachClient, Prospect, Task, ToOne
from outreach_async.sandbox import FaultConfig, RateLimitConfig, Sandbox

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


async def bench_resolve(
    tasks: int = 5000, latency: float = 0.005, rounds: int = 3, naive_rounds: int = 1
) -> dict[str, float]:
    """Requests and seconds to resolve the prospects of ``tasks`` tasks, per variant."""
    sandbox = Sandbox(
        seed=tasks * 4,  # the seed plan makes one task per four prospects
        faults=FaultConfig(latency=latency),
        rate_limit=RateLimitConfig(limit=10_000_000),  # the naive loop alone needs 5,000+
    )
    timings: dict[str, list[float]] = {name: [] for name in [*RUNS, "include_prospect"]}
    requests: dict[str, int] = {}
    async with sandbox, OutreachClient(sandbox.token, base_url=sandbox.base_url) as outreach:
        for round_ in range(rounds):
            for name, run in RUNS.items():
                if name != "resolve" and round_ >= naive_rounds:
                    continue  # the naive variants take seconds each: fewer rounds
                elapsed, requests[name] = await _timed_run(sandbox, outreach, run, tasks)
                timings[name].append(elapsed)
            elapsed, requests["include_prospect"] = await _timed_include(sandbox, outreach, tasks)
            timings["include_prospect"].append(elapsed)
        distinct = len(
            {
                _prospect(t).id
                for t in await outreach.tasks.list(page_size=1000).collect(limit=tasks)
            }
        )
    seconds = {name: statistics.median(samples) for name, samples in timings.items()}
    out: dict[str, float] = {"tasks": tasks, "latency_s": latency}
    for name in timings:
        out[f"{name}_requests"] = requests[name]
        out[f"{name}_s"] = seconds[name]
    out["naive_loop_vs_resolve_time"] = seconds["naive_loop"] / seconds["resolve"]
    out["naive_gather_vs_resolve_time"] = seconds["naive_gather"] / seconds["resolve"]
    out["distinct_prospects"] = distinct
    return out


def run_all(quick: bool = False) -> dict[str, dict[str, float]]:
    """The figures for ``python -m benchmarks resolve`` (``quick``: 1,000 tasks, one round)."""
    if quick:
        return {"resolve_1000_tasks_5ms": asyncio.run(bench_resolve(1000, 0.005, 1, 1))}
    return {"resolve_5000_tasks_5ms": asyncio.run(bench_resolve(5000, 0.005, 3, 1))}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run_all("--quick" in sys.argv), indent=2))
