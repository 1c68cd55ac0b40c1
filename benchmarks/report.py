"""The README's benchmark tables, generated from the stamped results files. Never edit by hand.

    python -m benchmarks.report            # rewrite README.md between the bench markers
    python -m benchmarks.report --check    # exit 1 when README.md differs from the results

Each table sits between ``<!-- bench:begin NAME -->`` and ``<!-- bench:end -->``: ``main``
(``benchmarks/results.json``, from ``nox -s bench``) and ``peers``
(``benchmarks/peers/results.json``, from ``nox -s bench_peers``). Every figure the suites store
gets a row; a row's target is checked here, and every target not met is listed under the table
with the measured figure. ``tests/test_bench_report.py`` fails when the README's tables are not
what this script makes of the committed results files.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from ._stamp import describe
from .peers._report import readme_block

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results.json"
PEER_RESULTS = ROOT / "benchmarks" / "peers" / "results.json"
BEGIN = "<!-- bench:begin {name} -->"
END = "<!-- bench:end -->"
#: A 1-minute load average above this at a suite's start means other work shared the machine.
BUSY_LOAD = 1.0

Figures = dict[str, Any]


@attrs.frozen
class Row:
    """One line of the table: what, the measured figure, the target and whether it is met."""

    what: str
    measured: str
    target: str = "-"
    #: None when the row has no target to meet
    met: bool | None = None
    #: the short form for the "not met" list
    shortfall: str = ""


# ---------------------------------------------------------------------------------- formats


def num(value: float, digits: int = 2) -> str:
    """A number with thousands separators; fewer decimals for bigger numbers."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.{digits}f}"


def seconds(spread: Figures) -> str:
    """``4.82 s (4.70-5.10)``: the median and, over several rounds, the range."""
    text = f"{num(spread['median'])} s"
    return text + _range(spread, num)


def rate(spread: Figures) -> str:
    """``9,520/s (9,300-9,700)``."""
    return f"{spread['median']:,.0f}/s" + _range(spread, lambda v: f"{v:,.0f}")


def _range(spread: Figures, fmt: Callable[[float], str]) -> str:
    if len(spread.get("rounds", (0, 0))) < 2 or "min" not in spread:
        return ""
    return f" ({fmt(spread['min'])}-{fmt(spread['max'])})"


def times(ratio: Figures) -> str:
    """``**1.03x** (per round 1.02x, 0.98-1.10x)``: ratio of medians, then per-round ratios."""
    text = f"**{ratio['of_medians']:.2f}x**"
    per_round = ratio["per_round"]
    if len(per_round["rounds"]) > 1:
        text += (
            f" (per round {per_round['median']:.2f}x, "
            f"{per_round['min']:.2f}-{per_round['max']:.2f}x)"
        )
    return text


# ---------------------------------------------------------------------------------- rows


def client_rows(figures: Figures) -> Iterator[Row]:
    """Streaming against raw loops, and the latency row against its measured ideal."""
    stream = figures["stream_prospects"]
    seen, speed = stream["seconds"], stream["records_per_s"]
    pages = f"{stream['pages']} pages of {stream['page_size']}"
    vs_orjson = stream["vs_raw_orjson"]["of_medians"]
    yield Row(
        f"streaming {stream['records']:,} prospects ({pages}, every field, about 7 MB a page), "
        "each record's id kept; the page server in its own process"
        + (
            f"; {stream['warmup_rounds']} warm-up round not kept"
            if "warmup_rounds" in stream
            else ""
        ),
        f"{rate(speed['outreach_async'])}: {times(stream['vs_raw_orjson'])} a raw aiohttp + "
        f"orjson loop ({rate(speed['raw_orjson'])}), {times(stream['vs_raw_json'])} aiohttp + "
        f"json ({rate(speed['raw_json'])})" + _stream_cpu(stream),
        ">= 1.0x the orjson loop",
        vs_orjson >= 1.0,
        f"streaming: {vs_orjson:.2f}x the raw aiohttp + orjson loop (target >= 1.0x)",
    )
    latency = stream["latency"]
    vs_ideal = latency["vs_ideal"]["of_medians"]
    yield Row(
        f"the same with {latency['latency_s'] * 1000:.0f} ms latency per page, against "
        "max(pages x latency, its own time without latency in the same round)",
        f"{seconds(seen['outreach_async_latency'])} against an ideal of "
        f"{seconds(latency['ideal_s'])} (wire floor {num(latency['wire_floor_s'])} s): "
        f"{times(latency['vs_ideal'])}; the raw orjson loop takes "
        f"{seconds(seen['raw_orjson_latency'])}" + _measured_wire(latency),
        "<= 1.15x",
        vs_ideal <= 1.15,
        f"latency hidden: {vs_ideal:.2f}x the ideal (target <= 1.15x)",
    )


