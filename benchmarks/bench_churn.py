"""Live-org benchmarks (issue 16): exports while the server changes records under them.

    python -m benchmarks.bench_churn            # the issue's table, and 1,000,000 prospects
    python -m benchmarks.bench_churn --quick    # 100,000 prospects

- **The issue's table**, re-measured through the sandbox's own churn option: ``outreach-async
  sandbox serve --seed 8000 --latency 30ms --churn 130/s`` in one process (the issue's 400
  updates in a 3 s run), ``outreach-async export prospects --page-size 100`` in another:
  one-off sequential, one-off with ``--partitions 4``, and the first run of an incremental sync
  with ``--partitions 4``. Each row counts the prospects the sandbox changed during the run,
  the file's lines, its distinct ids and the ids missing from it.
- **The cost of the guarantee**: wall time and peak memory (VmHWM) of a one-off ``outreach-async
  export`` of 1,000,000 prospects, without churn and with 100 updates a second. The server is a
  fast server like :mod:`benchmarks.bench_export`'s (synthetic 1 KB prospects, no latency) that
  also moves random records to the end of the ``updatedAt`` order at a steady rate of real time
  (:class:`ChurnedProspects`); the file is then compacted to one line per id.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from outreach_async import OutreachClient, since

from ._loopback import loopback_socket, serving_prospects
from .bench_export import (
    STEP_MS,
    T0_MS,
    _first_index_at_or_after,
    _millis,
    _stamp,
    measured_export,
    synthetic_prospect,
)

ISSUE_SEED = 8000
ISSUE_RATE = "130/s"
MILLION_RATE = 100.0
_ID = re.compile(rb'\{"type":"[^"]*","id":(\d+)')


# ---------------------------------------------------------------------------------- server


class ChurnedProspects:
    """``total`` synthetic prospects in ascending ``(updatedAt, id)`` order, ``rate`` of which
    a second move to the end with a new ``updatedAt`` (now, strictly increasing).

    Unmoved records keep :func:`synthetic_prospect`'s ``updatedAt`` (all before any move), so
    the order is: unmoved ones by index, then the moves in the order they happened."""

    def __init__(self, total: int, rate: float, seed: int = 0) -> None:
        self.total, self.rate = total, rate
        self.rng = random.Random(seed)
        self.started = time.time()
        self.applied = 0
        self.last_ms = 0
        self.moved: dict[int, int] = {}  # index -> its updatedAt in ms
        self.log_ms: list[int] = []  # every move, in order (a superseded one is skipped)
        self.log_index: list[int] = []

    def catch_up(self) -> None:
        due = int((time.time() - self.started) * self.rate)
        while self.applied < due:
            index = self.rng.randrange(self.total)
            self.last_ms = max(int(time.time() * 1000), self.last_ms + 1)
            self.moved[index] = self.last_ms
            self.log_ms.append(self.last_ms)
            self.log_index.append(index)
            self.applied += 1

    @staticmethod
    def base_ms(index: int) -> int:
        return T0_MS + (index // 2) * STEP_MS  # as synthetic_prospect stamps it

    def ascending(
        self, lo: int | None, hi: int | None, after: tuple[int, int] | None, size: int
    ) -> list[int]:
        """Up to ``size`` indexes past the ``(ms, id)`` key ``after`` within ``[lo, hi]``."""
        found: list[int] = []
        start = max(_first_index_at_or_after(lo) if lo is not None else 0, 0)
        if after is not None:
            start = max(start, _first_index_at_or_after(after[0]))
        for index in range(start, self.total):
            if len(found) == size:
                return found
            ms = self.base_ms(index)
            if hi is not None and ms > hi:
                return found
            if index not in self.moved and (after is None or (ms, index + 1) > after):
                found.append(index)
        position = bisect.bisect_left(self.log_ms, max(lo or 0, after[0] if after else 0))
        for ms, index in zip(self.log_ms[position:], self.log_index[position:], strict=True):
            if len(found) == size or (hi is not None and ms > hi):
                break
            if self.moved.get(index) == ms and (after is None or (ms, index + 1) > after):
                found.append(index)
        return found

    def highest(self, hi: int | None) -> list[int]:
        """The one record with the highest ``updatedAt`` up to ``hi`` (the planner's probe)."""
        for ms, index in zip(reversed(self.log_ms), reversed(self.log_index), strict=True):
            if self.moved.get(index) == ms and (hi is None or ms <= hi):
                return [index]
        last = self.total - 1
        while last >= 0 and (last in self.moved or (hi is not None and self.base_ms(last) > hi)):
            last -= 1
        return [last] if last >= 0 else []

    def updated_ms(self, index: int) -> int:
        return self.moved.get(index) or self.base_ms(index)


def _bounds(query: Any) -> tuple[int | None, int | None]:
    text = query.get("filter[updatedAt]")
    if not text:
        return None, None
    lo, _, hi = text.partition("..")
    return (
        None if lo in ("", "neginf") else _millis(lo),
        None if hi in ("", "inf") else _millis(hi),
    )


@contextlib.asynccontextmanager
async def churn_server(total: int, rate: float) -> AsyncIterator[str]:
    """Serve :class:`ChurnedProspects` on loopback; yields the API base URL."""
    data = ChurnedProspects(total, rate)
    cache: dict[int, bytes] = {}
    sock, base = loopback_socket()

    def encoded(index: int) -> bytes:
        moved = data.moved.get(index)
        if moved is None and index in cache:
            return cache[index]
        record = synthetic_prospect(index, base)
        if moved is not None:
            record["attributes"]["updatedAt"] = _stamp(moved)
            record["attributes"]["custom2"] = f"moved at {moved}"
        body = orjson.dumps(record)
        if moved is None:
            cache[index] = body
        return body

    async def prospects(request: web.Request) -> web.Response:
        data.catch_up()
        query = request.query
        lo, hi = _bounds(query)
        size = int(query.get("page[size]", "50"))
        after_ms, _, after_id = query.get("page[after]", "").partition(".")
        after = (int(after_ms), int(after_id)) if after_id else None
        if query.get("sort", "").startswith("-"):
            indexes = data.highest(hi)[:size]  # only the planner's one-record probe
            more = False
        else:
            indexes = data.ascending(lo, hi, after, size + 1)
            more = len(indexes) > size
            indexes = indexes[:size]
        rest: dict[str, Any] = {}
        if more:
            last = indexes[-1]
            key = f"{data.updated_ms(last)}.{last + 1}"
            rest["links"] = {"next": str(request.url.update_query({"page[after]": key}))}
        body = b'{"data":[' + b",".join(encoded(i) for i in indexes) + b"]"
        body += b"," + orjson.dumps(rest)[1:] if rest else b"}"
        return web.Response(body=body, content_type="application/vnd.api+json")

    async with serving_prospects(sock, prospects):
        yield base


async def _serve_forever(total: int, rate: float) -> None:
    async with churn_server(total, rate) as base:
        print(base, flush=True)
        await asyncio.Event().wait()


# ---------------------------------------------------------------------------------- runs


@contextlib.contextmanager
def _process(command: list[str]) -> Iterator[list[str]]:
    """A server child process; yields the lines it printed up to its first empty one or the
    token line."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        lines = [child.stdout.readline().strip()]
        if lines[0].startswith("Outreach sandbox"):
            while not lines[-1].startswith("OUTREACH_TOKEN"):
                lines.append(child.stdout.readline().strip())
        yield lines
    finally:
        child.terminate()
        child.wait()


def id_counts(path: Path) -> tuple[int, int]:
    """(lines, distinct ids) of a JSON Lines export, ids read from each line's start."""
    lines, ids = 0, set()
    with path.open("rb") as file:
        for line in file:
            match = _ID.match(line)
            lines += 1
            if match:
                ids.add(int(match.group(1)))
    return lines, len(ids)


async def changed_since(base: str, token: str, moment: dt.datetime) -> int:
    """How many prospects the sandbox changed since ``moment`` (its clock is real time)."""
    async with OutreachClient(token, base_url=base) as outreach:
        return await outreach.prospects.list(filter={"updated_at": since(moment)}).count()


def issue_table(rate: str = ISSUE_RATE) -> dict[str, dict[str, float]]:
    """The issue's three rows against ``sandbox serve --churn RATE``."""
    rows: dict[str, list[str]] = {
        "one_off_sequential": [],
        "one_off_partitions_4": ["--partitions", "4"],
        "state_partitions_4_first_run": ["--partitions", "4", "--state", "STATE"],
    }
    table: dict[str, dict[str, float]] = {}
    for name, extra in rows.items():
        serve = [sys.executable, "-m", "outreach_async.cli", "sandbox", "serve", "--port", "0",
                 "--seed", str(ISSUE_SEED), "--latency", "30ms", "--churn", rate,
                 "--rate-limit", "off"]  # fmt: skip
        with _process(serve) as lines, tempfile.TemporaryDirectory() as tmp:
            env = dict(line.split("=", 1) for line in lines if line.startswith("OUTREACH_"))
            out = Path(tmp) / "prospects.jsonl"
            extra = [Path(tmp, "sync.db").as_posix() if x == "STATE" else x for x in extra]
            base, token = env["OUTREACH_BASE_URL"], env["OUTREACH_TOKEN"]
            started = dt.datetime.now(dt.UTC)
            seconds, _peak, _ = measured_export(base, token, out, "--page-size", "100", *extra)
            changed = asyncio.run(changed_since(base, token, started))
            written, distinct = id_counts(out)
        table[name] = {
            "seconds": round(seconds, 2),
            "prospects_changed_during_run": changed,
            "lines": written,
            "distinct_ids": distinct,
            "missing": ISSUE_SEED - distinct,
            # one-off: the same id twice; with --state: new versions (a change log)
            "repeated_ids": written - distinct,
        }
    return table


def cost(total: int) -> dict[str, float]:
    """A one-off export of ``total`` prospects without and with churn: time and peak memory;
    then the compaction of a file with as many repeated lines as there were updates."""
    figures: dict[str, float] = {"records": total, "churn_per_s": MILLION_RATE}
    for label, rate in (("quiet", 0.0), ("churn", MILLION_RATE)):
        serve = [sys.executable, "-m", "benchmarks.bench_churn", "serve", str(total), str(rate)]
        with _process(serve) as (base,), tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "prospects.jsonl"
            seconds, peak, _ = measured_export(base, "benchmark", out)
            written, distinct = id_counts(out)
            if written != total or distinct != total:
                raise AssertionError(f"{label}: {written} lines, {distinct} ids, expected {total}")
            if rate:
                figures.update(compaction(out, round(rate * seconds)))
        figures[f"{label}_s"] = round(seconds, 1)
        figures[f"{label}_peak_mb"] = round(peak, 1)
        figures[f"{label}_updates_during_run"] = round(rate * seconds)
    return figures


_MEASURED_COMPACTION = """
import sys, time
from outreach_async.export._compact import compact
started = time.perf_counter()
result = compact(sys.argv[1])
seconds = time.perf_counter() - started
with open("/proc/self/status") as info:
    peak = next(line.split()[1] for line in info if line.startswith("VmHWM:"))
print(result.dropped, seconds, peak)
"""


def compaction(out: Path, repeats: int) -> dict[str, float]:
    """Compaction alone, in its own process, of ``out`` with ``repeats`` of its lines (spread
    over the file) written again at its end, as a run reading changed records again does."""
    with out.open("rb") as file:
        total = sum(1 for _ in file)
        picked = set(random.Random(16).sample(range(total), min(repeats, total)))
        file.seek(0)
        again = [line for number, line in enumerate(file) if number in picked]
    with out.open("ab") as file:
        file.writelines(again)
    result = subprocess.run(
        [sys.executable, "-c", _MEASURED_COMPACTION, str(out)],
        stdout=subprocess.PIPE, check=True, text=True,
    )  # fmt: skip
    dropped, seconds, peak = result.stdout.split()
    return {
        "compaction_dropped": int(dropped),
        "compaction_s": round(float(seconds), 1),
        "compaction_peak_mb": round(int(peak) / 1024, 1),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Every figure (``quick``: 100,000 prospects instead of 1,000,000)."""
    return {
        "issue_table_8000_pages_of_100_30ms": issue_table(),
        "one_off_cost": cost(100_000 if quick else 1_000_000),
    }


run_all = run  # the name benchmarks/__main__.py calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_churn")
    parser.add_argument("--quick", action="store_true", help="100,000 prospects")
    parser.add_argument("figures", nargs="*", help="serve TOTAL RATE (internal)")
    args = parser.parse_args(argv)
    if args.figures[:1] == ["serve"]:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve_forever(int(args.figures[1]), float(args.figures[2])))
        return 0
    print(json.dumps({"cpus": os.cpu_count(), **run(args.quick)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
