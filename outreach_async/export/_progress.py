"""The export's progress on stderr, drawn by tqdm: records, rate and ETA.

One bar for the whole export and, when it streams several partitions, one bar per partition
below it. tqdm draws them (redrawn in place, rate-limited, sized to the terminal) and stays
silent when the stream is not a terminal: a log file or CI gets the command's one summary line
at the end instead. A note (a retry, say) shows at the end of the main bar.

:class:`ProgressBar` is a :data:`~outreach_async.export.ProgressCallback`; the export also
calls :meth:`ProgressBar.partition` because it has one (see :class:`PartitionProgress`).
"""

from __future__ import annotations

import sys
from typing import Any, Protocol, TextIO, runtime_checkable

from tqdm import tqdm

__all__ = ["PartitionProgress", "ProgressBar"]


@runtime_checkable
class PartitionProgress(Protocol):
    """A progress callback that also wants each partition's own count."""

    def __call__(self, records: int, total: int | None) -> None: ...

    def partition(self, index: int, records: int, total: int | None) -> None:
        """Partition ``index`` (0-based) has written ``records`` in this run, of ``total``."""


class ProgressBar:
    """Call it with ``(records_written, total_or_None)``; :meth:`close` ends the bars.

    ``enabled=None`` draws only when ``stream`` (stderr by default) is a terminal.
    """

    def __init__(
        self, label: str, *, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = self._stream.isatty() if enabled is None else enabled
        self._label = label
        self._main = self._bar(label, position=0)
        self._partitions: dict[int, tqdm[Any]] = {}
        self._started = False
        self.done = 0
        self.total: int | None = None

    def _bar(self, label: str, *, position: int) -> tqdm[Any]:
        return tqdm(
            desc=label,
            unit=" records",
            file=self._stream,
            disable=not self.enabled,
            position=position,
            leave=position == 0,
            dynamic_ncols=True,
            mininterval=0.1,
        )

    def __call__(self, records: int, total: int | None) -> None:
        if not self._started:  # the rate counts from the export's start, not from connecting
            self._main.reset(total=total)
            self._started = True
        self.done, self.total = records, total
        _advance(self._main, records, total)

    def partition(self, index: int, records: int, total: int | None) -> None:
        """Draw partition ``index``'s own bar (created on its first report)."""
        bar = self._partitions.get(index)
        if bar is None:
            label = f"  partition {index + 1}"
            bar = self._partitions[index] = self._bar(label, position=index + 1)
        _advance(bar, records, total)

    def note(self, text: str) -> None:
        """Show ``text`` at the end of the main bar until the next note (``""`` clears it)."""
        self._main.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        """Remove the partition bars and leave the main bar's final state on its line."""
        for bar in self._partitions.values():
            bar.close()
        self._main.close()


def _advance(bar: tqdm[Any], records: int, total: int | None) -> None:
    if total is not None and bar.total != total:
        bar.total = total
        bar.refresh()
    if records != bar.n:
        bar.update(records - bar.n)
