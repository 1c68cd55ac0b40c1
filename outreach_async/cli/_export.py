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
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from outreach_async import (
    Hooks,
    NotFoundError,
    OAuth2Refresh,
    OutreachClient,
    RedisRateLimiter,
    TokenProvider,
    UntrackedOutputError,
)
from outreach_async.export import (
    CheckpointError,
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
from outreach_async.sinks import DatabaseSink, is_database_url, open_sink

from ._checks import api_path_hint, check_base_url, check_writable, lacks_api_path
from ._filters import parse_filters
from ._status import StateConflict, UsageError

if TYPE_CHECKING:
    from outreach_async._hooks import RetryEvent

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
    output.add_argument(
        "--out",
        "-o",
        default="-",
        metavar="FILE",
        help="FILE (replaced only once the export is complete; appended to with --state), - "
        "for stdout (the default; a re-run after a crash may repeat records there), or a "
        "database: postgresql://... or duckdb:///path.duckdb (a table per resource, upserted, "
        "its checkpoints kept beside it in the same transaction)",
    )
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
    sync.add_argument(
        "--restart",
        action="store_true",
        help="with --state: discard this export's checkpoint and FILE's contents, and export "
        "everything again (when the state is lost, empty or unreadable)",
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
        help="share one user's API budget with a fleet through Redis (redis://...)",
    )
    sync.add_argument(
        "--rate-limit-user",
        default="default",
        metavar="NAME",
        help="the Outreach user the fleet shares the budget of (same name on every member)",
    )
    connection = parser.add_argument_group("connection")
    connection.add_argument("--base-url", help="API root (env OUTREACH_BASE_URL)")
    connection.add_argument("--token", help="access token (env OUTREACH_TOKEN)")
    connection.add_argument(
        "--token-file",
        metavar="PATH",
        help="tokens saved by 'auth login' (without --token; needs OUTREACH_CLIENT_ID and "
        "OUTREACH_CLIENT_SECRET to refresh them)",
    )
    connection.add_argument("--client-id", help="the OAuth app's id (env OUTREACH_CLIENT_ID)")
    connection.add_argument("--token-url", help="the OAuth token endpoint (with --token-file)")
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


def _is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "unix://"))


def _open_store(state: str | None, *, restart: bool, err: TextIO) -> CheckpointStore | None:
    if state is None:
        return None
    if _is_redis(state):
        return RedisCheckpointStore.from_url(state)
    try:
        return SQLiteCheckpointStore(state)
    except CheckpointError as exc:
        if not (restart and exc.malformed):
            raise
    os.unlink(state)  # --restart discards the state, and this one cannot even be read
    print(f"outreach-async: discarded the unreadable state file {state}", file=err)
    return SQLiteCheckpointStore(state)


def _rate_limiter(args: argparse.Namespace) -> RedisRateLimiter | None:
    """The Redis limiter that keeps a fleet inside one user's budget, when asked for."""
    if args.rate_limit is None:
        return None
    if not args.rate_limit.startswith(("redis://", "rediss://", "unix://")):
        raise UsageError(f"--rate-limit takes a redis:// URL, got {args.rate_limit!r}")
    return RedisRateLimiter(args.rate_limit, args.rate_limit_user)


def _auth(args: argparse.Namespace) -> str | None:
    """A static token from --token or OUTREACH_TOKEN, if one was given."""
    return args.token or os.environ.get("OUTREACH_TOKEN") or None


async def _saved_login(args: argparse.Namespace) -> TokenProvider:
    """The tokens ``outreach-async auth login`` saved, refreshed with the app's credentials."""
    client_id = args.client_id or os.environ.get("OUTREACH_CLIENT_ID")
    client_secret = os.environ.get("OUTREACH_CLIENT_SECRET")
    path = Path(args.token_file) if args.token_file else _default_token_file()
    if not path.exists():
        raise UsageError(_no_token_file(args.token_file))
    missing = [
        name
        for name, value in (
            ("OUTREACH_CLIENT_ID (or --client-id)", client_id),
            ("OUTREACH_CLIENT_SECRET", client_secret),
        )
        if not value
    ]
    if missing or client_id is None or client_secret is None:
        raise UsageError(
            f"the tokens in {path} are refreshed with the OAuth app's credentials: set "
            + " and ".join(missing)
        )
    # The token store belongs to the auth helpers (cli/auth.py writes it the same way).
    from outreach_async.auth import FileTokenStore

    store = FileTokenStore(path)
    token_url = args.token_url or os.environ.get("OUTREACH_TOKEN_URL")
    if token_url is None:  # Outreach's own token endpoint
        return await OAuth2Refresh.from_store(
            store, client_id=client_id, client_secret=client_secret
        )
    return await OAuth2Refresh.from_store(
        store, client_id=client_id, client_secret=client_secret, token_url=token_url
    )


