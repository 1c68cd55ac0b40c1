"""The README's Airbyte paragraph from ``results.json``: ``python -m benchmarks.connectors.report``.

Prints markdown; every figure in it comes from the results file that ``nox -s connectors --
--measure`` wrote (see :mod:`.measure` for how each was measured).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from .measure import RESULTS

__all__ = ["render"]


def _range(values: list[float], unit: str = "") -> str:
    low, high = min(values), max(values)
    if round(low) == round(high):
        return f"{low:,.0f}{unit}"
    return f"{low:,.0f}-{high:,.0f}{unit}"


def _throughput(results: dict[str, Any]) -> list[str]:
    throughput = results["throughput"]
    stamp = throughput["stamp"]
    rounds = throughput["rounds"]
    airbyte = [r["airbyte_records"] / r["airbyte_seconds"] for r in rounds]
    ours = [r["export_records"] / r["export_seconds"] for r in rounds]
    ratio = statistics.median(ours) / statistics.median(airbyte)
    prospects = f"{throughput['prospects']:,}"
    return [
        f"| client, one sandbox of {prospects} prospects | prospects/s, {len(rounds)} rounds |",
        "| --- | --- |",
        f"| `outreach-async export prospects` {stamp['outreach_async']} | {_range(ours, '/s')} |",
        f"| Airbyte source-outreach {stamp['airbyte_source_outreach']} "
        f"(airbyte-cdk {stamp['airbyte_cdk']}, Python {stamp['connector_python']}) "
        f"| {_range(airbyte, '/s')} ({ratio:.0f}x slower, medians) |",
    ]


def _throttle(results: dict[str, Any]) -> str:
    runs = results["throttle"]["runs"]
    minutes = _range([r["seconds"] / 60 for r in runs], " min")
    mints = _range([r["mints"] for r in runs])
    refusals = _range([r["token_429s"] for r in runs])
    streams = min(r["streams_with_records"] for r in runs)
    return (
        f"- **One token mint per stream, Retry-After ignored.** A full read of its 17 streams "
        f"with the sandbox's default one-mint-a-minute OAuth throttle (Outreach's) took "
        f"**{minutes}** ({len(runs)} runs at once, each on its own sandbox; {streams} of 17 "
        f"streams with records in each): it minted {mints} access tokens, one per stream, and "
        f"the token endpoint refused {refusals} requests with a Retry-After the connector does "
        f"not read (its CDK backs off exponentially instead)."
    )


def _start_date(results: dict[str, Any]) -> str:
    found = results["start_date"]
    qualifying, read, kept = found["qualifying"], found["read"], found["read_qualifying"]
    short = sorted(s for s in qualifying if kept.get(s, 0) < qualifying[s])
    cells = "; ".join(
        f"{s}: {read.get(s, 0):,} read, {kept.get(s, 0):,} of them qualifying, of {qualifying[s]:,}"
        for s in short
    )
    total_kept = sum(kept.values())
    total = sum(qualifying.values())
    return (
        f"- **A `start_date` that silently drops records.** With `start_date` "
        f"{found['start_date'][:10]} (run at {found['stamp']['commit']}) a full read delivered "
        f"{sum(read.values()):,} records, only "
        f"{total_kept:,} of them updated on or after it, of the {total:,} that were, and ended "
        f"without an error: {cells}. It asks for `sort=updatedAt` (oldest first) and "
        f"declares its streams `is_data_feed` (newest first), so its CDK stops paging at the "
        f"first page holding a record older than `start_date`, which is the first page."
    )


def render(results: dict[str, Any]) -> str:
    """The markdown the README quotes."""
    stamp = results["throughput"]["stamp"]
    lines = [
        *_throughput(results),
        "",
        f"Measured at {stamp['commit']} on {stamp['date']} ({stamp['machine']}, Python "
        f"{stamp['python']}; {stamp['shared']}, so read the spread, not the digits), process "
        f"start to exit, interleaved. What breaks there, shown by the same kind of run:",
        "",
        _throttle(results),
        _start_date(results),
    ]
    return "\n".join(lines)


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    print(render(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
