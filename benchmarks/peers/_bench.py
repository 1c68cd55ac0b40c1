"""The workloads and the interleaved rounds: every client against one sandbox per workload.

A workload seeds one sandbox (rate limit and faults as it says) and runs every client on it,
round after round, the order rotated each round so that no client always goes first. Each run
is checked record by record against the sandbox's own ids: duplicates and missing ones.
"""

from __future__ import annotations

import array
import contextlib
import shutil
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson

from outreach_async.sandbox import FaultConfig, SandboxConfig
from outreach_async.sandbox.cli import parse_rate_limit

from ._host import ChildRun, SandboxThread, run_child
from ._protocol import Artefact, Mode, RunSpec


@attrs.frozen
class Client:
    """One of the compared clients and its runner module."""

    key: str
    label: str
    module: str
    #: the distribution whose version names it, None for the hand-written loop
    distribution: str | None
    #: what it does with each record, streaming / exporting (the clients do not all do the same)
    does: str


OURS = Client(
    "ours",
    "outreach-async",
    "run_ours",
    "outreach-async",
    "stream: a typed `Prospect`, its id kept; export: `export_resource`, a flat JSON line "
    "to a file",
)
CLIENTS = (
    OURS,
    Client(
        "raw",
        "raw aiohttp + json loop",
        "run_raw",
        None,
        "stream: `json.loads` per page, each record's id kept; export: `json.dumps` of the "
        "record as sent, a line to a file",
    ),
    Client(
        "jsonapi",
        "jsonapi-client (async)",
        "run_jsonapi",
        "jsonapi-client",
        "stream: a `ResourceObject`, its id kept; export: `json.dumps(resource.json)`, a line "
        "to a file",
    ),
    Client(
        "tap",
        "tap-outreach",
        "run_tap",
        "tap-outreach",
        "both: its Singer output, a schema transform and a RECORD JSON line per record, to a "
        "file (more work per record than the others' stream)",
    ),
)


@attrs.frozen
class Workload:
    """What every client does against one sandbox."""

    key: str
    title: str
    records: int
    page_size: int
    mode: Mode
    rounds: int
    #: the sandbox's ``--rate-limit``: ``off`` or ``100/5s``
    rate_limit: str = "off"
    #: the sandbox's ``--faults``
    faults: str = ""

    @property
    def unlimited(self) -> bool:
        """No rate-limit budget to speak of."""
        return self.rate_limit == "off"

    def sandbox_config(self) -> SandboxConfig:
        """The sandbox this workload runs against."""
        return SandboxConfig(
            seed=self.records,
            # "off" still counts requests (a limit never reached), for the request counts.
            rate_limit=parse_rate_limit("1000000000/1h" if self.unlimited else self.rate_limit),
            faults=FaultConfig.from_spec(self.faults) if self.faults else FaultConfig(),
            # tap-outreach mints a token at every start; runs follow each other within
            # Outreach's 60 s mint throttle, which would fail the tap before it begins.
            mint_throttle=0.0,
            record_requests=False,
        )


@attrs.frozen
class Outcome:
    """One run of one client: what it delivered, how fast, how big, how it failed."""

    client: str
    round: int
    delivered: int
    unique: int
    duplicates: int
    missing: int
    elapsed: float | None
    peak_rss_mb: float
    error: str | None
    rate_limited: int
    requests_served: int
    faults: dict[str, int]

    @property
    def ok(self) -> bool:
        """Finished without an error, every record exactly once."""
        return self.error is None and self.duplicates == 0 and self.missing == 0

    @property
    def records_per_s(self) -> float | None:
        """Unique records per second of a finished run."""
        if self.elapsed is None or self.error is not None or not self.elapsed:
            return None
        return self.unique / self.elapsed


def read_ids(artefact: Artefact, path: Path) -> array.array[int]:
    """The ids in a runner's artefact, in the order the client delivered them."""
    ids: array.array[int] = array.array("q")
    if not path.exists():
        return ids
    if artefact == "ids":
        ids.frombytes(path.read_bytes())
        return ids
    with path.open("rb") as lines:
        for line in lines:
            ids.extend(_line_ids(artefact, line))
    return ids