def _no_token_file(given: str | None) -> str:
    if given:
        return (
            f"--token-file {given}: no such file; log in first with 'outreach-async auth login "
            f"--token-file {given}', or pass --token"
        )
    return (
        "no token: pass --token or set OUTREACH_TOKEN; or log in with 'outreach-async auth "
        "login' and set OUTREACH_CLIENT_ID and OUTREACH_CLIENT_SECRET; or use --sandbox"
    )


def _default_token_file() -> Path:
    try:
        from .auth import default_token_file
    except ImportError:  # pragma: no cover - the auth command is not installed
        return Path.home() / ".config" / "outreach-async" / "tokens.json"
    return default_token_file()


@contextlib.asynccontextmanager
async def _connection(
    args: argparse.Namespace,
) -> AsyncIterator[tuple[str | None, str | TokenProvider]]:
    """``(base_url, auth)``: a seeded sandbox's, or the ones given (None: Outreach's URL)."""
    if not args.sandbox:
        yield _base_url(args), _auth(args) or await _saved_login(args)
        return
    from outreach_async.sandbox import FaultConfig, Sandbox

    faults = FaultConfig(latency=args.sandbox_latency)
    async with Sandbox(seed=args.sandbox_seed, faults=faults, record_requests=False) as sandbox:
        yield (sandbox.base_url, sandbox.token)


def _base_url(args: argparse.Namespace) -> str | None:
    """--base-url or OUTREACH_BASE_URL (None: Outreach's own)."""
    return None if args.sandbox else args.base_url or os.environ.get("OUTREACH_BASE_URL")


def _client(
    auth: str | TokenProvider,
    base_url: str | None,
    max_concurrency: int,
    limiter: RedisRateLimiter | None,
    hooks: Hooks,
) -> OutreachClient:
    options: dict[str, Any] = {"max_concurrency": max_concurrency, "rate_limiter": limiter}
    if base_url is not None:  # else Outreach itself, at the client's default URL
        options["base_url"] = base_url
    return OutreachClient(auth, hooks=hooks, **options)


def _show_retries(bar: ProgressBar | None, err: TextIO) -> Hooks:
    """Each retry on the progress line, or as a line of its own when stderr is no terminal."""

    def show(event: RetryEvent) -> None:
        reason = str(event.status) if event.status is not None else event.error or "an error"
        text = f"retry {event.attempt} in {event.wait:.1f} s after {reason}"
        if bar is not None and bar.enabled:
            bar.note(text)
        else:
            print(f"outreach-async: {event.method} {event.url}: {text}", file=err)

    return Hooks(on_retry=show)


async def run_export(args: argparse.Namespace) -> int:
    """Run the export the arguments describe; returns the exit status."""
    options = export_options(args)  # every argument checked before any connection
    err = sys.stderr
    bar = None if args.quiet else ProgressBar(options["resource"].__resource_spec__.path)
    try:
        store = _open_store(args.state, restart=args.restart, err=err)
    except CheckpointError as exc:
        raise _state_conflict(exc, args) from exc
    if args.restart and not args.quiet:
        print(f"outreach-async: {_restart_note(args)}", file=err)
    limiter = _rate_limiter(args)
    hooks = Hooks() if args.quiet else _show_retries(bar, err)
    try:
        async with (
            _database(options["sink"]),  # reached (and checked) before any API request
            _connection(args) as (base_url, auth),
            _client(auth, base_url, args.max_concurrency, limiter, hooks) as client,
        ):
            result = await _export(client, args, options, bar, store)
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            await store.close()
        if limiter is not None:
            await limiter.aclose()
    if not args.quiet:
        print(
            summary(
                result,
                share=args.partition,
                incremental=store is not None or isinstance(options["sink"], DatabaseSink),
            ),
            file=err,
        )
    return 0


