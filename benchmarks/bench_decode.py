"""Decoding and flattening micro-benchmarks (issue 12): typed decode against ``orjson.loads``,
reading every field against dict reads, and the export's page-to-JSON-Lines path.

The data is pages of 1000 prospects as the sandbox serves them, fetched once over loopback:

- the **full** record: every one of the prospect's 230 attributes and 21 relationships, about
  6 KB a record on the wire and 4.4 KB a JSON line with about 250 keys;
- the **1 KB** record the export target speaks of: the same prospects as the sandbox serves them
  with a sparse fieldset (:data:`KB_FIELDS`: the first attributes in spec order, ``updatedAt``
  and four relationships), about 1 KB a JSON line with about 60 keys. The export writes them
  as sent (an org whose records are that small); a second case exports the same records with
  ``fields=KB_FIELDS`` (the export's own projection, which takes the orjson path below).

The export's path is what its streams run per page, from the page's bytes to the JSON Lines
bytes: every field, the page read by simdjson and each line made from the minified bytes of the
record's attributes (:meth:`RecordFlattener.wire_line`); a fieldset, the resource objects parsed
by orjson, each record flattened (:meth:`RecordFlattener.from_wire`) and written with orjson as
the page is decoded; then each record's cursor position judged and the lines kept joined. Beside it,
on the same records: the models' path (typed decode, then :meth:`RecordEncoder.encode`) and the
floor, ``orjson.loads`` of the page and ``orjson.dumps`` of each resource object as sent (no
flattening; JSON work alone, which grows with the keys as much as with the bytes).

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

from outreach_async import OutreachClient, Prospect
from outreach_async._converter import decode_collection
from outreach_async.export import RecordEncoder
from outreach_async.export._job import ExportJob
from outreach_async.export._plan import Span
from outreach_async.resources._base import _decode_raw_page, _decode_wire_page
from outreach_async.sandbox import Sandbox

SPEC = Prospect.__resource_spec__
PAGE_SIZE = 1000
#: the sparse fieldset of the 1 KB record: the first attributes in spec order, the export's
#: cursor (``updatedAt``) and four relationships
KB_FIELDS = (
    *(a.wire for a in SPEC.attributes[:54]),
    "updatedAt",
    "account",
    "owner",
    "stage",
    "sequenceStates",
)


async def sandbox_page(records: int = PAGE_SIZE, fields: tuple[str, ...] | None = None) -> bytes:
    """The bytes of one page of ``records`` prospects, as the sandbox serves them (only
    ``fields``, when given)."""
    async with Sandbox(seed=records) as sandbox:
        url = f"{sandbox.base_url}/prospects?page%5Bsize%5D={records}"
        if fields is not None:
            url += "&fields%5Bprospect%5D=" + ",".join(fields)
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


def export_job(fields: tuple[str, ...] | None) -> ExportJob:
    """An export of prospects as ``export_resource`` sets one up (its client is never used)."""
    client = OutreachClient("benchmark", base_url="http://127.0.0.1:9")
    return ExportJob(
        client, Prospect, fmt="jsonl", filter={}, since=None, until=None, fields=fields,
        page_size=PAGE_SIZE, partitions=1, dedupe=False, commit_interval=1.0, clock=time.monotonic,
    )  # fmt: skip


def export_cases(page: bytes, fields: tuple[str, ...] | None) -> dict[str, Callable[[], object]]:
    """Page bytes to JSON Lines bytes three ways, on the same records (see the docstring)."""
    job = export_job(fields)
    encoder = RecordEncoder(SPEC, fields)
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    url = job.repository.url

    def export_path() -> object:
        # what each span's stream does with a page (a fresh span: every record is written):
        # every field read by simdjson, a fieldset by orjson (ExportJob.stream)
        if job.reads_raw_pages:
            records = _decode_raw_page(page, url, SPEC.type, job.decode_raw_page).items
        else:
            records = _decode_wire_page(page, url, SPEC.type, job.decode_page).items
        data, ids, _stop = job.encode_page(Span(None, None), records)
        assert len(ids) == len(records)
        return data

    def models_path() -> object:
        models, _, _ = decode_collection(page, Prospect, _no_context)
        return encoder.encode(models)

    def orjson_loads_dumps() -> object:
        data = orjson.loads(page)["data"]
        return b"".join([dumps(r, option=newline) for r in data])

    return {
        "export_path": export_path,
        "models_path": models_path,
        "orjson_loads_dumps": orjson_loads_dumps,
    }


def cases(page: bytes, kb_page: bytes) -> dict[str, Callable[[], object]]:
    """Each case does the whole job from the page's bytes, so the ratios compare equal work."""
    read_dicts, read_models = field_readers()

    def dict_reads() -> object:
        # the baseline of "reading every field": dict reads, times parsed, relationship data
        document = orjson.loads(page)
        read_dicts(document["data"])
        return document

    def typed_reads() -> object:
        models, _, _ = decode_collection(page, Prospect, _no_context)
        read_models(models)
        return models

    full = {f"full_{name}": case for name, case in export_cases(page, None).items()}
    kb = {f"kb_{name}": case for name, case in export_cases(kb_page, None).items()}
    kb_fields = {
        f"kb_fields_{name}": case for name, case in export_cases(kb_page, KB_FIELDS).items()
    }
    return {
        "orjson_loads": lambda: orjson.loads(page),
        "typed_decode": lambda: decode_collection(page, Prospect, _no_context),
        "dict_reads": dict_reads,
        "typed_reads": typed_reads,
        **full,
        **kb,
        **kb_fields,
    }


