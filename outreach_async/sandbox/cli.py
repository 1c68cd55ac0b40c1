"""``outreach-async sandbox serve``: run a seeded sandbox until Ctrl-C.

The project's command line calls :func:`serve_command` with the arguments after
``sandbox serve``; ``python -m outreach_async.sandbox`` does the same.

    outreach-async sandbox serve --port 8787 --seed 10000 --rate-limit 100/60s \\
        --latency 50ms --faults "503=0.05,502html=0.02"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from .churn import ChurnConfig
from .config import SandboxConfig
from .faults import FaultConfig
from .ratelimit import RateLimitConfig
from .seed import SeedProfile
from .server import Sandbox

__all__ = ["build_parser", "config_from_args", "parse_rate_limit", "serve_command"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def _duration(text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration (e.g. 3600, 60s, 5m, 1h, 50ms)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_rate_limit(text: str) -> RateLimitConfig:
    """``10000`` (per hour), ``100/60s``, ``5/1s`` or ``off``, as a :class:`RateLimitConfig`."""
    if text.strip().lower() == "off":
        return RateLimitConfig(enabled=False)
    limit, _, window = text.partition("/")
    try:
        count = int(limit)
    except ValueError:
        raise ValueError(f"{text!r}: the limit must be a whole number of requests") from None
    if count < 1:
        raise ValueError(f"{text!r}: the limit must be at least 1")
    seconds = _duration(window) if window else 3600.0
    if seconds <= 0:
        raise ValueError(f"{text!r}: the window must be longer than 0 s")
    return RateLimitConfig(limit=count, window=seconds)


def build_parser(prog: str = "outreach-async sandbox serve") -> argparse.ArgumentParser:
    """The options of ``sandbox serve``."""
    parser = argparse.ArgumentParser(prog=prog, description="Run a local Outreach API sandbox.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port (8787; 0 picks a free one)")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument(
        "--seed",
        type=int,
        default=10_000,
        help="prospects to seed, with every other type around them (10000)",
    )
    sizes.add_argument(
        "--seed-profile",
        choices=[profile.value for profile in SeedProfile],
        default=None,
        help="a named seed instead: minimal (one or two records of every type)",
    )
    parser.add_argument("--random-seed", type=int, default=0, help="seed of the data (0)")
    parser.add_argument(
        "--rate-limit",
        default="10000/1h",
        help="requests per window per user: 10000/1h (default), 100/60s, or off",
    )
    parser.add_argument(
        "--two-value-remaining",
        action="store_true",
        help='send X-RateLimit-Remaining as two values ("9999, 19998"), as Outreach sometimes does',
    )
    parser.add_argument("--latency", default=None, help="added to every answer: 50ms, 0.2, 1s")
    parser.add_argument(
        "--faults",
        default="",
        help='fault spec, e.g. "503=0.05,502html=0.02,reset=0.01,heavy:mailing=500"',
    )
    parser.add_argument(
        "--churn", default="off", help="records changed while serving: 100/s, 6000/m, off"
    )
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The :class:`SandboxConfig` the parsed options describe (ValueError when one is bad)."""
    faults = FaultConfig.from_spec(args.faults) if args.faults else FaultConfig()
    if args.latency is not None:
        faults.latency = _duration(args.latency)
    rate_limit = parse_rate_limit(args.rate_limit)
    rate_limit.two_value_remaining = args.two_value_remaining
    seed = SeedProfile(args.seed_profile) if args.seed_profile else args.seed
    return SandboxConfig(
        seed=seed,
        random_seed=args.random_seed,
        host=args.host,
        port=args.port,
        rate_limit=rate_limit,
        faults=faults,
        churn=ChurnConfig.from_spec(args.churn),
        record_requests=False,  # a long-running server must not keep every request
    )


def _describe(seed: int | SeedProfile | None) -> str:
    if isinstance(seed, SeedProfile):
        return f"the {seed.value} profile"
    return f"{seed or 0} prospects"


async def _serve(config: SandboxConfig, out: TextIO, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    try:
        async with Sandbox(config) as sandbox:
            print(f"Outreach sandbox serving {sandbox.base_url}", file=out)
            seeded = f"{_describe(config.seed)} (random seed {config.random_seed})"
            print(f"  seeded {seeded}", file=out)
            print(f"  OUTREACH_BASE_URL={sandbox.base_url}", file=out)
            print(f"  OUTREACH_TOKEN={sandbox.token}", file=out)
            print("Ctrl-C to stop.", file=out, flush=True)
            await stop.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


def serve_command(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run ``sandbox serve`` with ``argv`` (the arguments after it); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config, out or sys.stdout))
    return 0
