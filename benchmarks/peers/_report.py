"""Figures from the runs: medians, ratios to ours from the same rounds, and the markdown table.

A ratio is the median over rounds of (peer / ours) within each round, so the two numbers of a
ratio were always measured minutes apart on the same sandbox. Only runs that finished with every
record exactly once count for speed and time; the others are reported as what went wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from outreach_async.sandbox.cli import parse_rate_limit

from ._bench import OURS, Client, Outcome, Workload, median

Figure = Callable[[Outcome], float | None]


def _rate(outcome: Outcome) -> float | None:
    return outcome.records_per_s if outcome.ok else None


def _rss(outcome: Outcome) -> float | None:
    return outcome.peak_rss_mb if outcome.ok else None


def _time(outcome: Outcome) -> float | None:
    return outcome.elapsed if outcome.ok else None


def paired_ratio(mine: Sequence[Outcome], ours: Sequence[Outcome], figure: Figure) -> float | None:
    """Median over rounds of figure(peer) / figure(ours), rounds where both have a figure."""
    by_round = {o.round: figure(o) for o in ours}
    ratios = []
    for outcome in mine:
        value, base = figure(outcome), by_round.get(outcome.round)
        if value is not None and base:
            ratios.append(value / base)
    return median(ratios)


def summarize(workload: Workload, client: Client, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The medians, the ratios to ours and the failures of one client on one workload."""
    mine = [o for o in outcomes if o.client == client.key]
    ours = [o for o in outcomes if o.client == OURS.key]
    failed = [o for o in mine if not o.ok]
    return {
        "runs": len(mine),
        "ok_runs": len(mine) - len(failed),
        "records_per_s": median(_rate(o) for o in mine),
        "elapsed_s": median(_time(o) for o in mine),
        "peak_rss_mb": median(o.peak_rss_mb for o in mine),
        "rate_limited_429s": median(o.rate_limited for o in mine),
        "faults_met": median(sum(o.faults.values()) for o in mine),
        "vs_ours": {
            "records_per_s": paired_ratio(mine, ours, _rate),
            "elapsed_s": paired_ratio(mine, ours, _time),
            "peak_rss_mb": paired_ratio(mine, ours, _rss),
        },
        "failures": [
            {
                "round": o.round,
                "error": o.error,
                "delivered": o.delivered,
                "unique": o.unique,
                "duplicates": o.duplicates,
                "missing": o.missing,
                "peak_rss_mb": o.peak_rss_mb,
            }
            for o in failed
        ],
    }


def _times(ratio: float | None) -> str:
    return f" ({ratio:.2f}x)" if ratio is not None else ""


def short_error(error: str | None) -> str:
    """The exception's type and the start of its message, for a table cell."""
    if not error:
        return ""
    text = error.split(" (at ", 1)[0]
    return text if len(text) <= 60 else text[:57] + "..."


def _failure_cell(summary: dict[str, Any], records: int) -> str:
    first = summary["failures"][0]
    what = []
    if first["error"]:
        what.append(short_error(first["error"]))
    what.append(f"{first['unique']:,} of {records:,} records")
    if first["duplicates"]:
        what.append(f"{first['duplicates']:,} duplicates")
    runs = summary["runs"]
    count = f" ({len(summary['failures'])} of {runs} runs)" if runs > 1 else ""
    return "✗ " + "; ".join(what) + count


def _throughput(workload: Workload) -> bool:
    return workload.key in ("stream", "large")


def _success_cells(workload: Workload, summary: dict[str, Any], rss: str) -> list[str]:
    ratios = summary["vs_ours"]
    if _throughput(workload):
        return [f"{summary['records_per_s']:,.0f}/s{_times(ratios['records_per_s'])}", rss]
    elapsed = f"{summary['elapsed_s']:.1f} s{_times(ratios['elapsed_s'])}"
    if workload.key == "ratelimit":
        return [f"{summary['rate_limited_429s']:,.0f} x 429, {elapsed}"]
    faults = f"{summary['faults_met']:,.0f} faults met"
    return [f"✓ {workload.records:,} once, {elapsed}, {faults}"]


def _cells(workload: Workload, summary: dict[str, Any]) -> list[str]:
    """The figures of the runs that finished, and how the others failed."""
    rss = f"{summary['peak_rss_mb']:,.0f} MB{_times(summary['vs_ours']['peak_rss_mb'])}"
    if not summary["ok_runs"]:
        failure = _failure_cell(summary, workload.records)
        return [failure, rss] if _throughput(workload) else [failure]
    cells = _success_cells(workload, summary, rss)
    if summary["failures"]:
        cells[0] += "; " + _failure_cell(summary, workload.records)
    return cells


def _headers(workload: Workload) -> list[str]:
    pages = -(-workload.records // workload.page_size)
    if _throughput(workload):
        what = f"{workload.records:,} records, {pages:,} pages of {workload.page_size}"
        return [f"{what}: records/s", "peak RSS"]
    if workload.key == "ratelimit":
        budget = parse_rate_limit(workload.rate_limit)
        windows = -(-pages // budget.limit)
        what = f"{pages:,} requests, {windows} windows"
        return [f"export under {workload.rate_limit} ({what}): 429s, time"]
    return [f"export under faults ({pages:,} pages): each record once?"]


def markdown(
    workloads: Sequence[Workload],
    clients: Sequence[Client],
    summaries: dict[str, dict[str, dict[str, Any]]],
    labels: dict[str, str],
) -> str:
    """One table: a row per client, the workloads side by side; then the failures in full."""
    header = ["client"] + [h for w in workloads for h in _headers(w)]
    rows = [header, ["---"] * len(header)]
    for client in clients:
        row = [labels[client.key]]
        for workload in workloads:
            row.extend(_cells(workload, summaries[workload.key][client.key]))
        rows.append(row)
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows)
    notes = [
        f"- {labels[c.key]}, {w.key} round {f['round']}: {f['error'] or 'no error raised'}"
        f" ({f['unique']:,} unique of {w.records:,}, {f['duplicates']:,} duplicates,"
        f" {f['missing']:,} missing)"
        for w in workloads
        for c in clients
        for f in summaries[w.key][c.key]["failures"]
    ]
    if notes:
        table += "\n\nFailures:\n\n" + "\n".join(notes)
    return table
