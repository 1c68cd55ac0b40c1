"""``outreach-async fleet``: many Outreach orgs, many worker processes, one Redis.

outreach-async fleet worker --config fleet.toml             # a Dramatiq worker; run many
outreach-async fleet sync   --config fleet.toml [--tenant NAME] [--wait [--timeout DURATION]]
outreach-async fleet status --config fleet.toml [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._status import ExitStatus

if TYPE_CHECKING:  # the fleet extra is imported only when a fleet command runs
    from outreach_async.fleet import FleetConfig, SyncStatus, WaitOutcome

__all__ = ["register"]

#: what ``--timeout`` is measured and waited with (tests put a fake clock here)
wait_clock: Callable[[], float] = time.monotonic
wait_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


def register(commands: Any) -> None:
    """Add ``fleet`` to the top-level subcommands."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "fleet",
        help="sync many Outreach orgs with worker processes sharing one Redis",
        description=(
            "Run a fleet described by fleet.toml: workers run the syncs (Dramatiq on Redis), "
            "each finished sync schedules its next run, `sync` asks for runs now and `status` "
            "shows where every tenant x resource stands."
        ),
        epilog="exit status: 0 done, 2 bad config or arguments, 3 a sync failed or Redis "
        "cannot be reached, 4 interrupted, or --timeout passed first (the syncs go on)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    worker = actions.add_parser("worker", help="run one worker process until SIGTERM")
    worker.add_argument("--threads", type=int, default=None, help="jobs at once ([worker])")
    worker.set_defaults(handler=_run(_worker))
    sync = actions.add_parser("sync", help="sync every tenant x resource now")
    sync.add_argument("--tenant", default=None, help="only this tenant")
    sync.add_argument("--wait", action="store_true", help="return when every sync is done")
    sync.add_argument(
        "--timeout",
        default=None,
        metavar="DURATION",
        help="with --wait: stop waiting after this long (30s, 15m, 1h) and exit 4, listing "
        "what is still queued or running; the syncs go on in the workers",
    )
    sync.set_defaults(handler=_run(_sync))
    status = actions.add_parser("status", help="where every tenant x resource stands")
    status.add_argument("--json", action="store_true", help="one JSON document")
    status.add_argument("--tenant", default=None, help="only this tenant")
    status.set_defaults(handler=_run(_status))
    for action in (worker, sync, status):
        action.add_argument("--config", required=True, help="the fleet's TOML file")