def _measured_wire(latency: Figures) -> str:
    """The wire measured on its own (every page's bytes, nothing decoded), when the results
    hold it: pages x latency leaves out each page's transfer."""
    if "wire_s" not in latency:
        return ""
    return (
        f"; the wire alone (every page's bytes read, nothing decoded) takes "
        f"{seconds(latency['wire_s'])}, and the client {times(latency['vs_wire'])} that"
    )


def _stream_cpu(stream: Figures) -> str:
    """Where the streaming time goes: each side's CPU seconds (results from before they were
    recorded give nothing), and the client again with the collector left on as the raw loop."""
    if "cpu_seconds" not in stream:
        return ""
    cpu, server = stream["cpu_seconds"], stream.get("server_cpu_seconds", {})
    text = (
        f"; client CPU {seconds(cpu['outreach_async'])} against the orjson loop's "
        f"{seconds(cpu['raw_orjson'])}: {times(stream['cpu_vs_raw_orjson'])}"
    )
    if "outreach_async" in server and "raw_orjson" in server:
        text += (
            f"; the page server's CPU {seconds(server['outreach_async'])} and "
            f"{seconds(server['raw_orjson'])}"
        )
    return text + (
        "; with the collector left on, as in the raw loop: "
        f"{times(stream['collector_on_vs_raw_orjson'])} in wall time, "
        f"{times(stream['collector_on_cpu_vs_raw_orjson'])} in CPU time"
    )


def _span(figure: Figures, unit: str = "x") -> str:
    """``1.21x (1.18-1.25x)``: a median with the min-max of the per-round values."""
    return f"{figure['median']:.2f}{unit} ({figure['min']:.2f}-{figure['max']:.2f}{unit})"


def decode_rows(figures: Figures) -> Iterator[Row]:
    """Typed decoding and reads against orjson and dict reads; the export's CPU per record
    (``bench_decode``: CPU time, medians of the per-round ratios with their range)."""
    targets = figures["targets"]
    page = (
        f"a {figures['records']}-prospect sandbox page ({figures['page_mb']:.1f} MB, "
        f"{figures['fields_per_record']} fields a record)"
    )
    ms = figures["median_ms"]
    rows = (
        (
            "typed_decode_vs_orjson_loads",
            f"typed decoding of {page}",
            f"{ms['typed_decode']:.0f} ms vs {ms['orjson_loads']:.0f} ms: **"
            + _span(figures["typed_decode_vs_orjson_loads"])
            + "** `orjson.loads`",
        ),
        (
            "typed_reads_vs_dict_reads",
            f"reading every field of every record of {page}: typed attribute reads vs "
            "`orjson.loads` + dict reads + datetime parsing of the same fields",
            f"{ms['typed_reads']:.0f} ms vs {ms['dict_reads']:.0f} ms: **"
            + _span(figures["typed_reads_vs_dict_reads"])
            + "**",
        ),
    )
    for key, what, measured in rows:
        value = figures[key]["median"]
        yield Row(
            what,
            measured,
            f"<= {targets[key]}x",
            value <= targets[key],
            f"{what.split(' of ')[0]}: {value:.2f}x (target <= {targets[key]}x)",
        )
    if "export_kb_records" in figures:
        yield from _export_cpu_rows(figures)
        return
    per_kb = figures["export_us_per_kb"]["median"]
    yield Row(
        f"export CPU per record to JSON Lines ({figures['record_jsonl_kb']:.1f} KB a line), "
        "decoding included",
        f"{_span(figures['export_us_per_record'], ' us')} a record = **"
        f"{_span(figures['export_us_per_kb'], ' us')}** a KB; from the wire dicts "
        f"{_span(figures['export_wire_us_per_record'], ' us')}; orjson loads + dumps alone "
        f"{_span(figures['orjson_loads_dumps_us_per_record'], ' us')} a record",
        f"<= {targets['export_us_per_kb']} us a KB",
        per_kb <= targets["export_us_per_kb"],
        f"export CPU: {per_kb:.1f} us a KB (target <= {targets['export_us_per_kb']} us)",
    )


