"""The progress bar: what one line says, when it draws, and silence off a terminal."""

from __future__ import annotations

import io

from outreach_async.export import ProgressBar
from outreach_async.export._progress import format_duration, render_progress
from tests.clock import FakeClock


def test_render_with_a_known_total_shows_percent_rate_and_eta() -> None:
    line = render_progress("prospects", 4_000, 10_000, 2.0, width=10)
    assert line == "prospects  40% [####......] 4,000/10,000  2,000/s  ETA 0:03"


def test_render_without_a_total_shows_records_and_elapsed() -> None:
    assert render_progress("calls", 1_500, None, 75.0) == "calls  1,500 records  20/s  1:15"


def test_durations() -> None:
    assert [format_duration(s) for s in (0, 59.6, 61, 3723)] == ["0:00", "1:00", "1:01", "1:02:03"]


def test_the_bar_redraws_in_place_at_most_ten_times_a_second() -> None:
    clock, stream = FakeClock(100.0), io.StringIO()
    bar = ProgressBar("prospects", stream=stream, enabled=True, clock=clock)
    bar(10, 100)
    clock.now += 0.05
    bar(20, 100)  # too soon: not drawn
    clock.now += 0.1
    bar(30, 100)
    bar.close()
    frames = stream.getvalue().split("\r")[1:]
    assert len(frames) == 3
    assert "10/100" in frames[0]
    assert "30/100" in frames[1]
    assert frames[2].endswith("\n")


def test_off_a_terminal_the_bar_says_nothing() -> None:
    stream = io.StringIO()  # not a tty
    bar = ProgressBar("prospects", stream=stream, clock=FakeClock(100.0))
    bar(10, 100)
    bar.close()
    assert stream.getvalue() == ""
    assert (bar.done, bar.total) == (10, 100)
