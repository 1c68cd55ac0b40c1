"""Interleaved rounds, figures that show their spread, and the CPU time of another process.

Every comparison runs its variants in turns (the order rotated each round, so none always goes
first on a warm or a cold machine), at least three rounds. A time is stored as its median with
the min and max beside it and every round's value; a ratio is given two ways, as the ratio of
the medians and as the median (and spread) of the per-round ratios, since on a shared machine
the two can differ and a reader should see both.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs

#: The fewest rounds a published figure may come from.
MIN_ROUNDS = 3


def spread(samples: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and every sample."""
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "rounds": list(samples),
    }


def ratio(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, Any]:
    """numerator / denominator: of the medians, and per round (the rounds are paired)."""
    per_round = [n / d for n, d in zip(numerators, denominators, strict=True)]
    return {
        "of_medians": statistics.median(numerators) / statistics.median(denominators),
        "per_round": spread(per_round),
    }


def rotated(names: Sequence[str], round_: int) -> list[str]:
    """The running order of a round: shifted by one each round."""
    shift = round_ % len(names)
    return [*names[shift:], *names[:shift]]


async def interleave(
    runs: Mapping[str, Callable[[], Awaitable[float]]], rounds: int, *, warmup: int = 0
) -> dict[str, list[float]]:
    """Seconds of each run, round after round, the order rotated; each run times itself.

    ``warmup`` rounds run first and are not kept (the first run of a process pays for imports,
    connection pools and the allocator's growth)."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(-warmup, rounds):
        for name in rotated(list(runs), round_):
            gc.collect()  # the previous run's garbage is not this run's cost
            seconds = await runs[name]()
            if round_ >= 0:
                samples[name].append(seconds)
    return samples


async def timed(run: Callable[[], Awaitable[int]], expected: int) -> float:
    """Seconds ``run`` took; raises when it did not deliver ``expected`` records."""
    start = time.perf_counter()
    count = await run()
    elapsed = time.perf_counter() - start
    if count != expected:
        raise AssertionError(f"{count} records, expected {expected}")
    return elapsed


def proc_stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (which may hold spaces): index 1
    is the parent's pid, 11 and 12 the user and system ticks, 13 and 14 its reaped children's."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (``/proc/PID/stat``)."""
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@attrs.define
class CpuLog:
    """Each timed run's CPU seconds by name: the client's (this process) and the server's
    (``server_cpu``: its process's CPU seconds so far, None where they cannot be read)."""

    server_cpu: Callable[[], float | None]
    client: dict[str, list[float]] = attrs.Factory(dict)
    server: dict[str, list[float]] = attrs.Factory(dict)

    def timed(
        self, name: str, run: Callable[[], Awaitable[int]], expected: int
    ) -> Callable[[], Awaitable[float]]:
        """A run for :func:`interleave`: ``run`` :func:`timed`, its CPU seconds noted."""

        async def measured() -> float:
            client, server = time.process_time(), self.server_cpu()
            elapsed = await timed(run, expected)
            self.client.setdefault(name, []).append(time.process_time() - client)
            after = self.server_cpu()
            if server is not None and after is not None:
                self.server.setdefault(name, []).append(after - server)
            return elapsed

        return measured

    def kept(self, samples: dict[str, list[float]], rounds: int) -> dict[str, list[float]]:
        """The last ``rounds`` values of each run (those of :func:`interleave`'s warm-up
        rounds dropped)."""
        return {name: values[-rounds:] for name, values in samples.items()}
