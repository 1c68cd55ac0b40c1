"""Helpers shared by the export tests."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from outreach_async.export._resources import to_millis
from outreach_async.sandbox import Sandbox


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSON Lines file (a torn last line fails the test)."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def ids_of(path: Path) -> Counter[int]:
    """How many times each id appears in a JSON Lines export."""
    return Counter(record["id"] for record in read_jsonl(path))


def stored_ids(sandbox: Sandbox, type_: str = "prospect") -> set[int]:
    return set(sandbox.store.table(type_).records)


def stamp(millis: int) -> str:
    """The API's timestamp text for epoch milliseconds."""
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=millis)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def millis(text: str) -> int:
    """The epoch milliseconds of the API's timestamp text (what :func:`stamp` writes)."""
    return to_millis(dt.datetime.fromisoformat(text))


def set_updated_at(sandbox: Sandbox, ids: list[int], millis: int, type_: str = "prospect") -> None:
    """Give records an exact ``updatedAt`` (the API bumps it; tests need ties and edges)."""
    table = sandbox.store.table(type_)
    for id_ in ids:
        table.replace(table.records[id_], {"updatedAt": stamp(millis)}, {})
