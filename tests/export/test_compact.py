"""Compaction of a one-off export's file: one line per id, the newest version, in place."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach_async.export._compact import _MIN_BITS, IdBits, compact


def jsonl_line(id_: int, updated: str, **extra: object) -> bytes:
    record = {"type": "prospect", "id": id_, "updatedAt": updated, **extra}
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


def stamp(second: int) -> str:
    return f"2024-01-01T00:00:{second:02d}.000Z"


def expected(lines: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """What compaction keeps: per id, the line with the newest version (the last of equals),
    in file order."""
    best: dict[int, int] = {}
    for position, (id_, version) in enumerate(lines):
        if id_ not in best or version >= lines[best[id_]][1]:
            best[id_] = position
    return [line for position, line in enumerate(lines) if best[line[0]] == position]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 40), st.integers(0, 9)),
        max_size=80,
    )
)
def test_keeps_the_newest_line_of_each_id_in_file_order(lines: list[tuple[int, int]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.jsonl"
        path.write_bytes(
            b"".join(jsonl_line(i, stamp(v), line=n) for n, (i, v) in enumerate(lines))
        )
        result = compact(path)
        kept = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [(r["id"], int(r["updatedAt"][17:19])) for r in kept] == expected(lines)
    assert result.records == len(lines)
    assert result.dropped == len(lines) - len(kept)


def test_the_last_line_wins_a_tie_and_records_without_updated_at(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    rows = [{"type": "user", "id": 1, "name": n} for n in ("old", "new")]
    path.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows))
    compact(path)
    assert [orjson.loads(line)["name"] for line in path.read_bytes().splitlines()] == ["new"]


def test_a_file_without_duplicates_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    # ids one bitmap apart share a bit: candidates, but not duplicates
    content = (
        jsonl_line(5, stamp(1)) + jsonl_line(5 + _MIN_BITS, stamp(2)) + jsonl_line(6, stamp(3))
    )
    path.write_bytes(content)
    before = path.stat().st_mtime_ns
    result = compact(path)
    assert path.read_bytes() == content
    assert path.stat().st_mtime_ns == before
    assert (result.records, result.dropped, result.size) == (3, 0, len(content))


def test_csv_records_spanning_lines_and_the_header_are_kept_whole(tmp_path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(
        [
            ["id", "title", "updatedAt"],
            ["1", 'line one\nline "two"', stamp(1)],
            ["2", "b", stamp(1)],
            ["1", "newer,\n\nmultiline", stamp(5)],
            ["2", "older", stamp(0)],
        ]
    )
    path = tmp_path / "out.csv"
    path.write_text(buffer.getvalue())
    result = compact(path)  # the format from the file's first byte
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows == [
        ["id", "title", "updatedAt"],
        ["2", "b", stamp(1)],
        ["1", "newer,\n\nmultiline", stamp(5)],
    ]
    assert (result.records, result.dropped) == (4, 2)


def test_id_bits_say_maybe_for_an_id_seen_before_or_one_sharing_its_bit() -> None:
    bits = IdBits(1 << 10)
    assert [bits.add(i) for i in (5, 6, 5)] == [False, False, True]
    assert bits.add(5 + (1 << 10))  # shares 5's bit: a maybe, never a miss
    assert not bits.add(7)
