"""Run the side-by-side benchmark; print the markdown table, write the JSON figures.

``nox -s bench_peers`` (or ``python -m benchmarks.peers`` in an environment holding the peers);
``--quick`` for a smoke run of about two minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs

from benchmarks._stamp import stamp

from ._bench import CLIENTS, Client, Limits, Outcome, Workload, run_workload
from ._report import readme_block, summarize

FAULTS = "503=0.05,502html=0.03,reset=0.03"
RESULTS = Path(__file__).with_name("results.json")
PEER_DISTRIBUTIONS = ("tap-outreach", "singer-python", "requests", "jsonapi-client", "jsonschema")


def workloads(args: argparse.Namespace) -> list[Workload]:
    """The four workloads, full size or ``--quick``, with any ``--rounds`` override."""
    quick = args.quick
    rounds = args.rounds or (1 if quick else 3)
    every = [
        Workload("stream", "streaming", 10_000 if quick else 15_000, 1000, "stream", rounds),
        Workload(
            "large",
            "a thousand pages",
            args.large_records or (10_000 if quick else 8_000),
            args.large_page_size or (10 if quick else 8),
            "stream",
            rounds,
        ),
        Workload(
            "ratelimit",
            "export under a small rate-limit budget",
            # Not a multiple of the budget: ours keeps one request of each window in reserve,
            # which at exactly k budgets' worth of requests would cost it one more window.
            1_800 if quick else 4_800,
            50,
            "export",
            rounds,
            rate_limit="20/2s" if quick else "50/5s",
        ),
        Workload(
            "faults",
            "export under faults",
            3_000 if quick else 15_000,
            50 if quick else 100,
            "export",
            rounds,
            faults=FAULTS,
        ),
    ]
    chosen = args.workloads.split(",") if args.workloads else [w.key for w in every]
    return [w for w in every if w.key in chosen]


def describe_machine() -> dict[str, Any]:
    """The run's stamp (commit, date, machine, versions), the peers' versions included."""
    return stamp(PEER_DISTRIBUTIONS)


def labels(described: dict[str, Any]) -> dict[str, str]:
    """Each client's name with its version, as the table shows it."""
    versions: dict[str, str] = described["versions"]
    return {
        c.key: f"{c.label} {versions[c.distribution]}" if c.distribution else c.label
        for c in CLIENTS
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N, one round (~2 minutes)")
    parser.add_argument(
        "--out", help="the JSON figures (benchmarks/peers/results.json; --quick: bench_peers.json)"
    )
    parser.add_argument("--workloads", help="comma-separated: stream,large,ratelimit,faults")
    parser.add_argument("--clients", help="comma-separated: ours,raw,jsonapi,tap")
    parser.add_argument("--rounds", type=int, help="rounds per workload (3)")
    parser.add_argument("--large-records", type=int, help="records of 'large' (8000)")
    parser.add_argument("--large-page-size", type=int, help="page size of 'large' (8)")
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
    described["seconds"] = round(time.perf_counter() - started, 1)
    document = {
        "stamp": described,
        "quick": args.quick,
        "clients": {c.key: names[c.key] for c in clients},
        "missing": missing_peers(clients, described),
        "workloads": [attrs.asdict(w) for w in chosen],
        "summary": summaries,
        "runs": {key: [attrs.asdict(o) for o in outcomes] for key, outcomes in runs.items()},
    }
    out = Path(args.out or ("bench_peers.json" if args.quick else RESULTS))
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(readme_block(document))
    print(f"\n(figures in {out}; {described['seconds']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
