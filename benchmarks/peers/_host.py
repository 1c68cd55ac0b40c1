"""The harness side of a run: the sandbox in a background thread, each client in a subprocess.

The sandbox runs in this process (its own event loop in a thread) so its counters (429s sent,
faults injected) can be read between runs; every client, ours included, runs in a child
process so that its peak RSS is its own: its ``VmHWM``, reported by the child at its end and
sampled here meanwhile. A child past its RSS cap or its time cap is stopped (SIGTERM, which
its runner turns into a report of what it had; SIGKILL if it does not end), so a client that
keeps every page cannot take the machine down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import attrs

from outreach_async.sandbox import Sandbox, SandboxConfig

from ._protocol import OAuthSpec, RunResult, RunSpec, peak_rss_mb

#: Sampling period of a child's RSS and exit, seconds.
POLL = 0.1
#: Seconds a child stopped at a cap has to report before it is killed.
STOP_GRACE = 5.0


@attrs.frozen
class Counters:
    """What the sandbox saw: requests served and refused by the rate limit, faults injected."""

    served: int
    rejected: int
    faults: dict[str, int]

    def minus(self, before: Counters) -> Counters:
        """What happened between ``before`` and this snapshot."""
        faults = Counter(self.faults)
        faults.subtract(before.faults)
        return Counters(
            self.served - before.served,
            self.rejected - before.rejected,
            {kind: n for kind, n in faults.items() if n},
        )


class SandboxThread:
    """A :class:`Sandbox` served from its own event loop in a daemon thread."""

    def __init__(self, config: SandboxConfig) -> None:
        self.sandbox = Sandbox(config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> SandboxThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sandbox.start(), self._loop).result()
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.sandbox.stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def counters(self) -> Counters:
        """A snapshot of the sandbox's counters."""
        limit = self.sandbox.rate_limit_state
        return Counters(limit.served, limit.rejected, dict(self.sandbox.fault_state.injected))

    def oauth(self) -> OAuthSpec:
        """Credentials for a client that refreshes its own token: a fresh refresh token."""
        authority = self.sandbox.authority
        return OAuthSpec(
            origin=self.sandbox.origin,
            token_url=self.sandbox.token_url,
            client_id=authority.client_id,
            client_secret=authority.client_secret,
            refresh_token=authority.issue_refresh_token(),
        )

    def wait_for_fresh_window(self) -> None:
        """Sleep to the start of the next rate-limit window, so every run gets a full budget."""
        config = self.sandbox.config.rate_limit
        if not config.enabled:
            return
        now = self.sandbox.config.clock()
        start = math.floor(now / config.window + 1) * config.window
        time.sleep(start - now + 0.01)


@attrs.frozen
class ChildRun:
    """One client run as the harness saw it."""

    result: RunResult | None
    #: peak resident set of the child, MB
    peak_rss_mb: float
    #: why the harness stopped the child or why it died without a result, else None
    killed: str | None
    counters: Counters
    stderr_tail: str
    scratch: Path


def _tail(path: Path, lines: int = 5) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


@contextlib.contextmanager
def _child(module: str, spec: RunSpec, stderr: Path) -> Iterator[subprocess.Popen[str]]:
    with stderr.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", f"benchmarks.peers.{module}", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()


def _cap_reached(peak: float, rss_cap_mb: float, late: bool, timeout: float) -> str | None:
    if peak > rss_cap_mb:
        return f"stopped at {peak:,.0f} MB RSS (cap {rss_cap_mb:,.0f} MB)"
    if late:
        return f"stopped after {timeout:,.0f} s (time cap)"
    return None


def _watch(pid: int, rss_cap_mb: float, timeout: float) -> tuple[int, float, str | None]:
    """Wait for ``pid`` while watching its RSS and the clock; (status, peak MB, why stopped).

    A child over a cap gets SIGTERM (its runner then reports what it had) and, if it is still
    there ``STOP_GRACE`` seconds later, SIGKILL.
    """
    deadline = time.monotonic() + timeout
    stopped: str | None = None
    kill_at: float | None = None
    peak = 0.0
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status, peak, stopped
        peak = max(peak, peak_rss_mb(pid))
        now = time.monotonic()
        if stopped is None:
            stopped = _cap_reached(peak, rss_cap_mb, now > deadline, timeout)
            if stopped is not None:
                os.kill(pid, signal.SIGTERM)
                kill_at = now + STOP_GRACE
        elif kill_at is not None and now > kill_at:
            os.kill(pid, signal.SIGKILL)
            kill_at = None
        time.sleep(POLL)


def run_child(
    host: SandboxThread,
    module: str,
    spec: RunSpec,
    *,
    align_to_window: bool,
    rss_cap_mb: float,
    timeout: float,
) -> ChildRun:
    """Run ``benchmarks.peers.<module>`` once against ``host`` and collect what it did."""
    scratch = Path(spec["scratch"])
    stderr = scratch / "stderr.log"
    with _child(module, spec, stderr) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        ready = process.stdout.readline().strip()
        if ready != "ready":
            process.wait()
            return ChildRun(None, 0.0, "did not start", host.counters(), _tail(stderr), scratch)
        if align_to_window:
            host.wait_for_fresh_window()
        before = host.counters()
        process.stdin.write("go\n")
        process.stdin.flush()
        status, sampled_peak, killed = _watch(process.pid, rss_cap_mb, timeout)
        process.returncode = os.waitstatus_to_exitcode(status)
        counters = host.counters().minus(before)
    result_path = scratch / "result.json"
    result: RunResult | None = None
    if result_path.exists():  # a child stopped at a cap reports what it had, if it can
        result = json.loads(result_path.read_text())
    elif killed is None:
        killed = f"exited with status {process.returncode} and no result"
    peak = max(sampled_peak, result["peak_rss_mb"] if result else 0.0)
    return ChildRun(result, peak, killed, counters, _tail(stderr), scratch)
