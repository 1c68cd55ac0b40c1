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
import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import orjson

from outreach_async import UNSET, Resource, ToMany, ToOne

if TYPE_CHECKING:
    from outreach_async._schema import ResourceSpec

__all__ = ["Format", "RecordEncoder", "csv_columns", "format_time"]

Format = Literal["jsonl", "csv"]

_UTC = dt.UTC
_DATETIME, _DATE = dt.datetime, dt.date
_MISSING: Any = object()
#: a record with more keys than this is copied whole and pruned, a smaller one picked key by key
_COPY_ALL_ABOVE = 64

# The fast path. models/_base.py documents how a decoded model stores itself: its __dict__ *is*
# the resource's ``attributes`` object (wire names; a datetime is converted in place once read)
# plus a few reserved keys, with the raw ``relationships`` object kept under a named key until a
# handle is asked for. Reading that storage instead of every field through its descriptor
# (about 250 descriptor calls and 20 handle objects per prospect) halves the cost of
# flattening, the hottest loop of an export. The layout is not public API, so: it is used only
# for decoded models nobody changed, everything else takes the public path, and
# tests/export/test_records.py checks on decoded sandbox records that both paths agree.
try:
    from outreach_async.models import _base as _storage

    _DECODED_KEY: str | None = _storage.DECODED_KEY
    _SNAPSHOT_KEY: str = _storage.SNAPSHOT_KEY
    _RELATIONSHIPS_KEY: str = _storage.RAW_RELATIONSHIPS_KEY
    _RESERVED_KEYS: frozenset[str] = frozenset(_storage.RESERVED_KEYS)
except (ImportError, AttributeError):  # pragma: no cover - the layout moved: public path only
    _DECODED_KEY, _SNAPSHOT_KEY, _RELATIONSHIPS_KEY = None, "", ""
    _RESERVED_KEYS = frozenset()


def format_time(value: dt.datetime) -> str:
    """A datetime in the API's form: millisecond UTC with ``Z`` (naive means UTC)."""
    utc = value.astimezone(_UTC) if value.tzinfo is not None else value
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _id(data: Any) -> Any:
    """The id of a resource identifier (Outreach's are JSON numbers; a string one is read)."""
    value = data.get("id")
    if value.__class__ is int or value is None:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _relationship_value(handle: Any) -> tuple[bool, Any]:
    """(known, value) of a relationship handle: an id, a list of ids, or nothing known."""
    if isinstance(handle, ToMany):
        return (handle.ids is not None, handle.ids)
    if isinstance(handle, ToOne):
        return (handle.id is not None or handle.is_null, handle.id)
    return (False, None)


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """A function returning the named attributes of an object as a tuple (of any length)."""
    if not names:
        return lambda _obj: ()
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda obj: (one(obj),)
    return operator.attrgetter(*names)


def csv_columns(spec: ResourceSpec, fields: Sequence[str] | None = None) -> list[str]:
    """The CSV header: ``id`` then attributes, then relationships (wire names, spec order)."""
    wanted = None if fields is None else set(fields)
    attributes = [a.wire for a in spec.attributes if wanted is None or a.wire in wanted]
    relationships = [r.wire for r in spec.relationships if wanted is None or r.wire in wanted]
    return ["id", *attributes, *relationships]


