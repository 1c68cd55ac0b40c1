"""Waiting for asked-for syncs to end (``fleet sync --wait [--timeout]``).

A sync asked for at ``asked_at`` (Redis's clock) has ended when its tenant x resource's status
is final (``ok``, ``error``, ``auth``) and its run started at or after ``asked_at``: an older
final status is the previous run's. Until then it is ``queued`` (no run has started since it was
asked for), ``running`` or ``retrying``. The wait reads the statuses every ``poll`` seconds and
gives up after ``give_up_after`` seconds; the syncs themselves go on in the workers either way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

import attrs

from ._status import FINAL_STATES, StatusStore, SyncStatus

__all__ = ["WaitOutcome", "phase", "wait_for_syncs"]

#: how often the statuses are read, seconds (what `fleet sync --wait` uses)
DEFAULT_POLL = 0.2


def phase(status: SyncStatus, asked_at: float) -> str:
    """Where a sync asked for at ``asked_at`` stands: ``queued`` until a run starts, then the
    run's state."""
    if status.started_at is None or status.started_at < asked_at:
        return "queued"
    return status.state


@attrs.frozen
class WaitOutcome:
    """The statuses when the wait ended, and whether every sync had ended by then."""

    statuses: Sequence[SyncStatus]
    asked_at: float

    @property
    def done(self) -> bool:
        """Every sync ended (False: the timeout came first)."""
        return not self.unfinished()

    def phases(self) -> list[tuple[SyncStatus, str]]:
        """Every sync with its :func:`phase`, in the order of the targets."""
        return [(s, phase(s, self.asked_at)) for s in self.statuses]

    def failed(self) -> list[SyncStatus]:
        """Syncs that ended other than ``ok``."""
        return [s for s, now in self.phases() if now in FINAL_STATES and now != "ok"]

    def unfinished(self) -> list[tuple[SyncStatus, str]]:
        """Syncs not ended yet, with their phase (``queued``, ``running``, ``retrying``)."""
        return [(s, now) for s, now in self.phases() if now not in FINAL_STATES]


async def wait_for_syncs(
    statuses: StatusStore,
    targets: Iterable[tuple[str, str]],
    asked_at: float,
    *,
    give_up_after: float | None = None,
    poll: float = DEFAULT_POLL,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> WaitOutcome:
    """Read ``targets``' statuses until every sync asked for at ``asked_at`` has ended, or
    ``give_up_after`` seconds (on ``clock``) have passed."""
    chosen = list(targets)
    deadline = None if give_up_after is None else clock() + give_up_after
    while True:
        waited = WaitOutcome(await statuses.read_all(chosen), asked_at)
        if waited.done:
            return waited
        left = None if deadline is None else deadline - clock()
        if left is not None and left <= 0:
            return waited
        await sleep(poll if left is None else min(poll, left))
