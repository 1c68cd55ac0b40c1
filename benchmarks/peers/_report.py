"""Figures from the runs: medians, ratios to ours from the same rounds, and the markdown table.

A ratio is given two ways: the ratio of the medians (shown first) and the median and range of
the per-round ratios (peer / ours within each round, measured minutes apart on the same
sandbox), since on a shared machine they can differ. Only runs that finished with every record
exactly once count for speed and time; the others are reported as what went wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._stamp import describe
from outreach_async.sandbox.cli import parse_rate_limit

from ._bench import CLIENTS, OURS, Client, Outcome, Workload, median

Figure = Callable[[Outcome], float | None]


def _rate(outcome: Outcome) -> float | None:
    return outcome.records_per_s if outcome.ok else None


def _rss(outcome: Outcome) -> float | None:
    return outcome.peak_rss_mb if outcome.ok else None


def _time(outcome: Outcome) -> float | None:
    return outcome.elapsed if outcome.ok else None


def round_ratios(mine: Sequence[Outcome], ours: Sequence[Outcome], figure: Figure) -> list[float]:
    """figure(peer) / figure(ours) within each round where both have a figure."""
    by_round = {o.round: figure(o) for o in ours}
    ratios = []
    for outcome in mine:
        value, base = figure(outcome), by_round.get(outcome.round)
        if value is not None and base:
            ratios.append(value / base)
    return ratios


def paired_ratio(mine: Sequence[Outcome], ours: Sequence[Outcome], figure: Figure) -> float | None:
    """Median over rounds of figure(peer) / figure(ours), rounds where both have a figure."""
    return median(round_ratios(mine, ours, figure))


def ratio_of_medians(
    mine: Sequence[Outcome], ours: Sequence[Outcome], figure: Figure
) -> float | None:
    """median(figure(peer)) / median(figure(ours)) over the runs that have a figure."""
    value, base = median(figure(o) for o in mine), median(figure(o) for o in ours)
    return value / base if value is not None and base else None


def per_round_range(
    mine: Sequence[Outcome], ours: Sequence[Outcome], figure: Figure
) -> list[float] | None:
    """[min, max] of figure(peer) / figure(ours) within each round."""
    return value_range(round_ratios(mine, ours, figure))


def value_range(values: Sequence[float | None]) -> list[float] | None:
    """[min, max] of the values that exist."""
    present = [v for v in values if v is not None]
    return [min(present), max(present)] if present else None


def summarize(workload: Workload, client: Client, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The medians, the ratios to ours and the failures of one client on one workload."""
    mine = [o for o in outcomes if o.client == client.key]
    ours = [o for o in outcomes if o.client == OURS.key]
    failed = [o for o in mine if not o.ok]
    return {
        "runs": len(mine),
        "ok_runs": len(mine) - len(failed),
        "records_per_s": median(_rate(o) for o in mine),
        "records_per_s_range": value_range([_rate(o) for o in mine]),
        "elapsed_s": median(_time(o) for o in mine),
        "elapsed_s_range": value_range([_time(o) for o in mine]),
        "peak_rss_mb": median(o.peak_rss_mb for o in mine),
        "rate_limited_429s": median(o.rate_limited for o in mine),
        "faults_met": median(sum(o.faults.values()) for o in mine),
        # per-round medians (the rounds are paired), the ratio of medians and the per-round range
        "vs_ours": {
            "records_per_s": paired_ratio(mine, ours, _rate),
            "elapsed_s": paired_ratio(mine, ours, _time),
            "peak_rss_mb": paired_ratio(mine, ours, _rss),
        },
        "vs_ours_of_medians": {
            "records_per_s": ratio_of_medians(mine, ours, _rate),
            "elapsed_s": ratio_of_medians(mine, ours, _time),
            "peak_rss_mb": ratio_of_medians(mine, ours, _rss),
        },
        "vs_ours_per_round_range": {
            "records_per_s": per_round_range(mine, ours, _rate),
            "elapsed_s": per_round_range(mine, ours, _time),
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


def _ratios(summary: dict[str, Any], figure: str, client: Client) -> str:
    """``, 0.89x (per round 0.98x, 0.76-1.24x)``: ratio of medians, then the per-round ones."""
    of_medians = summary.get("vs_ours_of_medians", summary["vs_ours"])[figure]
    if client.key == OURS.key or of_medians is None:
        return ""
    text = f", **{of_medians:.2f}x**"
    span = summary.get("vs_ours_per_round_range", {}).get(figure)
    if span and summary["ok_runs"] > 1:
        text += f" (per round {summary['vs_ours'][figure]:.2f}x, {span[0]:.2f}-{span[1]:.2f}x)"
    return text


def _spread(summary: dict[str, Any], key: str, fmt: str) -> str:
    span = summary.get(f"{key}_range")
    if not span or summary["ok_runs"] < 2:
        return ""
    return f" [{format(span[0], fmt)}-{format(span[1], fmt)}]"


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


def _success_cells(
    workload: Workload, client: Client, summary: dict[str, Any], rss: str
) -> list[str]:
    if _throughput(workload):
        rate = f"{summary['records_per_s']:,.0f}/s" + _spread(summary, "records_per_s", ",.0f")
        return [rate + _ratios(summary, "records_per_s", client), rss]
    elapsed = f"{summary['elapsed_s']:.1f} s" + _spread(summary, "elapsed_s", ".1f")
    elapsed += _ratios(summary, "elapsed_s", client)
    if workload.key == "ratelimit":
        return [f"{summary['rate_limited_429s']:,.0f} x 429, {elapsed}"]
    faults = f"{summary['faults_met']:,.0f} faults met"
    return [f"✓ {workload.records:,} once, {elapsed}, {faults}"]


def _cells(workload: Workload, client: Client, summary: dict[str, Any]) -> list[str]:
    """The figures of the runs that finished, and how the others failed."""
    rss_ratio = summary.get("vs_ours_of_medians", summary["vs_ours"])["peak_rss_mb"]
    rss = f"{summary['peak_rss_mb']:,.0f} MB{_times(rss_ratio)}"
    if not summary["ok_runs"]:
        failure = _failure_cell(summary, workload.records)
        return [failure, rss] if _throughput(workload) else [failure]
    cells = _success_cells(workload, client, summary, rss)
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
    header = ["client", "does with each record"] + [h for w in workloads for h in _headers(w)]
    rows = [header, ["---"] * len(header)]
    for client in clients:
        row = [labels[client.key], client.does]
        for workload in workloads:
            row.extend(_cells(workload, client, summaries[workload.key][client.key]))
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
    return table + _pad_note(workloads, clients)


def _pad_note(workloads: Sequence[Workload], clients: Sequence[Client]) -> str:
    """tap-outreach's fixed sleep after a 429 decides its rate-limited time: say so."""
    limited = [w for w in workloads if w.key == "ratelimit"]
    if not limited or "tap" not in {c.key for c in clients}:
        return ""
    window = parse_rate_limit(limited[0].rate_limit).window
    return (
        f"\n\nUnder the rate limit ({window:g} s windows), tap-outreach sleeps until the window "
        "resets plus a fixed 10 s after each 429 (its `sleep_for_reset_period`): that pad, not "
        "its speed, decides its time in that column. outreach-async's limiter spreads each "
        "window's budget evenly over the window rather than spending it at once, so it gets no "
        "429 and its requests take about as many whole windows as they fill; the raw loop sends "
        "as fast as it can, takes a 429, sleeps `Retry-After` and finishes sooner."
    )


METHOD = """\
Each client runs in its own process (peak RSS is its own `VmHWM`) against one sandbox per
workload, all with the same page size; the order rotates each round. tap-outreach runs through
its own `main()` with its hard-coded `https://api.outreach.io` pointed at the sandbox and its
Singer output written to a file; jsonapi-client uses `Session(enable_async=True).iterate()`;
the raw loop sleeps `Retry-After` on 429 and retries 5xx and dropped connections 5 times.
Records are checked by id against the sandbox: duplicates and missing ones. A ratio is the
peer's figure over outreach-async's (records/s: below 1 is slower; time and memory: below 1 is
less): the ratio of the medians, then in brackets the median and range of the per-round
ratios; a figure's range over the rounds is in square brackets."""


def readme_block(document: dict[str, Any]) -> str:
    """The README's peers table, from a results document (``benchmarks/peers/results.json``)."""
    workloads = [Workload(**w) for w in document["workloads"]]
    clients = [c for c in CLIENTS if c.key in document["clients"]]
    table = markdown(workloads, clients, document["summary"], document["clients"])
    rounds = max(w.rounds for w in workloads)
    stamped = document["stamp"]
    where = (
        f"Measured at {describe(stamped)}; {rounds} interleaved rounds, "
        f"{stamped['seconds'] / 60:.0f} min in all"
        + (", **--quick** (smoke-test sizes)" if document["quick"] else "")
        + "."
    )
    return f"{table}{document['missing']}\n\n{where}\n\n{METHOD}"
