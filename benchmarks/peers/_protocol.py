"""What a client runner and the harness say to each other (the runner side imports only this).

The harness starts ``python -m benchmarks.peers.run_<client> SPEC_JSON`` and the runner:

1. imports its client and prepares (so import time is never measured), then prints ``ready``;
2. waits for ``go`` on stdin (the harness may first wait for a fresh rate-limit window);
3. streams or exports every prospect, timing only that;
4. writes what it got to its scratch directory: the ids (``ids.bin``, native int64) or the
   records (``records.jsonl``, ``singer.jsonl``), which the harness reads to count duplicates
   and missing records, and ``result.json`` with the record count, the time and the error if
   the client raised one. A partial result is still written when the client fails mid-way.

The runner also reports its peak RSS (``VmHWM``, which ``exec`` resets; ``wait4``'s
``ru_maxrss`` would not do: Linux carries the forking harness's own high-water mark into it).
"""

from __future__ import annotations

import array
import asyncio
import json
import signal
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Literal, TypedDict

Mode = Literal["stream", "export"]
#: how the harness finds the ids in a runner's artefact
Artefact = Literal["ids", "jsonl", "singer"]


class OAuthSpec(TypedDict):
    """What a client that refreshes its own token (tap-outreach) needs from the sandbox."""

    origin: str
    token_url: str
    client_id: str
    client_secret: str
    refresh_token: str


class RunSpec(TypedDict):
    """One run of one client, as the harness hands it to the runner."""

    base_url: str
    token: str
    oauth: OAuthSpec
    #: stream: count every record; export: write every record to a file
    mode: Mode
    page_size: int
    scratch: str


class RunResult(TypedDict):
    """What the runner reports in ``result.json``."""

    records: int
    elapsed: float
    #: ``"RecursionError: ..."`` when the client raised, else None
    error: str | None
    artefact: Artefact
    path: str
    #: this process's peak resident set, MB (filled in by :func:`write_result`)
    peak_rss_mb: float


def read_spec() -> RunSpec:
    """The spec the harness passed as the only argument."""
    spec: RunSpec = json.loads(sys.argv[1])
    return spec


#: Saved by the SIGTERM handler before anything else, since a client at its memory cap may
#: not get much further (``ids.bin`` of a streaming run).
_save_on_stop: list[Callable[[], object]] = []


def _stop(signum: int, frame: object) -> None:
    for save in _save_on_stop:
        save()
    raise SystemExit(f"stopped by the harness (signal {signum})")


def wait_for_go() -> None:
    """Say ``ready`` and block until the harness says ``go``.

    From then on SIGTERM (a cap reached) raises SystemExit where the client is, so the run
    ends through :func:`timed` and still reports the records it had.
    """
    signal.signal(signal.SIGTERM, _stop)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()


def describe(error: BaseException) -> str:
    """``Type: message`` with the message cut short, plus where it was raised."""
    message = str(error).replace("\n", " ")
    if len(message) > 160:
        message = message[:157] + "..."
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {message}{where}"


def peak_rss_mb(pid: int | str = "self") -> float:
    """The peak resident set (``VmHWM``) of a process, MB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def write_result(spec: RunSpec, result: RunResult) -> None:
    """Hand the result, with this process's peak RSS, to the harness."""
    result["peak_rss_mb"] = peak_rss_mb()
    Path(spec["scratch"], "result.json").write_text(json.dumps(result))


def write_ids(spec: RunSpec, ids: array.array[int]) -> str:
    """Store the ids a streaming run saw, in order; returns the file's path."""
    path = Path(spec["scratch"], "ids.bin")
    with path.open("wb") as out:
        ids.tofile(out)
    return str(path)


def timed(run: Callable[[], Any]) -> tuple[float, str | None]:
    """Run ``run``; its wall-clock time and the error it raised, if any.

    BaseException is caught on purpose: a RecursionError or MemoryError is the result being
    measured, and the partial output still has to reach the harness.
    """
    started = time.perf_counter()
    error: str | None = None
    try:
        run()
    except BaseException as exc:  # the failure is a finding, reported, not re-raised
        error = describe(exc)
    return time.perf_counter() - started, error


#: A client's run: stream every prospect, appending each id to ``ids``; with ``out`` (export
#: mode) also write each record there as one JSON line. Returns the records it wrote or saw.
Fetch = Callable[[RunSpec, "array.array[int]", Path | None], Coroutine[Any, Any, int]]


def run_client(fetch: Fetch) -> None:
    """The whole runner: handshake, one timed run of ``fetch``, artefacts and the result."""
    spec = read_spec()
    wait_for_go()
    ids: array.array[int] = array.array("q")
    out = Path(spec["scratch"], "records.jsonl") if spec["mode"] == "export" else None
    if out is None:
        _save_on_stop.append(lambda: write_ids(spec, ids))
    records = 0

    def go() -> None:
        nonlocal records
        records = asyncio.run(fetch(spec, ids, out))

    elapsed, error = timed(go)
    if out is None:
        artefact: Artefact = "ids"
        path = write_ids(spec, ids)
        records = len(ids)
    else:
        artefact, path = "jsonl", str(out)
        records = records or len(ids)  # a failed export reports what it had seen
    write_result(
        spec,
        RunResult(
            records=records,
            elapsed=elapsed,
            error=error,
            artefact=artefact,
            path=path,
            peak_rss_mb=0,
        ),
    )
