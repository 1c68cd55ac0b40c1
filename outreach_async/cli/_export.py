"""``outreach-async export RESOURCE``: one resource to JSON Lines or CSV, resumable.

outreach-async export prospects --sandbox --out prospects.jsonl
outreach-async export prospects --out prospects.jsonl --state sync.db --since 2024-01-01
outreach-async export sequence_states --format csv --filter state=active --partitions 4
outreach-async export prospects --partition 2/8 --state redis://redis:6379/0 --out p2.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from outreach_async import OutreachClient
from outreach_async.export import (
    CheckpointStore,
    ExportResult,
    ProgressBar,
    RedisCheckpointStore,
    SQLiteCheckpointStore,
    export_resource,
    format_time,
    parse_share,
    resolve_resource,
)

from ._filters import parse_filters
from ._status import UsageError

__all__ = ["register", "run_export"]

DEFAULT_SANDBOX_SEED = 10_000


def register(commands: Any) -> None:
    """Add ``export`` to the top-level subcommands."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "export",
        help="export one resource to JSON Lines or CSV (resumable, incremental)",
        description=(
            "Export every record of RESOURCE (a path such as prospects, sequence_states or "
            "sequenceStates) to JSON Lines or CSV. With --state the export is an incremental "
            "sync: FILE is appended to and the next run continues where this one stopped; "
            "after any interruption the same command finishes with each record in FILE "
            "exactly once."
        ),
        epilog=(
            "exit status: 0 done, 2 bad arguments or input, 3 Outreach API or network error, "
            "4 interrupted (run it again to resume), 5 state conflict (output and checkpoint "
            "disagree, or the state store failed)"
        ),
    )
    parser.add_argument("resource", help="prospects, accounts, sequence_states, ...")
    output = parser.add_argument_group("output")
    output.add_argument("--out", "-o", default="-", metavar="FILE", help="FILE, or - for stdout")
    output.add_argument(
        "--format", choices=("jsonl", "csv"), help="jsonl (default; csv when FILE ends in .csv)"
    )
    output.add_argument("--fields", help="only these fields, comma-separated (id always)")
    output.add_argument(
        "--dedupe", action="store_true", help="write each id once per run (one-off exports)"
    )
    output.add_argument("--quiet", "-q", action="store_true", help="no progress, no summary")
    output.add_argument(
        "--checkpoint-every",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between checkpoints (1; each one fsyncs FILE and saves the state)",
    )
    query = parser.add_argument_group("query")
    query.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="title=CEO, owner=1,2, engagedAt=2024-01-01..inf, account.name=Acme (repeatable)",
    )
    query.add_argument("--since", help="updatedAt at or after: 2024-01-01 or an ISO time")
    query.add_argument("--until", help="updatedAt at or before")
    query.add_argument("--page-size", type=int, default=1000, help="records per request (1000)")
    sync = parser.add_argument_group("sync and partitions")
    sync.add_argument(
        "--state", metavar="DB", help="checkpoint store: a SQLite file (sync.db) or redis://..."
    )
    shares = sync.add_mutually_exclusive_group()
    shares.add_argument(
        "--partitions", type=int, default=1, metavar="N", help="stream N time spans at once"
    )
    shares.add_argument(
        "--partition",
        metavar="I/N",
        help="fleets: run share I of N (0-based), with a shared --state",
    )
    sync.add_argument(
        "--rate-limit",
        metavar="URL",
        help="share the API budget through Redis (redis://...); default: in-process",
    )
    connection = parser.add_argument_group("connection")
    connection.add_argument("--base-url", help="API root (env OUTREACH_BASE_URL)")
    connection.add_argument("--token", help="access token (env OUTREACH_TOKEN)")
    connection.add_argument("--max-concurrency", type=int, default=8, help="requests in flight")
    connection.add_argument(
        "--sandbox", action="store_true", help="run against a seeded in-process sandbox"
    )
    connection.add_argument(
        "--sandbox-seed",
        type=int,
        default=DEFAULT_SANDBOX_SEED,
        metavar="N",
        help=f"prospects the sandbox seeds ({DEFAULT_SANDBOX_SEED})",
    )
    connection.add_argument(
        "--sandbox-latency", type=float, default=0.0, metavar="S", help="seconds added per answer"
    )
    parser.set_defaults(handler=run_export)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    return "csv" if str(args.out).lower().endswith(".csv") else "jsonl"


