"""What mutation testing of ``export/_plan`` showed untested (issue 17): snapshot defaults and
bad positions, boundaries of plans and shares, and where the next run starts."""

from __future__ import annotations

import pytest

from outreach_async import QueryError
from outreach_async.export._plan import (
    Base,
    Span,
    base_after,
    parse_share,
    plan_spans,
    run_start,
    split_edges,
)


def test_a_snapshot_without_optional_fields_reads_as_a_fresh_span() -> None:
    span = Span.from_snapshot({"lo": 5})
    assert (span.lo, span.hi, span.hi_inclusive, span.watermark) == (5, None, False, None)
    assert (span.seen, span.done, span.written) == (set(), False, 0)


@pytest.mark.parametrize("position", ["5", True, 1.5])
def test_a_snapshot_position_must_be_an_int_or_null(position: object) -> None:
    with pytest.raises(ValueError, match=rf"^not a cursor position: {position!r}$"):
        Span.from_snapshot({"lo": position})


def test_a_new_watermark_without_an_id_remembers_no_id() -> None:
    span = Span(None, None)
    span.judge(5, 1)
    span.judge(6, None)
    assert (span.watermark, span.seen) == (6, set())
    assert Span.from_snapshot(span.snapshot()) == span


def test_every_out_of_order_record_is_counted() -> None:
    span = Span(None, None)
    for value in (10, 3, 4):
        span.judge(value, value)
    assert span.out_of_order == 2


def test_split_edges_with_one_part_is_the_two_ends() -> None:
    assert split_edges(0, 10, 1) == [0, 10]
    with pytest.raises(ValueError, match=r"^n must be at least 1$"):
        split_edges(0, 10, 0)


def test_plan_spans_is_one_span_by_default() -> None:
    [span] = plan_spans(base=Base(), since=0, until=100, first=0, last=100)
    assert (span.lo, span.hi, span.hi_inclusive) == (0, 100, True)


def test_a_run_may_start_and_end_at_the_same_value() -> None:
    [span] = plan_spans(base=Base(), since=5, until=5)
    assert (span.lo, span.hi, span.hi_inclusive) == (5, 5, True)


def test_without_first_and_last_the_edges_split_the_bounds_asked() -> None:
    spans = plan_spans(base=Base(), since=0, until=100, count=4)
    assert [(s.lo, s.hi) for s in spans] == [(0, 25), (25, 50), (50, 75), (75, 100)]


def test_an_open_start_is_not_split() -> None:
    [span] = plan_spans(base=Base(), since=None, until=100, count=4)
    assert (span.lo, span.hi) == (None, 100)


def test_a_since_equal_to_the_watermark_keeps_the_ids_written_there() -> None:
    assert run_start(Base(10, frozenset({1})), 10) == (10, frozenset({1}))
    assert run_start(Base(10, frozenset({1})), 11) == (11, frozenset())


def test_the_next_run_starts_at_the_last_span() -> None:
    spans = [Span(None, 10), Span(10, 20), Span(20, None)]
    spans[0].judge(5, 1)
    spans[1].judge(15, 2)
    spans[2].judge(25, 3)
    assert base_after(spans) == Base(25, frozenset({3}))


def test_a_last_span_that_wrote_nothing_starts_the_next_run_at_its_lower_edge() -> None:
    last = Span(20, None, seen={7})
    assert base_after([Span(None, 20), last]) == Base(20, frozenset())


@pytest.mark.parametrize("text", ["0/1", "0/4", "3/4"])
def test_shares_at_the_edges(text: str) -> None:
    assert str(parse_share(text)) == text


@pytest.mark.parametrize("text", ["4/4", "-1/4", "0/0", "1/1"])
def test_shares_out_of_range(text: str) -> None:
    message = rf"^--partition takes i/N with 0 <= i < N \(such as 0/4\), got '{text}'$"
    with pytest.raises(QueryError, match=message):
        parse_share(text)
