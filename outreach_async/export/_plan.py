"""Spans (partitions) of an export and their progress: planning and resume state. Pure.

An export reads a collection in ascending order of its cursor (``updatedAt``, or ``id``), split
into spans of cursor values that are streamed concurrently. Each span remembers its
*watermark*, the highest cursor value written so far, and the ids written at exactly that value:
the API's range filter is inclusive at the lower bound (facts §4, §10), so a resumed stream asks
for ``cursor >= watermark`` and skips those ids instead of losing or repeating records that share
the boundary timestamp.

Inner span edges belong to the span above them: a span ``[lo, hi)`` asks the server for
``lo..hi`` (Outreach's upper bound is reported both inclusive and exclusive, facts §4) and drops
records at ``hi`` itself, which the next span writes. The last span is open above (or closed at
the user's ``until``), so records changed during the run land there as new versions.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from outreach_async import QueryError

from ._resources import CursorValue

__all__ = [
    "Base",
    "Density",
    "Share",
    "Span",
    "Verdict",
    "balanced_edges",
    "base_after",
    "parse_share",
    "plan_spans",
    "run_start",
    "split_edges",
]


class Verdict(enum.Enum):
    """What to do with one record of a span's stream."""

    WRITE = "write"
    SKIP = "skip"  # already written (the inclusive boundary) or outside the span
    STOP = "stop"  # past the span's upper edge: the rest of the stream is too


# ---------------------------------------------------------------- one span


