"""Compaction: one line per id in a one-off export's file, the newest version kept.

A one-off export reads a live organisation: a record changed after it was read is read again
later as its new version (a newer ``updatedAt`` moves it ahead in the listing), so the file
holds it twice. Before the file is handed over, :func:`compact` keeps, for each id, the line
with the newest ``updatedAt`` (the last such line on a tie, or when the records carry no
``updatedAt``) and drops the others, in place.

Memory stays bounded for millions of records. Pass one sets one bit per id (``id`` modulo
the bitmap's size, a few MB) and collects the ids whose bit was already set: the duplicates,
plus a few ids that share a bit. Only those candidates are followed by pass two (the offset
and version of their best line, a dict of ints), and pass three, which runs only when a
duplicate exists, moves the kept lines down over the dropped ones and cuts the file's end.
A file without duplicates is read once and left untouched.

JSON Lines: a line's id is read from its start (``{"type":…,"id":N``, as the encoder writes
it), its ``updatedAt`` only for candidates. CSV: a record ends at a newline outside quotes
(RFC 4180 doubles quotes inside a cell, so quote parity tells); the id is the first cell; the
header is kept.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from typing import BinaryIO

import attrs
import orjson

from ._records import Format

__all__ = ["CompactResult", "IdBits", "compact"]

_JSONL_ID = re.compile(rb'\{"type":"[^"]*","id":(\d+)[,}]')
_CSV_ID = re.compile(rb"(\d+)[,\n]")
_UPDATED_AT = "updatedAt"
_MIN_BITS = 1 << 20
_CHUNK = 1 << 20


@attrs.frozen
class CompactResult:
    """What :func:`compact` did."""

    #: records (lines; CSV rows after the header) before
    records: int
    #: older versions dropped
    dropped: int
    #: the file's size afterwards
    size: int


@attrs.define
class _Best:
    count: int
    offset: int
    version: str


def compact(path: str | os.PathLike[str], fmt: Format | None = None) -> CompactResult:
    """Keep one record per id in the file at ``path`` (see the module docstring). ``fmt``
    None: JSON Lines if the file starts with ``{``, else CSV (whose header starts ``id``)."""
    size = os.path.getsize(path)
    if fmt is None:
        fmt = _sniff(path)
    records, candidates = _candidates(path, fmt, _bitmap_bits(size))
    if not candidates:
        return CompactResult(records, 0, size)
    keep = _best_offsets(path, fmt, candidates)
    if not keep:
        return CompactResult(records, 0, size)
    dropped, new_size = _rewrite(path, fmt, keep)
    return CompactResult(records, dropped, new_size)


def _sniff(path: str | os.PathLike[str]) -> Format:
    with open(path, "rb") as file:
        return "jsonl" if file.read(1) in (b"{", b"") else "csv"


def _bitmap_bits(size: int) -> int:
    """A power of two of at least one bit per 16 bytes of file: ids are dense, so few share."""
    bits = _MIN_BITS
    while bits < size // 16:
        bits <<= 1
    return bits


class IdBits:
    """One bit per id (``id`` modulo ``bits``, a power of two): whether an id may have come
    before. Memory is fixed; a "maybe" is an id seen again, or one sharing its bit."""

    def __init__(self, bits: int) -> None:
        self._seen = bytearray(bits // 8)
        self._mask = bits - 1

    def add(self, id_: int) -> bool:
        """Set the id's bit; True when it was set already."""
        slot = id_ & self._mask
        byte, bit = slot >> 3, 1 << (slot & 7)
        if self._seen[byte] & bit:
            return True
        self._seen[byte] |= bit
        return False


def _candidates(path: str | os.PathLike[str], fmt: Format, bits: int) -> tuple[int, set[int]]:
    """Pass one: the number of records and the ids that may appear more than once."""
    seen = IdBits(bits)
    candidates: set[int] = set()
    records = 0
    with open(path, "rb") as file:
        for _offset, data in _records(file, fmt):
            id_ = _id_of(data, fmt)
            if id_ is None:
                continue
            records += 1
            if seen.add(id_):
                candidates.add(id_)
    return records, candidates


def _best_offsets(
    path: str | os.PathLike[str], fmt: Format, candidates: set[int]
) -> dict[int, int]:
    """Pass two: for each id that really appears more than once, the offset of the line kept."""
    best: dict[int, _Best] = {}
    column: int | None = None
    with open(path, "rb") as file:
        for offset, data in _records(file, fmt):
            if fmt == "csv" and offset == 0:
                column = _csv_column(data, _UPDATED_AT)
                continue
            id_ = _id_of(data, fmt)
            if id_ is None or id_ not in candidates:
                continue
            version = _version_of(data, fmt, column)
            found = best.get(id_)
            if found is None:
                best[id_] = _Best(1, offset, version)
                continue
            found.count += 1
            if version >= found.version:  # the newest, and the last of equals
                found.offset, found.version = offset, version
    return {id_: b.offset for id_, b in best.items() if b.count > 1}


def _rewrite(path: str | os.PathLike[str], fmt: Format, keep: dict[int, int]) -> tuple[int, int]:
    """Pass three, in place: move the kept records down over the dropped ones; cut the end.

    The write position never passes the read position (records are only dropped), so one
    file serves as source and target."""
    dropped = 0
    with open(path, "rb") as source, open(path, "r+b") as target:
        pending = bytearray()
        for offset, data in _records(source, fmt):
            id_ = _id_of(data, fmt) if not (fmt == "csv" and offset == 0) else None
            if id_ is not None and keep.get(id_, offset) != offset:
                dropped += 1
                continue
            pending += data
            if len(pending) >= _CHUNK:
                target.write(pending)
                pending.clear()
        target.write(pending)
        target.truncate()
        target.flush()
        os.fsync(target.fileno())
        return dropped, target.tell()


def _records(file: BinaryIO, fmt: Format) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) of each record; a CSV record may span lines inside quotes."""
    offset = 0
    if fmt != "csv":
        for line in file:
            yield offset, line
            offset += len(line)
        return
    parts: list[bytes] = []
    quotes = 0
    for line in file:
        parts.append(line)
        quotes += line.count(b'"')
        if quotes % 2 == 0:
            data = b"".join(parts)
            yield offset, data
            offset += len(data)
            parts, quotes = [], 0
    if parts:  # an unterminated quote: the rest is one record, kept as it is
        yield offset, b"".join(parts)


def _id_of(data: bytes, fmt: Format) -> int | None:
    match = (_CSV_ID if fmt == "csv" else _JSONL_ID).match(data)
    return None if match is None else int(match.group(1))


def _version_of(data: bytes, fmt: Format, column: int | None) -> str:
    """The record's ``updatedAt`` text ("" when it has none): the API's millisecond UTC form
    compares in time order as text."""
    if fmt == "csv":
        if column is None:
            return ""
        row = next(csv.reader(io.StringIO(data.decode())), [])
        return row[column] if column < len(row) else ""
    try:
        value = orjson.loads(data).get(_UPDATED_AT)
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _csv_column(header: bytes, name: str) -> int | None:
    row = next(csv.reader(io.StringIO(header.decode())), [])
    return row.index(name) if name in row else None
