"""Records as export lines: a model flattened to one JSON object, or one CSV row. Pure.

The flat record (the JSON Lines format, stable):

    {"type": "prospect", "id": 18, "firstName": "Sally", ..., "account": 3, "tags": [...],
     "sequenceStates": [4, 5]}

- ``type`` and ``id`` first, then the attributes the API carried, by wire (camelCase) name, then
  the relationships: a to-one as the target id (``null`` when unset), a to-many as the list of
  ids when the API carried them (a links-only to-many is left out). Attributes and
  relationships this library does not know yet are kept, relationships as ids too. Keys are
  those of a JSON object: read them by name, not by position (only ``type`` and ``id`` are
  always first).
- Timestamps are written as the API writes them: millisecond UTC, ``2024-07-26T06:27:17.000Z``.

CSV rows have a fixed header from the resource's spec (``id``, the attributes in spec order,
then the relationships, or the ``fields`` asked for): an empty cell is null or absent, lists and
objects are JSON in the cell, booleans are ``true``/``false``. Unknown attributes are not in CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import orjson

from outreach_async import Resource
from outreach_async._wire import format_datetime
from outreach_async.models import RecordFlattener

if TYPE_CHECKING:
    from outreach_async._schema import ResourceSpec

__all__ = ["Format", "RecordEncoder", "csv_columns", "format_time"]

Format = Literal["jsonl", "csv"]

#: a datetime in the API's form: millisecond UTC with ``Z`` (naive means UTC)
format_time = format_datetime


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return format_datetime(value)
    return value


def csv_columns(spec: ResourceSpec, fields: Sequence[str] | None = None) -> list[str]:
    """The CSV header: ``id`` then attributes, then relationships (wire names, spec order)."""
    wanted = None if fields is None else set(fields)
    attributes = [a.wire for a in spec.attributes if wanted is None or a.wire in wanted]
    relationships = [r.wire for r in spec.relationships if wanted is None or r.wire in wanted]
    return ["id", *attributes, *relationships]


class RecordEncoder:
    """Turns models of one resource type into JSON Lines or CSV bytes.

    Records come from the public wire-to-record path (:class:`RecordFlattener`): the export
    flattens the resource objects of each page as the API sent them (``from_wire``, as
    :meth:`encode_wire` does; no model built); :meth:`encode` takes models, a decoded one
    unchanged since flattened as its wire resource.
    """

    def __init__(
        self, spec: ResourceSpec, fields: Sequence[str] | None = None, fmt: Format = "jsonl"
    ) -> None:
        self.type = spec.type
        self.format: Format = fmt
        self.fields = None if fields is None else tuple(fields)
        self.flattener = RecordFlattener(spec, fields)
        self.columns = csv_columns(spec, fields)

    def flatten(self, model: Resource) -> dict[str, Any]:
        """The flat record of one model (see the module docstring)."""
        return self.flattener.from_model(model)

    def header(self) -> bytes:
        """What a new output file starts with (the CSV header; nothing for JSON Lines)."""
        if self.format != "csv":
            return b""
        return _csv_bytes([self.columns])

    def encode(self, models: Sequence[Resource]) -> bytes:
        """The lines of these models, each ending in a newline."""
        if self.format == "csv":
            return _csv_bytes([self.csv_row(self.flatten(m)) for m in models])
        dumps, flat = orjson.dumps, self.flattener.from_model
        return b"".join([dumps(flat(m), option=orjson.OPT_APPEND_NEWLINE) for m in models])

    def encode_wire(self, resources: Sequence[Mapping[str, Any]]) -> bytes:
        """The lines of these resource objects as the API sent them (the export's path:
        :meth:`RecordFlattener.from_wire`, no model built); the same lines :meth:`encode` writes
        for the models decoded from them."""
        return b"".join(self.wire_lines(resources))

    def wire_lines(self, resources: Sequence[Mapping[str, Any]]) -> list[bytes]:
        """:meth:`encode_wire`'s lines one by one, a line per resource object, in order."""
        flat = self.flattener.from_wire
        if self.format == "csv":
            return [_csv_bytes([self.csv_row(flat(r))]) for r in resources]
        dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE  # per record: locals
        return [dumps(flat(r), option=newline) for r in resources]

    def csv_row(self, record: dict[str, Any]) -> list[str]:
        """The cells of one flat record, in :attr:`columns` order."""
        return [_cell(record.get(column)) for column in self.columns]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (list, dict)):
        # orjson writes datetimes itself (``+00:00``, microseconds) unless told to pass them to
        # ``default``: a time nested in a list or object is then spelled as every other cell's
        return orjson.dumps(value, default=_plain, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()
    return str(_plain(value))


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()