def _export_cpu_rows(figures: Figures) -> Iterator[Row]:
    """The export's CPU per record, page bytes to JSON Lines bytes, on full and 1 KB records,
    beside the models' path and orjson loads + dumps of the same records."""
    target = figures["targets"]["export_us_per_kb_record"]
    kinds = (
        ("export_full_records", "records with every field"),
        ("export_kb_records", "1 KB records as the API sent them"),
        ("export_kb_fields_records", "the same 1 KB records with the export's `fields`"),
    )
    for key, kind in kinds:
        if key not in figures:  # results from before the case existed
            continue
        run = figures[key]
        per_record = run["export_path_us_per_record"]["median"]
        what = (
            f"export CPU, page bytes to JSON Lines, {kind} ({run['record_jsonl_kb']:.1f} "
            f"KB, {run['keys_per_record']} keys a line): the export's path (wire resources "
            "flattened, no models)"
        )
        measured = (
            f"**{_span(run['export_path_us_per_record'], ' us')}** a record = "
            f"{_span(run['export_path_us_per_kb'], ' us')} a KB; the models' path "
            f"{_span(run['models_path_us_per_record'], ' us')}; orjson loads + dumps of the same "
            f"records alone {_span(run['orjson_loads_dumps_us_per_record'], ' us')}, so the "
            f"export takes {_span(run['export_path_vs_orjson_loads_dumps'])} that"
        )
        if key != "export_kb_records":
            yield Row(what, measured)
            continue
        yield Row(
            what,
            measured,
            f"<= {target} us a 1 KB record",
            per_record <= target,
            f"export CPU: {per_record:.1f} us a {run['record_jsonl_kb']:.1f} KB record (target "
            f"<= {target} us; orjson loads + dumps alone: "
            f"{run['orjson_loads_dumps_us_per_record']['median']:.1f} us)",
        )


def sandbox_rows(figures: Figures) -> Iterator[Row]:
    """The sandbox's own serving speed (information: the client benchmarks' server)."""
    per_resource = ", ".join(
        f"{name} {figures[name]['records_per_s']:,.0f}/s ({figures[name]['mb_per_page']:.1f} MB "
        "pages)"
        for name in ("prospects", "tasks", "events")
        if name in figures
    )
    yield Row(
        "the sandbox serving 1000-record pages, one core (its own process)",
        f"{per_resource}; {figures['seed_prospects']:,} prospects "
        f"({figures['seed_records']:,} records) seeded and served in "
        f"{figures['seed_and_start_s']:.1f} s",
    )


def resolve_rows(figures: Figures) -> Iterator[Row]:
    """Batched resolving against one GET per task."""
    for key, run in figures.items():
        allowed = math.ceil(run["tasks"] / 1000)
        met = run["resolve_requests"] <= allowed
        yield Row(
            f"resolving the prospects of {run['tasks']:,} tasks ({run['distinct_prospects']:,} "
            f"distinct), {run['latency_s'] * 1000:.0f} ms latency",
            f"**{run['resolve_requests']} request(s), {seconds(run['resolve_s'])}**; one GET per "
            f"task: {run['naive_loop_requests']:,} requests, {seconds(run['naive_loop_s'])} "
            f"({times(run['naive_loop_vs_resolve'])} slower); the same {run['concurrency']} at "
            f"a time: {seconds(run['naive_gather_s'])}",
            f"<= {allowed} requests",
            met,
            f"{key}: {run['resolve_requests']} requests (target <= {allowed})",
        )