def _line_ids(artefact: Artefact, line: bytes) -> Iterator[int]:
    if artefact == "singer" and not line.startswith(b'{"type": "RECORD"'):
        return
    with contextlib.suppress(orjson.JSONDecodeError):  # a torn last line of a killed run
        message: Any = orjson.loads(line)
        record = message["record"] if artefact == "singer" else message
        yield int(record["id"])


#: What a runner may have left behind, for a run killed before it reported.
PARTIAL_ARTEFACTS: tuple[tuple[Artefact, str], ...] = (
    ("singer", "singer.jsonl"),
    ("jsonl", "records.jsonl"),
    ("ids", "ids.bin"),
)


def delivered_ids(run: ChildRun) -> array.array[int]:
    """The ids a run delivered: from its result, or from the output a killed run left."""
    if run.result:
        return read_ids(run.result["artefact"], Path(run.result["path"]))
    for artefact, name in PARTIAL_ARTEFACTS:
        if (run.scratch / name).exists():
            return read_ids(artefact, run.scratch / name)
    return array.array("q")


def judge(client: Client, round_: int, run: ChildRun, expected: frozenset[int]) -> Outcome:
    """Compare what a run delivered with the sandbox's ids."""
    result = run.result
    ids = delivered_ids(run)
    seen = set(ids)
    error = run.killed or (result["error"] if result else None)
    return Outcome(
        client=client.key,
        round=round_,
        delivered=len(ids),
        unique=len(seen),
        duplicates=len(ids) - len(seen),
        missing=len(expected - seen),
        elapsed=result["elapsed"] if result else None,
        peak_rss_mb=run.peak_rss_mb,
        error=error,
        rate_limited=run.counters.rejected,
        requests_served=run.counters.served,
        faults=run.counters.faults,
    )


def rotated(clients: tuple[Client, ...], round_: int) -> list[Client]:
    """The running order of a round: shifted by one each round."""
    shift = round_ % len(clients)
    return list(clients[shift:] + clients[:shift])


@attrs.frozen
class Limits:
    """Caps on one child, so a runaway client is stopped and reported, not waited for."""

    rss_mb: float = 4000.0
    seconds: float = 600.0


def run_workload(
    workload: Workload, clients: tuple[Client, ...], scratch: Path, limits: Limits
) -> list[Outcome]:
    """Seed one sandbox and run every client on it, ``workload.rounds`` interleaved rounds."""
    outcomes: list[Outcome] = []
    started = time.perf_counter()
    with SandboxThread(workload.sandbox_config()) as host:
        seeded = time.perf_counter() - started
        _say(
            f"{workload.key}: sandbox seeded with {workload.records:,} prospects in {seeded:.1f} s"
        )
        expected = frozenset(host.sandbox.store.table("prospect").records)
        for round_ in range(workload.rounds):
            for client in rotated(clients, round_):
                directory = scratch / workload.key / client.key / str(round_)
                directory.mkdir(parents=True, exist_ok=True)
                run = _run_once(host, workload, client, directory, limits)
                outcome = judge(client, round_, run, expected)
                outcomes.append(outcome)
                _say(_progress_line(workload, outcome, run))
                if outcome.ok:
                    shutil.rmtree(directory, ignore_errors=True)  # records files are large
    return outcomes


def _run_once(
    host: SandboxThread, workload: Workload, client: Client, directory: Path, limits: Limits
) -> ChildRun:
    spec = RunSpec(
        base_url=host.sandbox.base_url,
        token=host.sandbox.token,
        oauth=host.oauth(),
        mode=workload.mode,
        page_size=workload.page_size,
        scratch=str(directory),
    )
    return run_child(
        host,
        client.module,
        spec,
        align_to_window=not workload.unlimited,
        rss_cap_mb=limits.rss_mb,
        timeout=limits.seconds,
    )


def _progress_line(workload: Workload, outcome: Outcome, run: ChildRun) -> str:
    rate = outcome.records_per_s
    speed = f"{rate:,.0f} rec/s" if rate else "-"
    line = (
        f"  {workload.key} round {outcome.round} {outcome.client:8} {speed:>14} "
        f"{outcome.peak_rss_mb:7,.0f} MB  {outcome.unique:,}/{outcome.delivered:,} records"
        f"  429s={outcome.rate_limited}"
    )
    if outcome.error:
        line += f"\n    error: {outcome.error}"
        if run.stderr_tail and not run.result:
            line += "\n    " + run.stderr_tail.replace("\n", "\n    ")
    return line


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that exist, None when none do."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None
