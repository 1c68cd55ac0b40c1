"""A progress bar on stderr: records, rate and ETA (when the total is known). No dependency.

On a terminal the bar redraws one line in place, at most ten times a second. Elsewhere (a log
file, CI) it stays silent: the command line prints one summary line at the end instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressBar", "format_duration", "render_progress"]


def format_duration(seconds: float) -> str:
    """``0:07``, ``12:03``, ``1:02:03``."""
    whole = max(0, int(seconds + 0.5))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render_progress(
    label: str, done: int, total: int | None, elapsed: float, *, width: int = 24
) -> str:
    """One line of progress: ``prospects  42% [#########...] 4,200/10,000  3,100/s  ETA 0:02``."""
    rate = done / elapsed if elapsed > 0 else 0.0
    rate_text = f"{rate:,.0f}/s"
    if total is None or total <= 0:
        return f"{label}  {done:,} records  {rate_text}  {format_duration(elapsed)}"
    fraction = min(1.0, done / total)
    filled = int(fraction * width)
    bar = "#" * filled + "." * (width - filled)
    eta = format_duration((total - done) / rate) if rate > 0 and done < total else "0:00"
    return f"{label} {fraction * 100:3.0f}% [{bar}] {done:,}/{total:,}  {rate_text}  ETA {eta}"


class ProgressBar:
    """Call it with ``(records_written, total_or_None)``; :meth:`close` ends the line.

    ``enabled=None`` draws only when ``stream`` is a terminal.
    """

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.1,
    ) -> None:
        self.label = label
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = self._stream.isatty() if enabled is None else enabled
        self._clock = clock
        self._interval = interval
        self._started: float | None = None  # the first call starts the clock
        self._last_draw: float | None = None
        self._drawn = False
        self.done = 0
        self.total: int | None = None

    def __call__(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total
        now = self._clock()
        if self._started is None:
            self._started = now
        if not self.enabled:
            return
        if self._last_draw is not None and now - self._last_draw < self._interval:
            return
        self._draw(now)

    def _draw(self, now: float) -> None:
        self._last_draw = now
        started = now if self._started is None else self._started
        line = render_progress(self.label, self.done, self.total, now - started)
        self._stream.write("\r" + line + "\x1b[K")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Draw the final state and end the line (terminals only)."""
        if self.enabled:
            self._draw(self._clock())
            self._stream.write("\n")
            self._stream.flush()

    @property
    def elapsed(self) -> float:
        """Seconds since the first call (0 before it)."""
        return 0.0 if self._started is None else self._clock() - self._started
