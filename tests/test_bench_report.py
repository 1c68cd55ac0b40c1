"""The README's benchmark tables are what ``python -m benchmarks.report`` makes of the committed
results files: a hand edit, or results committed without regenerating the README, fails here."""

from __future__ import annotations

import copy

import pytest

from benchmarks import report

README = report.README.read_text()


def generated() -> dict[str, str]:
    return report.blocks(*report.read_results())


def test_the_readme_tables_are_generated_from_the_committed_results() -> None:
    blocks = generated()
    assert set(blocks) == {"main", "peers"}, "both results files are committed"
    assert report.apply(README, blocks) == README, (
        "README.md's benchmark tables differ from the results files: run "
        "`python -m benchmarks.report` (never edit the tables by hand)"
    )


def test_a_hand_edited_figure_is_caught() -> None:
    blocks = generated()
    begin = report.BEGIN.format(name="main")
    start = README.index(begin) + len(begin)
    edited = README[:start] + "\n| a flattering row | 100x | | yes |" + README[start:]
    assert report.apply(edited, blocks) != edited


def test_every_target_not_met_is_listed_under_the_table() -> None:
    results, _peers = report.read_results()
    assert results is not None
    text = report.main_block(results)
    missed = text.count("| **no** |")
    if missed:
        listed = text.split("Not met:\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
        assert len(listed) == missed
        assert all(line.startswith("- ") for line in listed)
    else:
        assert "Every target above is met." in text


def test_a_row_whose_target_fails_says_so() -> None:
    results, _peers = report.read_results()
    assert results is not None
    worse = copy.deepcopy(results)
    stream = worse["suites"]["client"]["figures"]["stream_prospects"]
    stream["latency"]["vs_ideal"]["of_medians"] = 2.0
    text = report.main_block(worse)
    assert "- latency hidden: 2.00x the ideal (target <= 1.15x)" in text.split("Not met:")[1]


def test_a_readme_without_the_markers_is_refused() -> None:
    with pytest.raises(report.MarkerError, match="bench:begin main"):
        report.apply("# no tables here\n", {"main": "| a | b |"})


def test_the_streaming_rows_show_cpu_and_the_measured_wire_when_the_results_hold_them() -> None:
    results, _peers = report.read_results()
    assert results is not None
    richer = copy.deepcopy(results)
    stream = richer["suites"]["client"]["figures"]["stream_prospects"]

    def figure(median: float) -> dict[str, object]:
        return {"median": median, "min": median, "max": median, "rounds": [median] * 5}

    def ratio(value: float) -> dict[str, object]:
        return {"of_medians": value, "per_round": figure(value)}

    stream["warmup_rounds"] = 1
    stream["cpu_seconds"] = {"outreach_async": figure(1.6), "raw_orjson": figure(2.64)}
    stream["server_cpu_seconds"] = {"outreach_async": figure(0.23), "raw_orjson": figure(0.22)}
    stream["cpu_vs_raw_orjson"] = ratio(1.65)
    stream["collector_on_vs_raw_orjson"] = ratio(1.12)
    stream["collector_on_cpu_vs_raw_orjson"] = ratio(1.11)
    stream["latency"]["wire_s"] = figure(1.95)
    stream["latency"]["vs_wire"] = ratio(0.99)
    text = report.main_block(richer)
    latency = next(line for line in text.splitlines() if "ms latency per page" in line)
    assert "the wire alone (every page's bytes read, nothing decoded) takes 1.95 s" in latency
    assert "and the client **0.99x**" in latency
    row = next(line for line in text.splitlines() if "streaming 3" in line)
    assert "1 warm-up round not kept" in row
    assert "client CPU 1.60 s (1.60-1.60) against the orjson loop's 2.64 s" in row
    assert "**1.65x**" in row
    assert "page server's CPU 0.23 s" in row
    assert "collector left on, as in the raw loop: **1.12x**" in row
    assert "**1.11x** (per round 1.11x, 1.11-1.11x) in CPU time" in row
    # the committed results, from before CPU was recorded, give the row without it
    plain = next(line for line in report.main_block(results).splitlines() if "streaming 3" in line)
    assert ("client CPU" in plain) == (
        "cpu_seconds" in results["suites"]["client"]["figures"]["stream_prospects"]
    )


def _spread(value: float) -> dict[str, object]:
    return {"median": value, "min": value, "max": value, "rounds": [value, value, value]}


def _ratio(value: float) -> dict[str, object]:
    return {"of_medians": value, "per_round": _spread(value)}


def _export_cpu(kb: float, keys: int, us: float, floor: float) -> dict[str, object]:
    return {
        "records": 1000,
        "record_jsonl_kb": kb,
        "keys_per_record": keys,
        "export_path_us_per_record": _spread(us),
        "export_path_us_per_kb": _spread(us / kb),
        "models_path_us_per_record": _spread(us * 1.2),
        "orjson_loads_dumps_us_per_record": _spread(floor),
        "export_path_vs_orjson_loads_dumps": {"median": us / floor, "min": 1.0, "max": 2.0},
    }


def test_the_export_cpu_rows_judge_the_1kb_record_and_show_the_floor() -> None:
    results, _peers = report.read_results()
    assert results is not None
    newer = copy.deepcopy(results)
    decode = newer["suites"]["decode"]["figures"]
    for old in ("export_us_per_record", "export_us_per_kb", "export_wire_us_per_record"):
        decode.pop(old, None)
    decode["export_full_records"] = _export_cpu(4.4, 248, 70.0, 65.0)
    decode["export_kb_records"] = _export_cpu(1.04, 60, 16.0, 11.0)
    decode["targets"]["export_us_per_kb_record"] = 10.0
    partitions = newer["suites"]["export"]["figures"]["partitions_sandbox_50ms_pages_of_1000"]
    partitions["sequential_client_cpu_us_per_record"] = _spread(80.0)
    partitions["sequential_server_cpu_us_per_record"] = _spread(60.0)
    partitions["cpu_ideal_s"] = _spread(1.6)
    partitions["vs_cpu_ideal"] = _ratio(1.25)
    text = report.main_block(newer)
    full = next(line for line in text.splitlines() if "records with every field (4.4 KB" in line)
    assert full.endswith("| - |  |")  # information only: the target is the 1 KB record's
    kb = next(
        line
        for line in text.splitlines()
        if "1 KB records as the API sent them (1.0 KB, 60 keys" in line
    )
    assert "**16.00 us (16.00-16.00 us)** a record" in kb
    assert "alone 11.00 us" in kb
    assert kb.endswith("| <= 10.0 us a 1 KB record | **no** |")
    missed = text.split("Not met:")[1]
    assert "- export CPU: 16.0 us a 1.0 KB record (target <= 10.0 us; orjson loads" in missed
    cpu_bound = next(line for line in text.splitlines() if "partitions, pages of 1000" in line)
    assert "CPU-bound ideal 1.60 s (1.60-1.60)" in cpu_bound
    assert "**1.25x**" in cpu_bound
    decode["export_kb_fields_records"] = _export_cpu(1.04, 60, 12.0, 8.0)
    projected = next(
        line
        for line in report.main_block(newer).splitlines()
        if "the same 1 KB records with the export's `fields`" in line
    )
    assert projected.endswith("| - |  |")  # information: the target row is the one above
    decode["export_kb_records"] = _export_cpu(1.04, 60, 9.5, 8.0)
    assert "export CPU" not in report.main_block(newer).split("Not met:")[-1]


def test_the_partition_row_counts_round_trips_and_the_load_row_shows_cpu() -> None:
    results, _peers = report.read_results()
    assert results is not None
    newer = copy.deepcopy(results)
    partitions = newer["suites"]["export"]["figures"]["partitions_sandbox_50ms_pages_of_100"]
    partitions["partitioned_requests"] = _spread(170)
    partitions["partitioned_round_trips_in_a_row"] = {
        "median": 26, "min": 25, "max": 27, "rounds": [25, 26, 27],
    }  # fmt: skip
    partitions["round_trips_in_a_row_s"] = _spread(1.3)
    load = newer["suites"]["sinks"]["figures"]["rate_sandbox"]
    load["cpu_us_per_record"] = {
        "postgres": _spread(90.0), "postgres_server": _spread(15.0), "jsonl": _spread(45.0),
    }  # fmt: skip
    text = report.main_block(newer)
    row = next(line for line in text.splitlines() if "pages of 100, 50 ms" in line)
    assert "170 requests, of which 26 (25-27) came one after another, 1.30 s" in row
    sink = next(line for line in text.splitlines() if "into PostgreSQL vs to JSON Lines" in line)
    assert "the command 90.0 us into PostgreSQL (and PostgreSQL's own 15.0 us) vs 45.0 us" in sink
    del partitions["partitioned_round_trips_in_a_row"], load["cpu_us_per_record"]
    older = report.main_block(newer).splitlines()
    assert "came one after" not in next(line for line in older if "pages of 100, 50 ms" in line)
    assert "CPU a record" not in next(line for line in older if "into PostgreSQL vs" in line)