async def _export(
    client: OutreachClient,
    args: argparse.Namespace,
    options: dict[str, Any],
    bar: ProgressBar | None,
    store: CheckpointStore | None,
) -> ExportResult:
    """The export, with its errors said in the command line's terms."""
    try:
        return await export_resource(client, progress=bar, checkpoint=store, **options)
    except (UntrackedOutputError, CheckpointError) as exc:
        if isinstance(exc, CheckpointError) and not exc.malformed:
            raise  # the store failed (unreachable, disk full): the same command may work later
        raise _state_conflict(exc, args) from exc
    except NotFoundError as exc:
        base_url = _base_url(args)
        if base_url is not None and lacks_api_path(base_url):
            raise UsageError(api_path_hint(base_url)) from exc
        raise


def _state_conflict(exc: Exception, args: argparse.Namespace) -> StateConflict:
    """One line naming the output, the state and the flag that starts over."""
    out, state = args.out, args.state
    if isinstance(exc, UntrackedOutputError):
        why = (
            f"{out} already holds records but the state {state} has no checkpoint of it "
            "(missing, empty, or kept for another file)"
        )
    else:
        why = f"the state {state} cannot be read ({exc})"
    if args.partition:  # a fleet's shared plan cannot be started over by one member
        remedy = f"move {out} away, or give this member another --out"
    else:
        remedy = (
            f"run the same command with --restart to discard the state of this export and "
            f"{out}'s contents and export everything again"
        )
    return StateConflict(
        f"{why}; {out} was left as it is, since appending could repeat records. {remedy}"
    )


def _restart_note(args: argparse.Namespace) -> str:
    return (
        f"--restart: starting over; this export's checkpoint in {args.state} and the contents "
        f"of {args.out} are discarded"
    )


@contextlib.asynccontextmanager
async def _database(sink: object) -> AsyncIterator[None]:
    """Connect a database sink (its table and checkpoints checked) for the export's duration."""
    if not isinstance(sink, DatabaseSink):
        yield
        return
    async with sink:
        yield


def _sink(args: argparse.Namespace, model: Any) -> Any:
    """Where the records go: a database (its own checkpoints), stdout, or a file."""
    if is_database_url(args.out):
        if args.state:
            raise UsageError(
                "--state is for files: a database keeps its checkpoints itself, in the same "
                "transaction as the rows (drop --state)"
            )
        if args.format == "csv":
            raise UsageError("--format csv is for files, not databases")
        return open_sink(args.out, model)
    return sys.stdout.buffer if args.out == "-" else args.out


def export_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`export_resource` (but the client, store and progress)."""
    model = resolve_resource(args.resource)
    _check_numbers(args)
    _check_paths(args)
    fields = [f for f in args.fields.split(",") if f.strip()] if args.fields else None
    return {
        "resource": model,
        "sink": _sink(args, model),
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
        "restart": args.restart,
    }


def _check_numbers(args: argparse.Namespace) -> None:
    """Counts and durations in range (one line each, not a traceback from deep inside)."""
    at_least = (
        ("--partitions", args.partitions, 1),
        ("--max-concurrency", args.max_concurrency, 1),
        ("--sandbox-seed", args.sandbox_seed, 0),
        ("--sandbox-latency", args.sandbox_latency, 0),
        ("--checkpoint-every", args.checkpoint_every, 0),
    )
    for flag, value, lowest in at_least:
        if value < lowest:
            raise UsageError(f"{flag} must be at least {lowest}, not {value}")


def _check_paths(args: argparse.Namespace) -> None:
    """The URL and the files the export will use, before any connection."""
    base_url = _base_url(args)
    if base_url is not None:
        check_base_url(base_url, "--base-url" if args.base_url else "OUTREACH_BASE_URL")
    if is_database_url(args.out):
        if args.restart:
            raise UsageError(
                "--restart is for files: to start a database sync over, drop its table and its "
                "row in outreach_checkpoints"
            )
    elif args.out != "-":  # a one-off export writes FILE.partial beside FILE
        check_writable(args.out, "--out", beside=args.state is None)
    if args.state is not None and not _is_redis(args.state):
        check_writable(args.state, "--state")
    if args.restart and args.state is None:
        raise UsageError("--restart starts an incremental export over: it needs --state")
    if args.restart and args.out == "-":
        raise UsageError("--restart discards FILE's contents: it needs --out FILE")


def summary(result: ExportResult, *, share: str | None = None, incremental: bool = True) -> str:
    """The one line printed when an export ends (a one-off export has no next run to name)."""
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
    if not incremental:
        return line
    if isinstance(result.watermark, dt.datetime):
        line += f"; the next run starts at {format_time(result.watermark)}"
    elif result.watermark is not None:
        line += f"; the next run starts at id {result.watermark}"
    return line
