"""Run the benchmarks and print their figures as JSON (the README's table comes from these).

``python -m benchmarks [--quick] [SUITE ...]``; suites: client, resolve, ratelimit, export,
sandbox, churn, sinks, fleet (each a ``benchmarks/bench_<suite>.py`` module with
``run_all(quick) -> dict``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from importlib import metadata

SUITES = ("client", "sandbox", "resolve", "ratelimit", "export", "churn", "sinks", "fleet")


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    versions = {}
    for package in ("outreach-async", "aiohttp", "orjson", "attrs", "cattrs"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer rounds")
    parser.add_argument("--out", help="also write the JSON to this file")
    parser.add_argument("suites", nargs="*", default=list(SUITES), help=", ".join(SUITES))
    args = parser.parse_args()
    results: dict[str, object] = {"machine": machine()}
    for name in args.suites:
        if name not in SUITES:
            parser.error(f"unknown suite {name!r}; choose from {', '.join(SUITES)}")
        try:
            module = importlib.import_module(f"benchmarks.bench_{name}")
        except ModuleNotFoundError as exc:
            results[name] = {"skipped": str(exc)}
            continue
        print(f"running {name} ...", file=sys.stderr)
        results[name] = module.run_all(args.quick)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
