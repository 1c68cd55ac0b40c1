"""Spans: the inclusive-boundary de-dup, span edges, planning and fleet shares (pure)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach_async import QueryError
from outreach_async.export._plan import (
    Base,
    Density,
    Share,
    Span,
    Verdict,
    balanced_edges,
    base_after,
    parse_share,
    plan_spans,
    split_edges,
)


def test_a_resumed_span_skips_only_the_ids_already_written_at_its_watermark() -> None:
    span = Span(lo=None, hi=None, watermark=100, seen={1, 2})
    assert span.judge(100, 1) is Verdict.SKIP
    assert span.judge(100, 2) is Verdict.SKIP
    assert span.judge(100, 3) is Verdict.WRITE  # same timestamp, not written yet
    assert span.seen == {1, 2, 3}
    assert span.judge(101, 1) is Verdict.WRITE  # a newer version of record 1
    assert (span.watermark, span.seen) == (101, {1})


def test_an_inner_span_leaves_its_upper_edge_to_the_next_span() -> None:
    span = Span(lo=10, hi=20)
    assert span.judge(10, 1) is Verdict.WRITE
    assert span.judge(19, 2) is Verdict.WRITE
    assert span.judge(20, 3) is Verdict.SKIP  # the next span starts at 20 and writes it
    assert span.judge(21, 4) is Verdict.STOP  # past the edge: the server ignored the bound
    assert span.watermark == 19


def test_the_last_span_keeps_records_at_an_inclusive_until() -> None:
    span = Span(lo=10, hi=20, hi_inclusive=True)
    assert span.judge(20, 3) is Verdict.WRITE
    assert span.judge(21, 4) is Verdict.STOP


def test_records_below_the_lower_edge_are_skipped() -> None:
    span = Span(lo=10, hi=None)
    assert span.judge(9, 1) is Verdict.SKIP
    assert span.watermark is None


def test_records_without_a_cursor_value_belong_to_an_open_first_span_only() -> None:
    assert Span(lo=None, hi=5).judge(None, 1) is Verdict.WRITE
    assert Span(lo=5, hi=None).judge(None, 1) is Verdict.SKIP


def test_out_of_order_records_are_written_and_counted() -> None:
    span = Span(lo=None, hi=None)
    span.judge(50, 1)
    assert span.judge(40, 2) is Verdict.WRITE
    assert span.out_of_order == 1
    assert span.watermark == 50


def test_a_span_round_trips_through_its_snapshot() -> None:
    span = Span(lo=1, hi=9, hi_inclusive=True, watermark=5, seen={3, 4}, done=True, written=7)
    assert Span.from_snapshot(span.snapshot()) == span


def test_a_malformed_snapshot_raises_value_error() -> None:
    with pytest.raises(ValueError, match="cursor position"):
        Span.from_snapshot({"lo": "yesterday"})
    with pytest.raises(ValueError, match="seen"):
        Span.from_snapshot({"seen": ["x"]})


@given(st.integers(-(10**12), 10**12), st.integers(0, 10**9), st.integers(1, 64))
def test_split_edges_cover_the_range_with_increasing_edges(lo: int, width: int, n: int) -> None:
    edges = split_edges(lo, lo + width, n)
    assert edges[0] == lo
    assert edges[-1] == lo + width
    assert all(a < b for a, b in itertools.pairwise(edges)) or width == 0
    assert len(edges) - 1 <= max(1, n)
    if width >= n:
        assert len(edges) == n + 1
        sizes = [b - a for a, b in itertools.pairwise(edges)]
        assert max(sizes) - min(sizes) <= 1


def test_balanced_edges_give_each_span_an_equal_share_of_the_counted_records() -> None:
    # 10 records in each of the first three widths, 270 in the last: equal widths would give
    # the last span 270 of 300; shares of 75 put three edges inside the crowded width.
    edges = balanced_edges([0, 100, 200, 300, 400], [10, 10, 10, 270], 4)
    assert edges == [0, 317, 344, 372, 400]
    # Records spread evenly within each width, as the estimate assumes: 75 per span, give or
    # take the 2.7 records of the crowded width that share one cursor value with an edge.
    counts = [10, 10, 10, 270]
    places = [w * 100 + (k * 100) // n for w, n in enumerate(counts) for k in range(n)]
    shares = [sum(lo <= p < hi for p in places) for lo, hi in itertools.pairwise(edges)]
    assert all(abs(share - 75) <= 3 for share in shares), shares


def test_balanced_edges_fall_back_to_equal_widths_without_records() -> None:
    assert balanced_edges([0, 50, 100], [0, 0], 4) == split_edges(0, 100, 4)
    assert balanced_edges([0, 50, 100], [7, 7], 2) == [0, 50, 100]


def test_balanced_edges_reject_counts_that_do_not_match_the_bins() -> None:
    with pytest.raises(ValueError, match="one count per bin"):
        balanced_edges([0, 50, 100], [1], 2)
    with pytest.raises(ValueError, match="at least 1"):
        balanced_edges([0, 100], [1], 0)


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=12), st.integers(1, 50), st.data())
def test_balanced_edges_are_increasing_and_cover_the_bins(
    counts: list[int], n: int, data: st.DataObject
) -> None:
    widths = data.draw(st.lists(st.integers(1, 10**6), min_size=len(counts), max_size=len(counts)))
    bins = list(itertools.accumulate(widths, initial=data.draw(st.integers(-(10**9), 10**9))))
    edges = balanced_edges(bins, counts, n)
    assert (edges[0], edges[-1]) == (bins[0], bins[-1])
    assert all(a < b for a, b in itertools.pairwise(edges))
    assert len(edges) - 1 <= n


def test_plan_splits_by_the_counted_density_when_given() -> None:
    # first..last = 0..400 counted in four widths of 100: most records in the top width
    spans = plan_spans(
        base=Base(),
        since=None,
        until=None,
        first=0,
        last=400,
        count=4,
        density=Density((0, 100, 200, 300, 400), (10, 10, 10, 270)),
    )
    assert [(s.lo, s.hi) for s in spans] == [(None, 317), (317, 344), (344, 372), (372, None)]


def test_plan_splits_the_found_range_and_leaves_the_last_span_open() -> None:
    spans = plan_spans(base=Base(), since=None, until=None, first=0, last=100, count=4)
    assert [(s.lo, s.hi) for s in spans] == [(None, 25), (25, 50), (50, 75), (75, None)]
    assert not spans[-1].hi_inclusive


def test_plan_starts_at_since_and_closes_at_until_inclusive() -> None:
    spans = plan_spans(base=Base(), since=10, until=30, first=12, last=29, count=2)
    assert [(s.lo, s.hi) for s in spans] == [(10, 20), (20, 30)]
    assert spans[-1].hi_inclusive
    assert spans[0].watermark == 10


def test_plan_continues_from_the_previous_run_with_its_boundary_ids() -> None:
    base = Base(watermark=500, seen=frozenset({7, 8}))
    (span,) = plan_spans(base=base, since=100, until=None)
    assert (span.lo, span.watermark, span.seen) == (500, 500, {7, 8})
    (later,) = plan_spans(base=base, since=900, until=None)
    assert (later.lo, later.seen) == (900, set())  # a later since wins, and forgets the ids


def test_plan_rejects_an_until_before_the_start() -> None:
    with pytest.raises(QueryError, match="before the start"):
        plan_spans(base=Base(watermark=50), since=None, until=10)


def test_a_narrow_range_gives_fewer_spans() -> None:
    spans = plan_spans(base=Base(), since=None, until=None, first=5, last=7, count=8)
    assert [(s.lo, s.hi) for s in spans] == [(None, 6), (6, None)]


def test_the_next_run_starts_at_the_last_spans_watermark() -> None:
    spans = [Span(lo=None, hi=50, watermark=49, seen={1}), Span(lo=50, hi=None, watermark=80)]
    spans[1].seen = {4, 5}
    assert base_after(spans) == Base(80, frozenset({4, 5}))
    empty_last = [Span(lo=None, hi=50, watermark=49), Span(lo=50, hi=None)]
    assert base_after(empty_last) == Base(50, frozenset())


def test_parse_share_and_round_robin_picks() -> None:
    share = parse_share("1/3")
    assert share == Share(1, 3)
    assert share.picks(range(8)) == [1, 4, 7]
    assert str(share) == "1/3"


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "0/0", "1/"])
def test_parse_share_rejects_bad_text(text: str) -> None:
    with pytest.raises(QueryError, match="0 <= i < N"):
        parse_share(text)