def _utilisation(run: Figures, budget: Figures, least: float, label: str) -> Row:
    inside = run["served_per_window"][1:-1]
    used = f"**{run['utilisation']:.1%}**" if run["utilisation"] is not None else "no full window"
    if inside:
        used += f" ({min(inside)}-{max(inside)} of {budget['limit']} per full window)"
    after = run["429s_after_first_window"]
    met = run["utilisation"] is not None and run["utilisation"] >= least and after == 0
    return Row(
        label,
        f"{used}, **{after}** 429s after the first window ({run['429s_first_window']} in it); "
        f"{run['requests']} requests in {run['elapsed_s']:.1f} s",
        f">= {least:.0%}, 0 after the first window",
        met,
        f"{label}: {run['utilisation'] or 0:.1%} of the budget, {after} 429s after the first "
        "window",
    )


def ratelimit_rows(figures: Figures) -> Iterator[Row]:
    """Budget use alone and as a fleet; the fault run's exactness."""
    budget = figures["budget"]
    window = (
        f"{budget['limit']} requests / {budget['window_s']:g} s, {budget['concurrency']} in flight"
    )
    yield _utilisation(
        figures["one_process"], budget, 0.97, f"rate-limit budget use, {window}, one process"
    )
    fleet = figures["four_processes_redis"]
    if "skipped" in fleet:
        yield Row("the same, four processes sharing one `RedisRateLimiter`", fleet["skipped"])
    else:
        yield _utilisation(
            fleet, budget, 0.95, "the same, four processes sharing one `RedisRateLimiter`"
        )
    faults = figures["faults"]
    exact = all(run["exact"] and not run["duplicates"] for run in faults)
    sizes = " and ".join(str(run["page_size"]) for run in faults)
    records = faults[0]["expected"]
    yield Row(
        f"{records:,}-record listing through 5% 503, 3% HTML 502, 3% resets, 1% slow answers",
        ("**every record exactly once**" if exact else "**records lost or repeated**")
        + f" at page sizes {sizes}; "
        + ", ".join(f"{run['elapsed_s']:.1f} s" for run in faults),
        "exact",
        exact,
        "faults: records lost or repeated",
    )


def _throughput_row(run: Figures, where: str) -> Row:
    ratio = run["export_vs_raw"]["of_medians"]
    return Row(
        f"export of {run['records']:,} prospects to JSON Lines vs a raw aiohttp + orjson loop "
        f"writing each record as sent, {where}, {run['latency_s'] * 1000:.0f} ms latency",
        f"{rate(run['records_per_s']['export_jsonl'])} vs "
        f"{rate(run['records_per_s']['raw_jsonl'])}: {times(run['export_vs_raw'])}",
        ">= 0.9x",
        ratio >= 0.9,
        f"export vs raw loop, {where}: {ratio:.2f}x (target >= 0.9x)",
    )


