"""``nox -s connectors``: two connectors nobody here wrote read every stream from the sandbox.

``python -m benchmarks.connectors [--airbyte-python PY] [--seed N] [--measure]``

* **tap-outreach 1.2.2** syncs all 20 of its streams from a sandbox seeded as
  ``outreach-async sandbox serve`` seeds by default; every stream must have records and every
  record must validate against the tap's own schema (its Singer output against its SCHEMA
  messages, and each API record as the tap flattens it against the tap's stream schema, which
  forbids undeclared keys: only attributes Outreach's OpenAPI says it returns may go beyond
  the tap's older schemas, and they are listed).
* **Airbyte's source-outreach 1.0.30**, when ``--airbyte-python`` names a Python 3.10 with it
  installed: ``check``, ``discover`` (17 streams) and a full ``read``; every stream must have
  records that validate against the discovered schemas, except where a schema contradicts
  Outreach's OpenAPI (listed). Skipped, with the reason, otherwise.

The sandbox is the default one except for the OAuth mint throttle, which is off here: Airbyte
mints one token per stream and waits out Outreach's one-mint-a-minute throttle with its own
backoff (``--measure`` times exactly that). ``--measure [PARTS]`` also measures the Airbyte
connector into ``results.json`` beside this file (see :mod:`.measure`; ``--skip-proof`` for the
figures alone). Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.peers._host import SandboxThread
from outreach_async.sandbox import Sandbox

from ._connectors import Airbyte, default_config, run_tap
from .measure import PARTS, measure

#: streams each connector declares (tap-outreach's schemas/, the connector's manifest)
TAP_STREAMS = 20
AIRBYTE_STREAMS = 17


def prove_tap(sandbox: Sandbox, scratch: Path) -> list[str]:
    """Run tap-outreach; the failures (empty when every stream passed)."""
    sync = run_tap(sandbox, scratch / "tap")
    print(f"tap-outreach: {len(sync.records)} streams with records, {sync.seconds:.0f} s")
    for stream in sorted(set(sync.records) | set(sync.api_records)):
        print(
            f"  {stream:20} {sync.records.get(stream, 0):>7} records"
            f"  invalid: {sync.invalid_records.get(stream, 0)} in its output,"
            f" {sync.api_invalid.get(stream, 0)} as received"
        )
    for stream, keys in sorted(sync.api_newer_keys.items()):
        print(f"  attributes Outreach returns that the tap's schema predates: {stream}: {keys}")
    failures = [f"tap-outreach: {e}" for e in sync.examples]
    if sync.error:
        failures.append(f"tap-outreach stopped: {sync.error}")
    empty = TAP_STREAMS - sum(1 for n in sync.records.values() if n > 0)
    if empty:
        failures.append(f"tap-outreach: {empty} of {TAP_STREAMS} streams without records")
    return failures


def prove_airbyte(python: str, sandbox: Sandbox, scratch: Path) -> list[str]:
    """Run check, discover and read; the failures (empty when every stream passed)."""
    airbyte = Airbyte(python, sandbox, scratch / "airbyte")
    config = airbyte.write_config()
    status = airbyte.check(config)
    streams = airbyte.discover(config)
    print(f"airbyte source-outreach: check {status}; discover: {len(streams)} streams")
    failures = [] if status == "SUCCEEDED" else [f"airbyte check: {status}"]
    if len(streams) != AIRBYTE_STREAMS:
        failures.append(f"airbyte discover: {len(streams)} streams, not {AIRBYTE_STREAMS}")
    read = airbyte.read(config, streams)
    print(f"  read: {sum(read.records.values())} records in {read.seconds:.0f} s")
    for stream in sorted(s["name"] for s in streams):
        print(f"  {stream:20} {read.records.get(stream, 0):>7} records")
    for disagreement in read.disagreements:
        print(f"  its schema disagrees with Outreach's OpenAPI: {disagreement}")
    failures += [f"airbyte record: {e}" for e in read.invalid]
    failures += [f"airbyte log: {e}" for e in read.errors]
    empty = [s["name"] for s in streams if not read.records.get(s["name"])]
    if empty:
        failures.append(f"airbyte: {len(empty)} streams without records: {', '.join(empty)}")
    return failures


def prove(airbyte_python: str | None, scratch: Path) -> list[str]:
    """Both connectors (Airbyte's when it has a Python) on one default-seeded sandbox."""
    failures: list[str] = []
    with SandboxThread(default_config(mint_throttle=0.0)) as host:
        print(f"sandbox: {host.sandbox.config.seed} prospects (the serve default)")
        failures += prove_tap(host.sandbox, scratch)
        if airbyte_python is not None:
            failures += prove_airbyte(airbyte_python, host.sandbox, scratch)
    return failures


def airbyte_unavailable(python: str | None) -> str | None:
    """Why the Airbyte connector cannot run here, or None."""
    if not python:
        return "no Python 3.10 with airbyte-source-outreach (it needs Python < 3.12, 3.10 works)"
    if not Path(python).exists():
        return f"{python} does not exist"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.connectors")
    parser.add_argument("--airbyte-python", default=None, help="a Python with source-outreach")
    parser.add_argument(
        "--measure",
        nargs="?",
        const=",".join(PARTS),
        default=None,
        help=f"also measure these (default: {','.join(PARTS)}) into results.json",
    )
    parser.add_argument("--skip-proof", action="store_true", help="only measure")
    args = parser.parse_args(argv)
    parts = tuple(args.measure.split(",")) if args.measure else ()
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown measurement {sorted(unknown)}; choose from {', '.join(PARTS)}")
    skipped = airbyte_unavailable(args.airbyte_python)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="connectors-") as tmp:
        scratch = Path(tmp)
        if not args.skip_proof:
            failures += prove(args.airbyte_python if skipped is None else None, scratch)
        if skipped is not None:
            print(f"airbyte source-outreach: skipped: {skipped}")
        elif parts:
            assert args.airbyte_python is not None
            measure(args.airbyte_python, scratch, parts)
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    if not failures:
        print(
            "connectors: every stream has records; every record fits the connector's schemas"
            " (Airbyte's: except where listed, where its schema contradicts Outreach's OpenAPI)"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
