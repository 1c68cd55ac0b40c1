"""Run the side-by-side benchmark; print the markdown table, write the JSON figures.

``nox -s bench_peers`` (or ``python -m benchmarks.peers`` in an environment holding the peers);
``--quick`` for a smoke run of about two minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs

from benchmarks.__main__ import machine

from ._bench import CLIENTS, Client, Limits, Outcome, Workload, run_workload
from ._report import markdown, summarize

FAULTS = "503=0.05,502html=0.03,reset=0.03"
METHOD = """\
Each client runs in its own process (peak RSS is its own `VmHWM`) against one sandbox per
workload, all with the same page size; the order rotates each round. tap-outreach runs through
its own `main()` with its hard-coded `https://api.outreach.io` pointed at the sandbox and its
Singer output written to a file; jsonapi-client uses `Session(enable_async=True).iterate()`;
the raw loop sleeps `Retry-After` on 429 and retries 5xx and dropped connections 5 times.
Records are checked by id against the sandbox: duplicates and missing ones.
Reproduce: `nox -s bench_peers` (`-- --quick` for a two-minute smoke run)."""
PEER_DISTRIBUTIONS = ("tap-outreach", "singer-python", "requests", "jsonapi-client", "jsonschema")


def workloads(args: argparse.Namespace) -> list[Workload]:
    """The four workloads, full size or ``--quick``, with any ``--rounds`` override."""
    quick = args.quick
    rounds = args.rounds or (1 if quick else 3)
    every = [
        Workload("stream", "streaming", 10_000 if quick else 100_000, 1000, "stream", rounds),
        Workload(
            "large",
            "a thousand pages",
            args.large_records or (10_000 if quick else 50_000),
            args.large_page_size or (10 if quick else 50),
            "stream",
            args.rounds or 1,
        ),
        Workload(
            "ratelimit",
            "export under a small rate-limit budget",
            # Not a multiple of the budget: ours keeps one request of each window in reserve,
            # which at exactly k budgets' worth of requests would cost it one more window.
            1_800 if quick else 7_000,
            50,
            "export",
            rounds,
            rate_limit="20/2s" if quick else "50/5s",
        ),
        Workload(
            "faults",
            "export under faults",
            3_000 if quick else 30_000,
            50 if quick else 100,
            "export",
            rounds,
            faults=FAULTS,
        ),
    ]
    chosen = args.workloads.split(",") if args.workloads else [w.key for w in every]
    return [w for w in every if w.key in chosen]


def tree_commit() -> str:
    """The project's commit, marked ``+changes`` when the tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if changed else "")


def describe_machine() -> dict[str, Any]:
    """The benchmarks' machine description plus the peers' versions and the load at start."""
    described = machine()
    versions: dict[str, str] = described["versions"]  # type: ignore[assignment]
    for name in PEER_DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    described["nproc"] = len(os.sched_getaffinity(0))
    described["commit"] = tree_commit()
    described["load_average_at_start"] = os.getloadavg()
    return described


def labels(described: dict[str, Any]) -> dict[str, str]:
    """Each client's name with its version, as the table shows it."""
    versions: dict[str, str] = described["versions"]
    return {
        c.key: f"{c.label} {versions[c.distribution]}" if c.distribution else c.label
        for c in CLIENTS
    }


def heading(described: dict[str, Any]) -> str:
    """The line above the table: where and on what it was measured."""
    load = ", ".join(f"{x:.1f}" for x in described["load_average_at_start"])
    return (
        f"Measured on {described['platform']}, {described['nproc']} CPUs, Python "
        f"{described['python']}, aiohttp {described['versions']['aiohttp']}; load average "
        f"at start {load}. Ratios are to outreach-async in the same rounds (median of per-round "
        "ratios); speed and time count only runs that delivered every record exactly once."
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N, one round (~2 minutes)")
    parser.add_argument("--out", default="bench_peers.json", help="JSON figures (bench_peers.json)")
    parser.add_argument("--workloads", help="comma-separated: stream,large,ratelimit,faults")
    parser.add_argument("--clients", help="comma-separated: ours,raw,jsonapi,tap")
    parser.add_argument("--rounds", type=int, help="rounds per workload (3; large: 1)")
    parser.add_argument("--large-records", type=int, help="records of 'large' (50000)")
    parser.add_argument("--large-page-size", type=int, help="page size of 'large' (50)")
    parser.add_argument("--rss-cap", type=float, default=4000.0, help="MB before a run is killed")
    parser.add_argument("--time-cap", type=float, default=600.0, help="s before a run is killed")
    return parser.parse_args(argv)


def chosen_clients(args: argparse.Namespace, described: dict[str, Any]) -> tuple[Client, ...]:
    """The clients asked for that are installed; ours always, since every ratio is to ours."""
    keys = set(args.clients.split(",")) | {"ours"} if args.clients else None
    versions = described["versions"]
    return tuple(
        c
        for c in CLIENTS
        if (keys is None or c.key in keys)
        and (c.distribution is None or versions[c.distribution] != "not installed")
    )


def missing_peers(clients: tuple[Client, ...], described: dict[str, Any]) -> str:
    """A note naming the peers that are not installed here (pip said why, in the nox log)."""
    versions = described["versions"]
    absent = [
        c.label for c in CLIENTS if c.distribution and versions[c.distribution] == "not installed"
    ]
    if not absent:
        return ""
    return f"\n\nNot run, not installed in this environment: {', '.join(absent)}."


def main(argv: list[str] | None = None) -> int:
    """Run the workloads, print the table to stdout, write the JSON."""
    args = parse_args(argv)
    described = describe_machine()
    names = labels(described)
    clients = chosen_clients(args, described)
    limits = Limits(rss_mb=args.rss_cap, seconds=args.time_cap)
    started = time.perf_counter()
    runs: dict[str, list[Outcome]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_peers_") as scratch:
        for workload in workloads(args):
            runs[workload.key] = run_workload(workload, clients, Path(scratch), limits)
    chosen = workloads(args)
    summaries = {w.key: {c.key: summarize(w, c, runs[w.key]) for c in clients} for w in chosen}
    table = heading(described) + "\n\n" + markdown(chosen, clients, summaries, names)
    table += missing_peers(clients, described) + "\n\n" + METHOD
    document = {
        "machine": described,
        "quick": args.quick,
        "total_seconds": time.perf_counter() - started,
        "clients": {c.key: names[c.key] for c in clients},
        "workloads": [attrs.asdict(w) for w in chosen],
        "summary": summaries,
        "runs": {key: [attrs.asdict(o) for o in outcomes] for key, outcomes in runs.items()},
        "markdown": table,
    }
    Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    print(table)
    print(f"\n(figures in {args.out}; {document['total_seconds']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