class RecordEncoder:
    """Turns models of one resource type into JSON Lines or CSV bytes."""

    def __init__(
        self, spec: ResourceSpec, fields: Sequence[str] | None = None, fmt: Format = "jsonl"
    ) -> None:
        wanted = None if fields is None else set(fields)
        self.type = spec.type
        self.format: Format = fmt
        attributes = [a for a in spec.attributes if wanted is None or a.wire in wanted]
        relationships = [r for r in spec.relationships if wanted is None or r.wire in wanted]
        # One attrgetter call per record reads every field in C; the loop then only skips the
        # UNSET ones and formats times. (The hot path of every export: keep it lean.)
        self._get_attributes = _getter([a.name for a in attributes])
        self._attributes = [(a.wire, a.kind in ("datetime", "date")) for a in attributes]
        self._attribute_wires = frozenset(a.wire for a in attributes)
        self._time_wires = [a.wire for a in attributes if a.kind in ("datetime", "date")]
        self._relationship_wires = frozenset(r.wire for r in relationships)
        self._all_attributes = wanted is None
        # what a decoded model's storage holds beside attributes: reserved keys, and handles
        # cached under relationship names once read
        self._reserved = tuple(_RESERVED_KEYS - self._attribute_wires - {"id"})
        self._handle_names = frozenset(r.name for r in spec.relationships) - self._attribute_wires
        self._get_relationships = _getter([r.name for r in relationships])
        self._relationships = [r.wire for r in relationships]
        self._keep_extra = wanted is None
        self.columns = csv_columns(spec, fields)

    def flatten(self, model: Resource) -> dict[str, Any]:
        """The flat record of one model (see the module docstring)."""
        values = vars(model)
        if (
            _DECODED_KEY is not None
            and values.get(_DECODED_KEY) is True
            and _SNAPSHOT_KEY not in values
        ):
            out = self._flatten_stored(values)
        else:
            out = self._flatten_public(model)
        if self._keep_extra and model.extra:
            self._add_extra(model.extra, out)
        return out

    def _flatten_public(self, model: Resource) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "id": model.id}
        unset = UNSET
        for (wire, is_time), value in zip(
            self._attributes, self._get_attributes(model), strict=True
        ):
            if value is unset:
                continue
            out[wire] = _plain(value) if is_time and value is not None else value
        for wire, handle in zip(self._relationships, self._get_relationships(model), strict=True):
            known, ids = _relationship_value(handle)
            if known:
                out[wire] = ids
        return out

    def _flatten_stored(self, values: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "id": values.get("id")}
        if self._all_attributes and len(values) > _COPY_ALL_ABOVE:
            # many attributes: copy them all (in C), then drop the few keys that are not
            out.update(values)
            for key in self._reserved:
                out.pop(key, None)
            if not self._handle_names.isdisjoint(values):  # handles someone read
                for key in self._handle_names:
                    out.pop(key, None)
        else:
            wanted = self._attribute_wires
            out.update({k: v for k, v in values.items() if k in wanted})
        for wire in self._time_wires:  # times still text, unless something read them
            value = out.get(wire)
            if value is not None and value.__class__ is not str:
                out[wire] = _plain(value)
        raw = values.get(_RELATIONSHIPS_KEY)
        if raw:
            self._add_relationships(raw, out)
        return out

    def _add_relationships(self, raw: dict[str, Any], out: dict[str, Any]) -> None:
        wanted = self._relationship_wires
        for wire, relationship in raw.items():
            if wire not in wanted:
                continue
            data = relationship.get("data", _MISSING)
            if data is _MISSING:
                continue  # links or meta only: the ids are not known
            if data is None:
                out[wire] = None
            elif data.__class__ is list:
                out[wire] = [_id(item) for item in data]
            else:
                out[wire] = _id(data)

    @staticmethod
    def _add_extra(extra: dict[str, Any], out: dict[str, Any]) -> None:
        for wire, value in extra.items():
            if isinstance(value, (ToOne, ToMany)):
                known, ids = _relationship_value(value)
                if known:
                    out.setdefault(wire, ids)
            else:
                out.setdefault(wire, value)

    def header(self) -> bytes:
        """What a new output file starts with (the CSV header; nothing for JSON Lines)."""
        if self.format != "csv":
            return b""
        return _csv_bytes([self.columns])

    def encode(self, models: Sequence[Resource]) -> bytes:
        """The lines of these models, each ending in a newline."""
        if self.format == "csv":
            return _csv_bytes([self.csv_row(self.flatten(m)) for m in models])
        dumps = orjson.dumps
        return b"".join([dumps(self.flatten(m), option=orjson.OPT_APPEND_NEWLINE) for m in models])

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
        return orjson.dumps(value, default=_plain).decode()
    return str(_plain(value))


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()
