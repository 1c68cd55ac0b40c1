"""Run the benchmarks and store their figures, stamped, in ``benchmarks/results.json``.

``python -m benchmarks [--quick] [--out PATH] [SUITE ...]``; suites: client, decode, sandbox,
resolve, ratelimit, export, churn, sinks, fleet (each a ``benchmarks/bench_<suite>.py`` module
with ``run_all(quick) -> dict`` or ``run(quick) -> dict``). Each suite's figures are stored with the
stamp of the run that measured them (commit, date, machine, versions), so running one suite
refreshes that suite only. A full run writes ``benchmarks/results.json``; ``--quick`` (smaller
data, one round, for a smoke test) writes nothing unless ``--out`` says where. The README's
tables come from the results files: ``python -m benchmarks.report``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from outreach_async import pause_collector_while_decoding

from ._stamp import stamp

SUITES = (
    "client",
    "decode",
    "sandbox",
    "resolve",
    "ratelimit",
    "export",
    "churn",
    "sinks",
    "fleet",
)
RESULTS = Path(__file__).with_name("results.json")


def load(path: Path) -> dict[str, Any]:
    """A results file, or an empty one."""
    if not path.exists():
        return {"suites": {}}
    results: dict[str, Any] = json.loads(path.read_text())
    results.setdefault("suites", {})
    return results


def run_suite(name: str, quick: bool) -> dict[str, Any] | None:
    """One suite's figures with their stamp; None when its module is not in this tree."""
    try:
        module = importlib.import_module(f"benchmarks.bench_{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"benchmarks.bench_{name}":
            raise
        print(f"{name}: no benchmarks/bench_{name}.py here, skipped", file=sys.stderr)
        return None
    run = getattr(module, "run_all", None) or module.run
    print(f"running {name} ...", file=sys.stderr, flush=True)
    stamped = stamp()
    started = time.perf_counter()
    # the in-process clients run as the command line runs them: the paginator pauses the
    # collector while a page decodes (the figures up to 6528f9c had that on in the library)
    pause_collector_while_decoding(True)
    figures = run(quick)
    stamped["seconds"] = round(time.perf_counter() - started, 1)
    return {"stamp": stamped, "quick": quick, "figures": figures}


def main(argv: list[str] | None = None) -> int:
    """Run the suites asked for; print and store their figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller data, one round")
    parser.add_argument("--out", help="the results file (default: benchmarks/results.json)")
    parser.add_argument("suites", nargs="*", default=list(SUITES), help=", ".join(SUITES))
    args = parser.parse_args(argv)
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        parser.error(f"unknown suite {unknown[0]!r}; choose from {', '.join(SUITES)}")
    out = Path(args.out) if args.out else (None if args.quick else RESULTS)
    results = load(out) if out is not None else {"suites": {}}
    for name in args.suites:
        suite = run_suite(name, args.quick)
        if suite is None:
            continue
        results["suites"][name] = suite
        print(json.dumps({name: suite}, indent=2))
        if out is not None:  # after each suite, so a failure later keeps what was measured
            out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
