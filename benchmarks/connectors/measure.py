"""``nox -s connectors -- --measure``: the Airbyte connector's figures, in ``results.json``.

Three kinds of run, each against a sandbox seeded as ``sandbox serve`` seeds by default
(10,000 prospects), the connector repointed and otherwise untouched:

* **throughput**: a full-refresh read of its ``prospects`` stream, and ``outreach-async export
  prospects`` on the same sandbox, interleaved, ``ROUNDS`` rounds; each timed from process
  start to exit (both pay their start-up), records/s = prospects / seconds. OAuth mint throttle
  off, so only reading is timed.
* **throttle**: a full read of all 17 streams with the sandbox's default OAuth mint throttle
  (one access token per user per 60 s, as Outreach): wall time, token mints, and the 429s the
  token endpoint answered. ``ROUNDS`` runs at once, each on its own sandbox (they mostly wait).
* **start_date**: a read of all 17 streams with ``start_date`` inside the seeded year, compared
  with what the sandbox holds at or after that date, stream by stream.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.peers._host import SandboxThread
from outreach_async.sandbox import Sandbox

from ._connectors import Airbyte, default_config, stream_spec

__all__ = ["PARTS", "RESULTS", "measure"]

RESULTS = Path(__file__).with_name("results.json")
ROUNDS = 3
#: inside the seeded year (2024), so that about half of each stream's records qualify
START_DATE = "2024-07-01T00:00:00Z"


PARTS = ("throughput", "start_date", "throttle")


def measure(python: str, scratch: Path, parts: tuple[str, ...] = PARTS) -> dict[str, Any]:
    """Run ``parts``, update :data:`RESULTS` with them (each stamped), return the results."""
    runners = {"throughput": _throughput, "start_date": _start_date, "throttle": _throttle}
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for part in parts:
        stamp = _stamp(python)
        results[part] = {"stamp": stamp, **runners[part](python, scratch / part)}
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return results


# -- throughput --------------------------------------------------------------------------------


def _throughput(python: str, scratch: Path) -> dict[str, Any]:
    rounds: list[dict[str, float]] = []
    with SandboxThread(default_config(mint_throttle=0.0)) as host:
        airbyte = Airbyte(python, host.sandbox, scratch)
        config = airbyte.write_config()
        streams = airbyte.discover(config)
        for n in range(ROUNDS):
            read = airbyte.read(config, streams, ["prospects"])
            ours, exported = _export(host.sandbox, scratch / f"export-{n}.jsonl")
            rounds.append(
                {
                    "airbyte_records": read.records.get("prospects", 0),
                    "airbyte_seconds": read.seconds,
                    "export_records": exported,
                    "export_seconds": ours,
                }
            )
            print(f"throughput round {n + 1}: {rounds[-1]}")
        prospects = host.sandbox.store.count("prospect")
    return {"prospects": prospects, "rounds": rounds}


def _export(sandbox: Sandbox, out: Path) -> tuple[float, int]:
    """Seconds and records of ``outreach-async export prospects`` against ``sandbox``."""
    command = [sys.executable, "-m", "outreach_async.cli", "export", "prospects"]
    command += ["--base-url", sandbox.base_url, "--token", sandbox.token]
    command += ["--out", str(out), "--quiet"]
    started = time.monotonic()
    subprocess.run(command, check=True, timeout=600)
    seconds = time.monotonic() - started
    with out.open("rb") as lines:
        return seconds, sum(1 for _ in lines)


# -- start_date --------------------------------------------------------------------------------


def _start_date(python: str, scratch: Path) -> dict[str, Any]:
    with SandboxThread(default_config(mint_throttle=0.0)) as host:
        airbyte = Airbyte(python, host.sandbox, scratch)
        config = airbyte.write_config(start_date=START_DATE)
        streams = airbyte.discover(config)
        read = airbyte.read(config, streams)
        qualifying = {s["name"]: _at_or_after(host.sandbox, s["name"]) for s in streams}
    return {
        "start_date": START_DATE,
        "qualifying": qualifying,
        "read": read.records,
        "read_qualifying": _read_since(scratch / "read.jsonl"),
    }


def _read_since(messages: Path) -> dict[str, int]:
    """Records per stream of a read's messages whose ``updatedAt`` is at or after the date."""
    start = START_DATE.replace("Z", ".000Z")
    found: Counter[str] = Counter()
    with messages.open() as lines:
        for line in lines:
            if '"RECORD"' not in line[:40]:
                continue
            record = json.loads(line)["record"]
            if str(record["data"].get("updatedAt") or "") >= start:
                found[record["stream"]] += 1
    return dict(found)


def _at_or_after(sandbox: Sandbox, stream: str) -> int:
    """Records of a stream's type whose ``updatedAt`` is at or after :data:`START_DATE`."""
    spec = stream_spec(stream)
    assert spec is not None, stream
    start = START_DATE.replace("Z", ".000Z")
    table = sandbox.store.table(spec.type)
    return sum(1 for r in table if str(r["attributes"].get("updatedAt") or "") >= start)


# -- throttle ----------------------------------------------------------------------------------


def _throttle(python: str, scratch: Path) -> dict[str, Any]:
    with concurrent.futures.ThreadPoolExecutor(ROUNDS) as pool:
        runs = list(pool.map(lambda n: _throttled_read(python, scratch / str(n)), range(ROUNDS)))
    return {"mint_throttle_s": 60.0, "runs": runs}


def _throttled_read(python: str, scratch: Path) -> dict[str, Any]:
    with SandboxThread(default_config()) as host:
        airbyte = Airbyte(python, host.sandbox, scratch)
        config = airbyte.write_config()
        streams = airbyte.discover(config)  # discover mints no token
        read = airbyte.read(config, streams)
        authority = host.sandbox.authority
        run = {
            "seconds": read.seconds,
            "records": sum(read.records.values()),
            "streams_with_records": sum(1 for n in read.records.values() if n),
            "mints": authority.mint_count,
            "token_429s": authority.throttled_count,
            "errors": read.errors[:5],
        }
    print(f"throttled read: {run}")
    return run


# -- stamp -------------------------------------------------------------------------------------


def _stamp(python: str) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    connector = subprocess.run(
        [
            python,
            "-c",
            "import importlib.metadata as m, sys; print(sys.version.split()[0],"
            " m.version('airbyte-source-outreach'), m.version('airbyte-cdk'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        "commit": commit,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {_cpus()} cores, {platform.system()}",
        "shared": "other engineers' test runs shared the machine",
        "python": platform.python_version(),
        "outreach_async": importlib.metadata.version("outreach-async"),
        "connector_python": connector[0],
        "airbyte_source_outreach": connector[1],
        "airbyte_cdk": connector[2],
        "rounds": ROUNDS,
    }


def _cpus() -> int:
    return os.cpu_count() or 0