@attrs.define
class Span:
    """One partition of cursor values and how far its stream got.

    ``lo`` is inclusive (None: open below); ``hi`` is exclusive unless ``hi_inclusive`` (None:
    open above). ``watermark``/``seen``: every record below ``watermark`` was written, and of
    those at exactly ``watermark`` the ids in ``seen``.
    """

    lo: CursorValue | None
    hi: CursorValue | None
    hi_inclusive: bool = False
    watermark: CursorValue | None = None
    seen: set[int] = attrs.field(factory=set)
    done: bool = False
    #: records this span has written (over every run of it)
    written: int = 0
    #: records that came below the watermark (a server not sorting as asked); written anyway
    out_of_order: int = 0

    @property
    def resume_from(self) -> CursorValue | None:
        """The lower bound of this span's stream when it (re)starts."""
        return self.watermark if self.watermark is not None else self.lo

    def judge(self, value: CursorValue | None, id_: int | None) -> Verdict:
        """Whether to write the record at ``value`` with ``id_``; writing advances the span."""
        if value is None:
            # No cursor value: only an unbounded-below span can hold it; it moves nothing.
            return Verdict.WRITE if self.lo is None and self.watermark is None else Verdict.SKIP
        hi = self.hi
        if hi is not None and (value > hi or (value == hi and not self.hi_inclusive)):
            return Verdict.STOP if value > hi else Verdict.SKIP
        if self.lo is not None and value < self.lo:
            return Verdict.SKIP
        watermark = self.watermark
        if watermark is None or value > watermark:
            self.watermark = value
            self.seen = set() if id_ is None else {id_}
        elif value == watermark:
            if id_ is not None and id_ in self.seen:
                return Verdict.SKIP
            if id_ is not None:
                self.seen.add(id_)
        else:
            self.out_of_order += 1
        return Verdict.WRITE

    def snapshot(self) -> dict[str, Any]:
        """The span as JSON-ready data (for a checkpoint)."""
        return {
            "lo": self.lo,
            "hi": self.hi,
            "hi_inclusive": self.hi_inclusive,
            "watermark": self.watermark,
            "seen": sorted(self.seen),
            "done": self.done,
            "written": self.written,
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> Span:
        """The inverse of :meth:`snapshot`; raises ValueError on malformed data."""
        seen = data.get("seen", [])
        if not isinstance(seen, list) or not all(isinstance(i, int) for i in seen):
            raise ValueError(f"malformed seen ids: {seen!r}")
        return cls(
            lo=_position(data.get("lo")),
            hi=_position(data.get("hi")),
            hi_inclusive=bool(data.get("hi_inclusive", False)),
            watermark=_position(data.get("watermark")),
            seen=set(seen),
            done=bool(data.get("done", False)),
            written=int(data.get("written", 0)),
        )


def _position(value: Any) -> CursorValue | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError(f"not a cursor position: {value!r}")


# ---------------------------------------------------------------- planning


@attrs.frozen
class Base:
    """Where a run starts: the previous run's final watermark and the ids written at it."""

    watermark: CursorValue | None = None
    seen: frozenset[int] = frozenset()


def split_edges(lo: int, hi: int, n: int) -> list[int]:
    """``n + 1`` increasing integer edges from ``lo`` to ``hi`` (fewer if the range is narrower
    than ``n``), splitting it into near-equal widths."""
    if n < 1:
        raise ValueError("n must be at least 1")
    n = max(1, min(n, hi - lo))
    edges = [lo + (hi - lo) * k // n for k in range(n + 1)]
    return sorted(set(edges))


@attrs.frozen
class Density:
    """The records a server counted in widths of a cursor range: ``counts[i]`` in
    ``[edges[i], edges[i + 1])`` (the last width up to ``edges[-1]`` inclusive)."""

    edges: tuple[int, ...]
    counts: tuple[int, ...]


def balanced_edges(bins: Sequence[int], counts: Sequence[int], n: int) -> list[int]:
    """``n + 1`` increasing edges from ``bins[0]`` to ``bins[-1]`` that share the records out
    evenly: ``counts[i]`` records lie in ``[bins[i], bins[i + 1])``, taken as spread evenly
    within it (fewer edges when bins are too narrow to split, equal widths when none counted)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    if len(bins) != len(counts) + 1:
        raise ValueError("one count per bin")
    lo, hi = bins[0], bins[-1]
    total = sum(counts)
    if total <= 0 or any(c < 0 for c in counts):
        return split_edges(lo, hi, n)
    inner: list[int] = []
    below, i = 0, 0  # records in the bins before bin i
    for k in range(1, n):
        target = total * k / n
        while i < len(counts) - 1 and below + counts[i] < target:
            below += counts[i]
            i += 1
        share = (target - below) / counts[i] if counts[i] else 0.0
        inner.append(bins[i] + round((bins[i + 1] - bins[i]) * min(max(share, 0.0), 1.0)))
    return sorted({lo, hi, *(e for e in inner if lo < e < hi)})


def plan_spans(
    *,
    base: Base,
    since: CursorValue | None,
    until: CursorValue | None,
    first: CursorValue | None = None,
    last: CursorValue | None = None,
    count: int = 1,
    density: Density | None = None,
) -> list[Span]:
    """The spans of a new run, from ``max(since, base.watermark)`` up to ``until`` (inclusive)
    or open above.

    ``first``/``last`` are the lowest and highest cursor values present (two cheap queries);
    without them, or with ``count == 1``, the run is one span. Inner edges split
    ``[first, last]`` into ``count`` equal widths (whole milliseconds, or ids), or, given the
    ``density`` (the records the server counted in widths of ``[first, last]``), into ``count``
    near-equal numbers of records; the first span still starts at the start and the last one
    ends at ``until`` or stays open.
    """
    start, seen = run_start(base, since)
    if until is not None and start is not None and until < start:
        raise QueryError(f"until ({until}) is before the start of the export ({start})")
    # Edges split the values present (first..last, found by two queries), not the bounds asked:
    # a sync resuming from last week's watermark has all its changes in the last hours.
    lowest = first if first is not None else start
    highest = last if last is not None else until
    inner: list[int] = []
    if count > 1 and lowest is not None and highest is not None:
        if density is not None:
            inner = balanced_edges(density.edges, density.counts, count)[1:-1]
        else:
            inner = split_edges(lowest, highest, count)[1:-1]
    los: list[CursorValue | None] = [start, *inner]
    his: list[CursorValue | None] = [*inner, until]
    spans = [Span(lo, hi) for lo, hi in zip(los, his, strict=True)]
    spans[-1].hi_inclusive = until is not None
    spans[0].watermark = start
    spans[0].seen = set(seen)
    return spans


def run_start(base: Base, since: CursorValue | None) -> tuple[CursorValue | None, frozenset[int]]:
    """Where a new run starts, and the ids already written there: the later of ``since`` and
    the previous run's watermark."""
    if base.watermark is None or (since is not None and since > base.watermark):
        return since, frozenset()
    return base.watermark, base.seen


def base_after(spans: Sequence[Span]) -> Base:
    """Where the next run starts once every span is done: the highest span's watermark.

    Every span below the last one is closed above, so the last span, open above (or closed at
    ``until``), is the one whose watermark is the furthest point written in order.
    """
    last = spans[-1]
    watermark = last.watermark if last.watermark is not None else last.lo
    seen = frozenset(last.seen) if last.watermark is not None else frozenset()
    return Base(watermark, seen)


# ---------------------------------------------------------------- fleet shares


@attrs.frozen
class Share:
    """``--partition i/N``: this process runs share ``index`` (0-based) of ``total``."""

    index: int
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"

    def picks(self, spans: Iterable[int]) -> list[int]:
        """The span indexes of this share (round robin, so a skewed range spreads evenly)."""
        return [i for i in spans if i % self.total == self.index]


def parse_share(text: str) -> Share:
    """``"2/8"`` -> ``Share(2, 8)``; the index is 0-based. Raises QueryError otherwise."""
    index_text, sep, total_text = text.partition("/")
    try:
        index, total = int(index_text), int(total_text)
    except ValueError:
        index = total = -1
    if not sep or total < 1 or not 0 <= index < total:
        raise QueryError(f"--partition takes i/N with 0 <= i < N (such as 0/4), got {text!r}")
    return Share(index, total)
