"""Run the benchmarks and print their figures as JSON (the README's table comes from these)."""

from __future__ import annotations

import argparse
import json
import platform
import sys

from . import bench_client


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer rounds")
    parser.add_argument("suites", nargs="*", default=["client"], help="client")
    args = parser.parse_args()
    suites = {"client": bench_client.run_all}
    results: dict[str, object] = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.machine(),
        },
    }
    for name in args.suites:
        results[name] = suites[name](args.quick)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