def _open_store(state: str | None) -> CheckpointStore | None:
    if state is None:
        return None
    if state.startswith(("redis://", "rediss://", "unix://")):
        return RedisCheckpointStore.from_url(state)
    return SQLiteCheckpointStore(state)


def _rate_limiter(url: str | None) -> Any:
    if url is None:
        return None
    import outreach_async

    limiter = getattr(outreach_async, "RedisRateLimiter", None)
    if limiter is None:
        raise UsageError("--rate-limit needs the Redis rate limiter, missing from this install")
    return limiter.from_url(url)


@contextlib.asynccontextmanager
async def _connection(args: argparse.Namespace) -> AsyncIterator[tuple[str, str]]:
    """``(base_url, token)``: a seeded sandbox's, or the ones given."""
    if not args.sandbox:
        base_url = args.base_url or os.environ.get("OUTREACH_BASE_URL")
        token = args.token or os.environ.get("OUTREACH_TOKEN")
        if not token:
            raise UsageError("no token: pass --token, set OUTREACH_TOKEN, or use --sandbox")
        yield (base_url or "https://api.outreach.io/api/v2", token)
        return
    from outreach_async.sandbox import FaultConfig, Sandbox

    faults = FaultConfig(latency=args.sandbox_latency)
    async with Sandbox(seed=args.sandbox_seed, faults=faults, record_requests=False) as sandbox:
        yield (sandbox.base_url, sandbox.token)


async def run_export(args: argparse.Namespace) -> int:
    """Run the export the arguments describe; returns the exit status."""
    options = export_options(args)  # every argument checked before any connection
    bar = None if args.quiet else ProgressBar(options["resource"].__resource_spec__.path)
    store = _open_store(args.state)
    try:
        async with _connection(args) as (base_url, token):
            client = OutreachClient(
                token,
                base_url=base_url,
                max_concurrency=args.max_concurrency,
                rate_limiter=_rate_limiter(args.rate_limit),
            )
            async with client:
                result = await export_resource(client, progress=bar, checkpoint=store, **options)
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            await store.close()
    if not args.quiet:
        print(summary(result, share=args.partition), file=sys.stderr)
    return 0


def export_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`export_resource` (but the client, store and progress)."""
    model = resolve_resource(args.resource)
    if args.partitions < 1:
        raise UsageError("--partitions must be at least 1")
    fields = [f for f in args.fields.split(",") if f.strip()] if args.fields else None
    return {
        "resource": model,
        "sink": sys.stdout.buffer if args.out == "-" else args.out,
        "format": "csv" if _format(args) == "csv" else "jsonl",
        "filter": parse_filters(model.__resource_spec__, args.filter),
        "since": args.since,
        "until": args.until,
        "fields": fields,
        "page_size": args.page_size,
        "partitions": args.partitions,
        "partition": parse_share(args.partition) if args.partition else None,
        "dedupe": args.dedupe,
        "commit_interval": args.checkpoint_every,
    }


def summary(result: ExportResult, *, share: str | None = None) -> str:
    """The one line printed when an export ends."""
    if result.waiting:
        return f"share {share} of {result.resource} is done; the run waits for the other shares"
    rate = result.records / result.elapsed if result.elapsed > 0 else 0.0
    where = "stdout" if result.output == "-" else result.output
    line = (
        f"exported {result.records:,} {result.resource} to {where} in {result.elapsed:.1f} s "
        f"({rate:,.0f} records/s)"
    )
    if result.resumed:
        line += ", resuming an interrupted run"
    if isinstance(result.watermark, dt.datetime):
        line += f"; the next run starts at {format_time(result.watermark)}"
    elif result.watermark is not None:
        line += f"; the next run starts at id {result.watermark}"
    return line