def _partition_row(run: Figures, target: float | None) -> Row:
    vs_ideal = run["vs_ideal"]["of_medians"]
    what = (
        f"partitioned export on the sandbox, {run['records']:,} records, {run['partitions']} "
        f"partitions, pages of {run['page_size']}, {run['latency_s'] * 1000:.0f} ms latency"
    )
    measured = (
        f"{seconds(run['seconds']['partitioned'])} vs {seconds(run['seconds']['sequential'])} "
        f"sequential (speedup {times(run['speedup'])}); ideal {seconds(run['ideal_s'])} = the "
        f"longest of the wire ({num(run['wire_floor_s'])} s), the client's CPU "
        f"({seconds(run['client_cpu_s'])}, {num(run['client_cpu_us_per_record']['median'])} "
        f"us a record) and the sandbox's CPU ({seconds(run['server_cpu_s'])}): "
        f"{times(run['vs_ideal'])} the ideal"
    )
    if "cpu_ideal_s" in run:
        measured += (
            f"; CPU-bound ideal {seconds(run['cpu_ideal_s'])} = the longest of the wire and the "
            f"sequential export's measured per-record CPU times the records (client "
            f"{num(run['sequential_client_cpu_us_per_record']['median'])} us, sandbox "
            f"{num(run['sequential_server_cpu_us_per_record']['median'])} us a record): "
            f"{times(run['vs_cpu_ideal'])}"
        )
    if "partitioned_round_trips_in_a_row" in run:
        trips = run["partitioned_round_trips_in_a_row"]
        measured += (
            f"; {run['partitioned_requests']['median']:,} requests, of which "
            f"{trips['median']}{_range(trips, str)} came one after "
            f"another, {seconds(run['round_trips_in_a_row_s'])} of latency alone"
        )
    if target is None:
        return Row(what, measured, "what two cores allow (shown beside the CPU ideal)")
    return Row(
        what,
        measured,
        f"<= {target}x the ideal",
        vs_ideal <= target,
        f"partitions, pages of {run['page_size']}: {vs_ideal:.2f}x the ideal (target <= "
        f"{target}x; the ideal's longest floor is {_binding_floor(run)})",
    )


def _binding_floor(run: Figures) -> str:
    """Which measured floor sets a partitioned run's ideal."""
    client = f"the client's CPU at {num(run['client_cpu_us_per_record']['median'])} us a record"
    floors = {
        "the wire": run["wire_floor_s"],
        client: run["client_cpu_s"]["median"],
        "the sandbox's CPU": run["server_cpu_s"]["median"],
    }
    return max(floors, key=lambda name: floors[name])


def export_rows(figures: Figures) -> Iterator[Row]:
    """Throughput against a raw loop, partitions against their ideal, memory."""
    if "throughput_sandbox_50ms" in figures:
        yield _throughput_row(figures["throughput_sandbox_50ms"], "sandbox")
    if "throughput_fast_server_50ms" in figures:
        yield _throughput_row(figures["throughput_fast_server_50ms"], "fast synthetic server")
    if "partitions_sandbox_50ms_pages_of_100" in figures:
        yield _partition_row(figures["partitions_sandbox_50ms_pages_of_100"], 1.3)
    if "partitions_sandbox_50ms_pages_of_1000" in figures:
        yield _partition_row(figures["partitions_sandbox_50ms_pages_of_1000"], None)
    memory = figures.get("memory")
    if memory:
        sizes = sorted(int(key.rsplit("_", 1)[1]) for key in memory if key.startswith("peak_mb_"))
        small, big = memory[f"peak_mb_{sizes[0]}"], memory[f"peak_mb_{sizes[-1]}"]
        yield Row(
            f"peak memory exporting {sizes[-1]:,} vs {sizes[0]:,} records",
            f"{big:.1f} MB vs {small:.1f} MB: **{memory['ratio']:.2f}x**",
            "<= 1.2x",
            memory["ratio"] <= 1.2,
            f"memory: {memory['ratio']:.2f}x (target <= 1.2x)",
        )


def churn_rows(figures: Figures) -> Iterator[Row]:
    """Exports while the sandbox changes records (``bench_churn``, one run each): every id
    there, none missing; and what the guarantee costs on a million records."""
    for key, table in figures.items():
        if key.startswith("issue_table"):
            for name, run in table.items():
                complete = run["missing"] == 0 and run["distinct_ids"] == run["lines"] - run.get(
                    "repeated_ids", 0
                )
                setting = re.sub(
                    r"issue_table_(\d+)_pages_of_(\d+)_(\d+)ms",
                    r"\1 prospects, pages of \2, \3 ms latency",
                    key,
                )
                yield Row(
                    f"export while the sandbox changes prospects ({setting}): "
                    + name.replace("_", " "),
                    f"{run['seconds']:.1f} s, {run['prospects_changed_during_run']:,} changed "
                    f"during the run; {run['lines']:,} lines, {run['distinct_ids']:,} ids, "
                    f"**{run['missing']} missing**, {run['repeated_ids']:,} repeated",
                    "none missing",
                    complete,
                    f"churn, {name}: {run['missing']} missing",
                )
    cost = figures.get("one_off_cost")
    if cost:
        yield Row(
            f"one-off export of {cost['records']:,} prospects (fast server), quiet vs "
            f"{cost['churn_per_s']:g} changes a second",
            f"{cost['quiet_s']:.1f} s at {cost['quiet_peak_mb']:.1f} MB vs {cost['churn_s']:.1f} s "
            f"at {cost['churn_peak_mb']:.1f} MB; compaction dropped "
            f"{cost['compaction_dropped']:,} older lines in {cost['compaction_s']:.1f} s "
            f"({cost['compaction_peak_mb']:.1f} MB)",
        )


