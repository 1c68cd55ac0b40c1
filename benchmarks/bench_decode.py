"""Decoding and flattening micro-benchmarks (issue 12): typed decode against ``orjson.loads``,
reading every field against dict reads, and the export's wire-to-record path.

The data is one page of 1000 prospects as the sandbox serves it (every one of the prospect's 230
attributes and 21 relationships, about 6 KB a record on the wire), fetched once over loopback.
Every figure is a median over interleaved rounds (each round runs every case once, in turn), with
the min-max spread of the per-round values beside it, so a busy shared machine slows all cases
alike. ``run(quick)`` returns the figures; ``python -m benchmarks.bench_decode`` prints them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from outreach_async import Prospect
from outreach_async._converter import decode_collection
from outreach_async.export import RecordEncoder
from outreach_async.models import RecordFlattener
from outreach_async.sandbox import Sandbox

SPEC = Prospect.__resource_spec__
PAGE_SIZE = 1000


async def sandbox_page(records: int = PAGE_SIZE) -> bytes:
    """The bytes of one page of ``records`` prospects, as the sandbox serves them."""
    async with Sandbox(seed=records) as sandbox:
        url = f"{sandbox.base_url}/prospects?page%5Bsize%5D={records}"
        headers = {"Authorization": f"Bearer {sandbox.token}"}
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as r:
            r.raise_for_status()
            return await r.read()


def _no_context(included: list[dict[str, Any]]) -> None:
    return None


def _parse_time(value: str) -> dt.datetime | dt.date:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def field_readers() -> tuple[Callable[[list[Any]], None], Callable[[list[Any]], None]]:
    """Two functions that read every field of every record: one from the parsed resources (dict
    reads, dates and datetimes parsed, each relationship's data), one from the models (attribute
    reads). Both are straight-line code, as a program naming its fields is."""
    dict_lines = ["def read_dicts(resources):", "    for r in resources:"]
    dict_lines += ["        a = r['attributes']", "        rels = r['relationships']"]
    model_lines = ["def read_models(models):", "    for m in models:"]
    for a in SPEC.attributes:
        if a.kind in ("datetime", "date"):
            dict_lines.append(f"        v = a[{a.wire!r}]")
            dict_lines.append("        if v is not None: parse(v)")
        else:
            dict_lines.append(f"        a[{a.wire!r}]")
        model_lines.append(f"        m.{a.name}")
    for r in SPEC.relationships:
        dict_lines.append(f"        rels[{r.wire!r}].get('data')")
        model_lines.append(f"        m.{r.name}")
    namespace: dict[str, Any] = {"parse": _parse_time}
    exec("\n".join(dict_lines + model_lines), namespace)
    return namespace["read_dicts"], namespace["read_models"]


def cases(page: bytes) -> dict[str, Callable[[], object]]:
    """Each case does the whole job from the page's bytes, so the ratios compare equal work."""
    read_dicts, read_models = field_readers()
    encoder = RecordEncoder(SPEC)
    flattener = RecordFlattener(SPEC)
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE

    def dict_reads() -> object:
        # the baseline of "reading every field": dict reads, times parsed, relationship data
        document = orjson.loads(page)
        read_dicts(document["data"])
        return document

    def typed_reads() -> object:
        models, _, _ = decode_collection(page, Prospect, _no_context)
        read_models(models)
        return models

    def export_models() -> object:
        models, _, _ = decode_collection(page, Prospect, _no_context)
        return encoder.encode(models)

    def export_wire() -> object:
        data = orjson.loads(page)["data"]
        return b"".join([dumps(flattener.from_wire(r), option=newline) for r in data])

    def orjson_round_trip() -> object:
        data = orjson.loads(page)["data"]
        return b"".join([dumps(r, option=newline) for r in data])

    return {
        "orjson_loads": lambda: orjson.loads(page),
        "typed_decode": lambda: decode_collection(page, Prospect, _no_context),
        "dict_reads": dict_reads,
        "typed_reads": typed_reads,
        "export_models": export_models,
        "export_wire": export_wire,
        "orjson_loads_dumps": orjson_round_trip,
    }


def measure(page: bytes, rounds: int) -> dict[str, list[float]]:
    """Seconds per case per round, the cases interleaved within each round."""
    runs = cases(page)
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            gc.collect()
            start = time.process_time()
            result = run()
            timings[name].append(time.process_time() - start)
            del result  # freeing the page is not part of the work
    return timings


def _ratio(timings: dict[str, list[float]], case: str, baseline: str) -> dict[str, float]:
    per_round = [a / b for a, b in zip(timings[case], timings[baseline], strict=True)]
    return {
        "median": statistics.median(per_round),
        "min": min(per_round),
        "max": max(per_round),
    }


def _per_record_us(samples: list[float], records: int) -> dict[str, float]:
    scaled = [s / records * 1e6 for s in samples]
    return {"median": statistics.median(scaled), "min": min(scaled), "max": max(scaled)}


def run(quick: bool = False) -> dict[str, Any]:
    """The figures: ratios with their spread, per-record CPU times, and the targets."""
    page = asyncio.run(sandbox_page())
    rounds = 3 if quick else 9
    timings = measure(page, rounds)
    records = len(orjson.loads(page)["data"])
    line_bytes = len(orjson.dumps(RecordFlattener(SPEC).from_wire(orjson.loads(page)["data"][0])))
    ms = {name: statistics.median(samples) * 1000 for name, samples in timings.items()}
    export_us = _per_record_us(timings["export_models"], records)
    # the export's own work once the page is decoded: flatten and write (same round, same page)
    encode_only = [
        e - d for e, d in zip(timings["export_models"], timings["typed_decode"], strict=True)
    ]
    encode_us = _per_record_us(encode_only, records)
    return {
        "method": (
            f"CPU time (time.process_time) of each case on one {records}-prospect sandbox page, "
            f"{rounds} interleaved rounds; medians with min-max of the per-round values"
        ),
        "records": records,
        "page_mb": len(page) / 1e6,
        "record_jsonl_kb": line_bytes / 1000,
        "fields_per_record": len(SPEC.attributes) + len(SPEC.relationships),
        "median_ms": ms,
        "typed_decode_vs_orjson_loads": _ratio(timings, "typed_decode", "orjson_loads"),
        "typed_reads_vs_dict_reads": _ratio(timings, "typed_reads", "dict_reads"),
        "export_us_per_record": export_us,
        "export_us_per_kb": {k: v / (line_bytes / 1000) for k, v in export_us.items()},
        "export_encode_only_us_per_kb": {k: v / (line_bytes / 1000) for k, v in encode_us.items()},
        "export_wire_us_per_record": _per_record_us(timings["export_wire"], records),
        "orjson_loads_dumps_us_per_record": _per_record_us(timings["orjson_loads_dumps"], records),
        "targets": {
            "typed_decode_vs_orjson_loads": 1.2,
            "typed_reads_vs_dict_reads": 1.5,
            "export_us_per_kb": 10.0,
        },
    }


#: the name ``python -m benchmarks`` calls
run_all = run


if __name__ == "__main__":
    print(json.dumps(run(quick=False), indent=2))