def _run(
    action: Callable[[FleetConfig, argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Load the config, run ``action``; an unreachable Redis is one line and exit 3."""

    def handler(args: argparse.Namespace) -> int:
        try:
            from redis.exceptions import ConnectionError as RedisConnectionError
            from redis.exceptions import TimeoutError as RedisTimeoutError

            from outreach_async.fleet import load_config
        except ModuleNotFoundError as exc:
            print(
                f"outreach-async: fleet needs {exc.name}: pip install 'outreach-async[fleet]'",
                file=sys.stderr,
            )
            return int(ExitStatus.USAGE)

        config = load_config(args.config)
        try:
            return action(config, args)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            where = urlsplit(config.redis)
            print(
                f"outreach-async: cannot reach Redis at {where.hostname}:{where.port or 6379} "
                f"({config.path}: redis): {exc}",
                file=sys.stderr,
            )
            return int(ExitStatus.API)

    return handler


def _worker(config: FleetConfig, args: argparse.Namespace) -> int:
    from redis import Redis

    from outreach_async.fleet import FleetApp

    if args.threads is not None and args.threads < 1:
        print("outreach-async: --threads must be at least 1", file=sys.stderr)
        return int(ExitStatus.USAGE)
    Redis.from_url(config.redis, socket_connect_timeout=5).ping()  # fail fast, one line
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("outreach_async.fleet").setLevel(logging.INFO)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    app = FleetApp(config, config_path=args.config)
    print(f"fleet worker ready ({len(config.tenants)} tenants)", flush=True)
    app.run_worker(stop, threads=args.threads)
    print("fleet worker stopped", flush=True)
    return int(ExitStatus.OK)


def _sync(config: FleetConfig, args: argparse.Namespace) -> int:
    return asyncio.run(_sync_async(config, args))


async def _sync_async(config: FleetConfig, args: argparse.Namespace) -> int:
    from redis.asyncio import Redis

    from outreach_async.fleet import FleetApp, StatusStore, wait_for_syncs

    targets = config.targets(args.tenant)  # an unknown tenant fails before anything is sent
    timeout = _timeout(args)
    if isinstance(timeout, ExitStatus):
        return int(timeout)
    redis = Redis.from_url(config.redis, socket_connect_timeout=5)
    app = FleetApp(config)
    try:
        requested = await app.request(redis, args.tenant)
        sent = sum(requested.sent.values())
        print(f"queued {sent} syncs ({len(targets) - sent} already queued)", flush=True)
        if not args.wait:
            return int(ExitStatus.OK)
        waited = await wait_for_syncs(
            StatusStore(redis, app.keys),
            targets,
            requested.asked_at,
            give_up_after=timeout,
            clock=wait_clock,
            sleep=wait_sleep,
        )
    finally:
        app.broker.close()
        await redis.aclose()
    return _report(waited, args.timeout)


def _timeout(args: argparse.Namespace) -> float | ExitStatus | None:
    """``--timeout`` in seconds (None without it), or USAGE after a one-line message."""
    from outreach_async.fleet import parse_duration

    if args.timeout is None:
        return None
    if not args.wait:
        print("outreach-async: --timeout needs --wait", file=sys.stderr)
        return ExitStatus.USAGE
    try:
        return parse_duration(args.timeout)
    except ValueError:
        print(
            f"outreach-async: --timeout: expected a duration such as 30s, 15m or 1h, "
            f"got {args.timeout!r}",
            file=sys.stderr,
        )
        return ExitStatus.USAGE


def _report(waited: WaitOutcome, timeout: str | None) -> int:
    """One line per tenant x resource, then a one-line summary per state on stderr: exit 3 when
    a sync failed, else 4 when some had not ended by ``--timeout``, else 0."""
    for s, now in waited.phases():
        print(f"{s.tenant} {s.resource}: {now} ({_detail(s, now)})", flush=True)
    problems = []
    failed = waited.failed()
    if failed:
        problems.append(f"failed: {', '.join(sorted({s.tenant for s in failed}))}")
    unfinished = waited.unfinished()
    if unfinished:
        by_phase: dict[str, set[str]] = {}
        for s, now in unfinished:
            by_phase.setdefault(now, set()).add(s.tenant)
        pending = "; ".join(f"{now}: {', '.join(sorted(t))}" for now, t in sorted(by_phase.items()))
        problems.append(
            f"not done after --timeout {timeout}: {pending} "
            "(the syncs go on in the workers; `fleet status` shows them)"
        )
    if problems:
        print(f"outreach-async: {'; '.join(problems)}", file=sys.stderr)
    if failed:
        return int(ExitStatus.API)
    return int(ExitStatus.OK if waited.done else ExitStatus.INTERRUPTED)


def _detail(status: SyncStatus, now: str) -> str:
    if now == "ok":
        return f"{status.last_run_records} records"
    if now == "queued":
        return "no worker has started it yet"
    if now == "running":
        return f"on {status.worker or 'a worker'}"
    return status.last_error or ""


def _status(config: FleetConfig, args: argparse.Namespace) -> int:
    return asyncio.run(_status_async(config, args))


async def _status_async(config: FleetConfig, args: argparse.Namespace) -> int:
    from redis.asyncio import Redis

    from outreach_async.fleet import FleetKeys, StatusStore, redis_now, render_table

    targets = config.targets(args.tenant)
    redis = Redis.from_url(config.redis, socket_connect_timeout=5)
    try:
        statuses = await StatusStore(redis, FleetKeys(config.namespace)).read_all(targets)
        now = await redis_now(redis)
    finally:
        await redis.aclose()
    if args.json:
        print(json.dumps([s.to_json(now) for s in statuses], indent=2))
    else:
        print(render_table(statuses, now))
    return int(ExitStatus.OK)