def sinks_rows(figures: Figures) -> Iterator[Row]:
    """Loading into PostgreSQL against writing JSON Lines (``bench_sinks``: the command line in
    its own process, interleaved rounds), and the load's peak memory against its size."""
    load = figures.get("rate_sandbox")
    if load:
        ratio = load["postgres_vs_jsonl_of_medians"]
        per_round = load["postgres_vs_jsonl_per_round"]
        yield Row(
            f"`outreach-async export` of {load['records']:,} sandbox prospects into PostgreSQL "
            "vs to JSON Lines",
            f"{rate(load['postgres_records_per_s'])} vs {rate(load['jsonl_records_per_s'])}: "
            f"**{ratio:.2f}x** (per round {_span(per_round)})" + _sink_cpu(load),
            ">= 0.5x",
            ratio >= 0.5,
            f"PostgreSQL load: {ratio:.2f}x the JSON Lines rate (target >= 0.5x)",
        )
    memory = figures.get("memory_fast_server")
    if memory:
        sizes = sorted(int(key) for key in memory if key.isdigit())
        small, big = memory[str(sizes[0])], memory[str(sizes[-1])]
        ratio = memory["peak_ratio"]
        yield Row(
            f"peak memory loading {sizes[-1]:,} vs {sizes[0]:,} prospects into PostgreSQL",
            f"{big['peak_mb']:.1f} MB vs {small['peak_mb']:.1f} MB: **{ratio:.2f}x** "
            f"({big['records_per_s']:,.0f} and {small['records_per_s']:,.0f} records/s)",
            "<= 1.2x (flat)",
            ratio <= 1.2,
            f"PostgreSQL load memory: {ratio:.2f}x (target <= 1.2x)",
        )


def _sink_cpu(load: Figures) -> str:
    """The CPU per record of the loading command and of PostgreSQL, where the run measured it."""
    cpu = load.get("cpu_us_per_record")
    if not cpu:
        return ""
    return (
        f"; CPU a record: the command {num(cpu['postgres']['median'], 1)} us into PostgreSQL "
        f"(and PostgreSQL's own {num(cpu['postgres_server']['median'], 1)} us) vs "
        f"{num(cpu['jsonl']['median'], 1)} us to JSON Lines"
    )


def fleet_rows(figures: Figures) -> Iterator[Row]:
    """A fleet of tenants' exports by 1, 2 and 4 workers (``bench_fleet``, one run each)."""
    for key, run in figures.items():
        setting = (
            f"{run['tenants']} tenants x {run['resources']} resources, {run['records']:,} "
            f"records{', ' + key.rsplit('_', 1)[1] + ' latency' if key.endswith('ms') else ''}"
        )
        for name, workers in run.items():
            if not isinstance(workers, dict):
                continue
            yield Row(
                f"fleet of {setting}: {name.replace('_', ' ')}",
                f"{workers['wall_s']:.2f} s, {workers['speedup']:.2f}x as fast as one worker "
                f"(ideal {workers['ideal_s']:.2f} s); "
                f"{workers['cpu_s_per_1000_records']:.3f} CPU s per 1000 records",
            )


def _leaf(value: Any) -> str | None:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return num(value)
    if isinstance(value, dict) and "median" in value:
        return num(value["median"]) + _range(value, num)
    if isinstance(value, dict) and "of_medians" in value:
        return times(value)
    return None