def measure(page: bytes, kb_page: bytes, rounds: int) -> dict[str, list[float]]:
    """Seconds per case per round, the cases interleaved within each round."""
    runs = cases(page, kb_page)
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


def _export_figures(
    timings: dict[str, list[float]], prefix: str, page: bytes, fields: tuple[str, ...] | None
) -> dict[str, Any]:
    """Per-record CPU of the three page-to-JSON-Lines cases on one kind of record."""
    data = orjson.loads(page)["data"]
    records = len(data)
    lines = export_cases(page, fields)["export_path"]()
    assert isinstance(lines, bytes)
    kb = len(lines) / records / 1000
    us = {
        name: _per_record_us(timings[f"{prefix}_{name}"], records)
        for name in ("export_path", "models_path", "orjson_loads_dumps")
    }
    return {
        "records": records,
        "record_jsonl_kb": kb,
        "keys_per_record": len(orjson.loads(lines.split(b"\n", 1)[0])),
        "export_path_us_per_record": us["export_path"],
        "export_path_us_per_kb": {k: v / kb for k, v in us["export_path"].items()},
        "models_path_us_per_record": us["models_path"],
        "orjson_loads_dumps_us_per_record": us["orjson_loads_dumps"],
        "export_path_vs_orjson_loads_dumps": _ratio(
            timings, f"{prefix}_export_path", f"{prefix}_orjson_loads_dumps"
        ),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """The figures: ratios with their spread, per-record CPU times, and the targets."""
    page = asyncio.run(sandbox_page())
    kb_page = asyncio.run(sandbox_page(fields=KB_FIELDS))
    rounds = 3 if quick else 9
    timings = measure(page, kb_page, rounds)
    records = len(orjson.loads(page)["data"])
    ms = {name: statistics.median(samples) * 1000 for name, samples in timings.items()}
    return {
        "method": (
            f"CPU time (time.process_time) of each case on {records}-prospect sandbox pages, "
            f"{rounds} interleaved rounds; medians with min-max of the per-round values"
        ),
        "records": records,
        "page_mb": len(page) / 1e6,
        "fields_per_record": len(SPEC.attributes) + len(SPEC.relationships),
        "median_ms": ms,
        "typed_decode_vs_orjson_loads": _ratio(timings, "typed_decode", "orjson_loads"),
        "typed_reads_vs_dict_reads": _ratio(timings, "typed_reads", "dict_reads"),
        # page bytes to JSON Lines bytes: every field (4.4 KB lines), 1 KB lines as served, and
        # the same records with the export's fields= projection
        "export_full_records": _export_figures(timings, "full", page, None),
        "export_kb_records": _export_figures(timings, "kb", kb_page, None),
        "export_kb_fields_records": _export_figures(timings, "kb_fields", kb_page, KB_FIELDS),
        "targets": {
            "typed_decode_vs_orjson_loads": 1.2,
            "typed_reads_vs_dict_reads": 1.5,
            # client CPU per 1 KB record (the export_kb_records row)
            "export_us_per_kb_record": 10.0,
        },
    }


#: the name ``python -m benchmarks`` calls
run_all = run


if __name__ == "__main__":
    print(json.dumps(run(quick=False), indent=2))
