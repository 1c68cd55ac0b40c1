"""The progress bars (tqdm): what they show, one per partition, and silence off a terminal."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from outreach_async import OutreachClient
from outreach_async.export import PartitionProgress, ProgressBar, export_resource
from outreach_async.sandbox import Sandbox


def frames(stream: io.StringIO) -> str:
    """What a terminal would have been sent, escape sequences dropped."""
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", stream.getvalue())


def test_the_bar_shows_records_of_the_total_and_a_rate() -> None:
    stream = io.StringIO()
    bar = ProgressBar("prospects", stream=stream, enabled=True)
    bar(4_000, 10_000)
    bar.close()
    shown = frames(stream)
    assert "prospects" in shown
    assert "40%" in shown
    assert "4000/10000" in shown
    assert "records/s" in shown
    assert (bar.done, bar.total) == (4_000, 10_000)


def test_a_note_shows_on_the_main_bar() -> None:
    stream = io.StringIO()
    bar = ProgressBar("prospects", stream=stream, enabled=True)
    bar(10, None)
    bar.note("retry 1 in 0.4 s: ConnectError")
    bar.close()
    assert "retry 1 in 0.4 s: ConnectError" in frames(stream)


def test_off_a_terminal_the_bar_says_nothing() -> None:
    stream = io.StringIO()  # not a tty
    bar = ProgressBar("prospects", stream=stream)
    bar(10, 100)
    bar.partition(0, 5, 50)
    bar.note("retry")
    bar.close()
    assert stream.getvalue() == ""
    assert (bar.done, bar.total) == (10, 100)


@pytest.mark.outreach_sandbox(seed=400)
async def test_a_partitioned_export_draws_one_bar_per_partition(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    stream = io.StringIO()
    bar = ProgressBar("prospects", stream=stream, enabled=True)
    assert isinstance(bar, PartitionProgress)
    async with OutreachClient(outreach_sandbox.token, base_url=outreach_sandbox.base_url) as client:
        result = await export_resource(
            client, "prospects", tmp_path / "p.jsonl", partitions=2, page_size=50, progress=bar
        )
    bar.close()
    shown = frames(stream)
    assert "partition 1" in shown
    assert "partition 2" in shown
    assert bar.done == result.records == 400
    assert bar.total == 400  # the server's count, asked in the background