def generic_rows(suite: str, figures: Figures) -> Iterator[Row]:
    """A row per figure of a suite this script has no layout for (so none goes unpublished)."""
    for key, value in figures.items():
        if not isinstance(value, dict):
            continue
        leaves = ((name, _leaf(leaf)) for name, leaf in value.items())
        shown = "; ".join(f"{name.replace('_', ' ')} {text}" for name, text in leaves if text)
        yield Row(f"{suite}: {key.replace('_', ' ')}", shown)


ROWS: dict[str, Callable[[Figures], Iterator[Row]]] = {
    "client": client_rows,
    "decode": decode_rows,
    "sandbox": sandbox_rows,
    "resolve": resolve_rows,
    "ratelimit": ratelimit_rows,
    "export": export_rows,
    "churn": churn_rows,
    "sinks": sinks_rows,
    "fleet": fleet_rows,
}


# ---------------------------------------------------------------------------------- blocks


def main_block(results: Figures) -> str:
    """The benchmark table, what is not met, and where each suite was measured."""
    rows: list[Row] = []
    for name, suite in results["suites"].items():
        render = ROWS.get(name)
        rows.extend(render(suite["figures"]) if render else generic_rows(name, suite["figures"]))
    lines = ["| what | measured | target | met |", "|---|---|---|---|"]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(f"| {row.what} | {row.measured} | {row.target} | {met} |")
    missed = [row.shortfall for row in rows if row.met is False]
    text = "\n".join(lines) + "\n\n"
    if missed:
        text += "Not met:\n\n" + "\n".join(f"- {shortfall}" for shortfall in missed) + "\n\n"
    else:
        text += "Every target above is met.\n\n"
    text += _where(results)
    return text


def _where(results: Figures) -> str:
    lines = ["Measured (each suite's stamp, from `benchmarks/results.json`):", ""]
    for name, suite in results["suites"].items():
        stamped = suite["stamp"]
        line = f"- {name}: {describe(stamped)}; {stamped['seconds']:.0f} s"
        if suite.get("quick"):
            line += "; **--quick** (smoke-test sizes, one round)"
        if stamped["load_average_at_start"][0] > BUSY_LOAD:
            line += "; other work shared the machine: treat the second digit as noise"
        lines.append(line)
    return "\n".join(lines)


def blocks(results: Figures | None, peers: Figures | None) -> dict[str, str]:
    """The README's generated blocks, by marker name."""
    out = {}
    if results is not None:
        out["main"] = main_block(results)
    if peers is not None:
        out["peers"] = readme_block(peers)
    return out


def read_results(
    results: Path = RESULTS, peers: Path = PEER_RESULTS
) -> tuple[Figures | None, Figures | None]:
    """The committed results files (None for one that does not exist)."""

    def load(path: Path) -> Figures | None:
        return json.loads(path.read_text()) if path.exists() else None

    return load(results), load(peers)


class MarkerError(ValueError):
    """The README lacks a block's markers, or they are out of order."""


def apply(readme: str, generated: dict[str, str]) -> str:
    """``readme`` with each named block replaced by its generated text."""
    for name, text in generated.items():
        pattern = re.compile(
            re.escape(BEGIN.format(name=name)) + r"\n.*?" + re.escape(END), re.DOTALL
        )
        if pattern.search(readme) is None:
            raise MarkerError(f"README.md has no {BEGIN.format(name=name)} ... {END} block")
        replacement = f"{BEGIN.format(name=name)}\n{text.rstrip()}\n{END}"
        readme = pattern.sub(lambda _match, r=replacement: r, readme, count=1)  # type: ignore[misc]
    return readme


def main(argv: list[str] | None = None) -> int:
    """Rewrite the README's tables, or ``--check`` that they are up to date."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md differs")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    readme = args.readme.read_text()
    updated = apply(readme, blocks(*read_results()))
    if args.check:
        if updated != readme:
            print(f"{args.readme}: the benchmark tables differ from the results", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(updated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
