"""Flat records: a JSON:API resource (or a model) as one flat JSON object. Pure; the export's path.

The flat record:

    {"type": "prospect", "id": 18, "firstName": "Sally", ..., "account": 3, "tags": [...],
     "sequenceStates": [4, 5]}

- ``type`` and ``id`` first, then the attributes by wire (camelCase) name, then the
  relationships: a to-one as the target id (``null`` when unset), a to-many as the list of ids
  when the resource carried them (a links-only to-many is left out). Attributes and
  relationships this library does not know yet are kept, relationships as ids too. Read keys by
  name, not by position (only ``type`` and ``id`` are always first).
- Timestamps as the API writes them: millisecond UTC, ``2024-07-26T06:27:17.000Z``.

:meth:`RecordFlattener.from_wire` takes the resource object as the API sent it;
:meth:`RecordFlattener.from_model` takes a model. A model decoded from a response and not
changed since *is* its wire resource (the storage contract in :mod:`._base`), so it takes the
same path at the same cost: one C-level copy of the attributes object per record.
:meth:`RecordFlattener.wire_line` makes the JSON line of a resource object read by simdjson (the
export's path) from the minified bytes of its attributes, with no Python object per value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from .._jsonapi import SIMDJSON_OBJECT
from .._relationships import ToMany, ToOne
from .._types import UNSET
from .._wire import format_datetime
from ._base import Resource
from ._storage import (
    DECODED_KEY,
    RAW_RELATIONSHIPS_KEY,
    RESERVED_KEYS,
    SNAPSHOT_KEY,
    subclass_fields,
)
from ._tracking import relationship_value

if TYPE_CHECKING:
    from .._schema import ResourceSpec

__all__ = ["RecordFlattener"]

_MISSING: Any = object()

#: a record with more keys than this is copied whole and pruned, a smaller one picked key by key
_COPY_ALL_ABOVE = 64


class RecordFlattener:
    """Resources of one type (wire objects or models) to flat records, optionally only the
    ``fields`` named (wire names)."""

    def __init__(self, spec: ResourceSpec, fields: Sequence[str] | None = None) -> None:
        wanted = None if fields is None else set(fields)
        self.spec = spec
        self.type = spec.type
        self._attributes = [a for a in spec.attributes if wanted is None or a.wire in wanted]
        self._relationships = [r for r in spec.relationships if wanted is None or r.wire in wanted]
        self._attribute_wires = frozenset(a.wire for a in self._attributes)
        self._relationship_wires = frozenset(r.wire for r in self._relationships)
        self._all = wanted is None
        # what a decoded model's storage holds beside attributes: reserved keys, and handles
        # cached under relationship names once read
        self._reserved = tuple(RESERVED_KEYS - self._attribute_wires - {"id"})
        self._handle_names = frozenset(r.name for r in spec.relationships) - self._attribute_wires
        self._line_start = b'{"type":' + orjson.dumps(self.type) + b',"id":'

    # -------------------------------------------------------------- wire resources

    def from_wire(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        """The flat record of one JSON:API resource object (``type``, ``id``, ``attributes``,
        ``relationships``)."""
        # Per record, so written for speed: the attributes are copied in C, and with ``fields``
        # the few the server sent beyond them (the cursor the export asks for) deleted after.
        id_ = resource.get("id")
        if id_.__class__ is not int:
            id_ = _as_id(id_)
        out: dict[str, Any] = {"type": self.type, "id": id_}
        attributes = resource.get("attributes")
        if attributes:
            wanted = self._attribute_wires
            if self._all or wanted.issuperset(attributes):
                out.update(attributes)
            else:
                unwanted = attributes.keys() - wanted
                if unwanted.isdisjoint(("type", "id")):
                    out.update(attributes)
                    for key in unwanted:
                        del out[key]
                else:  # an attribute named like type or id: never in place of them
                    out.update({k: v for k, v in attributes.items() if k in wanted})
            out["type"], out["id"] = self.type, id_
        relationships = resource.get("relationships")
        if relationships:
            self._add_relationships(relationships, out)
        return out

    def wire_line(self, resource: Any) -> bytes | None:
        """The JSON line (newline-ended) of one resource object as a ``simdjson.Object`` proxy
        (see ``Repository.list_raw_pages``): the record :meth:`from_wire` makes, the attributes
        written as simdjson minifies them (the same JSON, spelled as simdjson spells it). None
        when only :meth:`from_wire` makes it exactly (``fields`` given, an id that is not an
        integer, attributes that may hold a key ``type`` or ``id`` or the name of a
        relationship the spec does not know, a shape other than objects): then flatten
        ``resource.as_dict()``.

        An attribute named like a relationship of the spec is not looked for (a search per
        relationship would cost more than the rest of the line): JSON:API rules it out
        (attributes and relationships share one namespace). Were a server to send one, its line
        would carry the key twice, the relationship's value last, which JSON parsers that keep
        the last value (orjson, ``json``, jq, JavaScript) read as :meth:`from_wire` writes it."""
        # Per record, so written for speed: the attributes are never turned into Python objects.
        id_ = resource.get("id")
        if not self._all or id_.__class__ is not int:
            return None
        attributes = resource.get("attributes")
        if attributes is None:
            inner = b""
        elif attributes.__class__ is SIMDJSON_OBJECT:
            inner = attributes.mini[1:-1]  # bytes, whatever simdjson's stub says
            # a key is spelled "name": in the minified text; the search may also hit a nested
            # key or a string's text, which only sends the record the slow way
            if b'"type":' in inner or b'"id":' in inner:
                return None
        else:
            return None
        parts: list[bytes] = [self._line_start, b"%d" % id_]
        if inner:
            parts += (b",", inner)
        relationships = resource.get("relationships")
        if relationships is not None:
            if relationships.__class__ is not SIMDJSON_OBJECT:
                return None
            ids: dict[str, Any] = {}
            # simdjson's own objects from its parsed page: cheaper than minifying them for orjson
            self._add_relationships(relationships.as_dict(), ids)
            if ids:
                if "type" in ids or "id" in ids:
                    return None
                if inner and not self._named_apart(inner, ids):
                    return None
                parts += (b",", orjson.dumps(ids)[1:-1])
        parts.append(b"}\n")
        return b"".join(parts)

    def _named_apart(self, attributes: bytes, relationships: Mapping[str, Any]) -> bool:
        """Whether no key of the minified ``attributes`` is named like a relationship this
        flattener does not know (JSON:API's common namespace rules out the known ones: see
        :meth:`wire_line`)."""
        known = self._relationship_wires
        for wire in relationships:
            if wire not in known:
                needle = orjson.dumps(wire) + b":"
                if b"\\" in needle or needle in attributes:  # escaped: simdjson may differ
                    return False
        return True

    def _add_relationships(self, raw: Mapping[str, Any], out: dict[str, Any]) -> None:
        # Per record and per relationship, so written for speed: the common cases (a to-one
        # with an integer id, null) first, with no call.
        wanted = None if self._all else self._relationship_wires  # all: unknown ones as ids too
        for wire, relationship in raw.items():
            if wanted is not None and wire not in wanted:
                continue
            data = relationship.get("data", _MISSING)
            if data.__class__ is dict:
                id_ = data.get("id")
                out[wire] = id_ if id_.__class__ is int else _as_id(id_)
            elif data is None:
                out[wire] = None
            elif data.__class__ is list:  # often empty: then no comprehension's frame
                out[wire] = [_as_id(item.get("id")) for item in data] if data else []
            elif data is not _MISSING:  # missing: links or meta only, the ids are not known
                out[wire] = _as_id(data.get("id"))

    # -------------------------------------------------------------- models

    def from_model(self, model: Resource) -> dict[str, Any]:
        """The flat record of one model: what it holds now (changes included)."""
        values = model.__dict__
        if values.get(DECODED_KEY) is True and SNAPSHOT_KEY not in values:
            out = self._from_storage(values, type(model))
        else:
            out = self._from_fields(values)
        if self._all and model.extra:
            _add_extra(model.extra, out)
        return out

    def _from_storage(self, values: dict[str, Any], cls: type[Resource]) -> dict[str, Any]:
        # A decoded, unchanged model: its storage is the resource's attributes object (values
        # in wire form, see the storage contract) plus reserved keys and cached handles.
        out: dict[str, Any] = {"type": self.type, "id": values.get("id")}
        if self._all and len(values) > _COPY_ALL_ABOVE:
            out.update(values)  # in C, then drop the few keys that are not attributes
            for key in self._reserved:
                out.pop(key, None)
            if not self._handle_names.isdisjoint(values):  # handles someone read
                for key in self._handle_names:
                    out.pop(key, None)
            for key in _own_keys(cls):
                out.pop(key, None)
        else:
            wanted = self._attribute_wires
            out.update({k: v for k, v in values.items() if k in wanted})
        raw = values.get(RAW_RELATIONSHIPS_KEY)
        if raw:
            self._add_relationships(raw, out)
        return out

    def _from_fields(self, values: dict[str, Any]) -> dict[str, Any]:
        # A model built by hand or changed since decoding: field by field, from the storage.
        out: dict[str, Any] = {"type": self.type, "id": values.get("id")}
        for attribute in self._attributes:
            value = values.get(attribute.wire, UNSET)
            if value is not UNSET:
                out[attribute.wire] = wire_time(value)
        for rel in self._relationships:
            known, ids = handle_ids(relationship_value(values, rel))
            if known:
                out[rel.wire] = ids
        return out


def _own_keys(cls: type[Resource]) -> tuple[str, ...]:
    # a user subclass's own fields live in the storage too; they are not wire attributes
    return tuple(f.name for f in subclass_fields(cls))


def _as_id(value: Any) -> Any:
    """An id as the record writes it (Outreach's are JSON numbers; a string one is read)."""
    if value.__class__ is int or value is None:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def handle_ids(handle: Any) -> tuple[bool, Any]:
    """(known, value) of a relationship handle: an id, a list of ids, or nothing known."""
    if isinstance(handle, ToMany):
        return (handle.ids is not None, handle.ids)
    if isinstance(handle, ToOne):
        return (handle.id is not None or handle.is_null, handle.id)
    return (False, None)


def _add_extra(extra: dict[str, Any], out: dict[str, Any]) -> None:
    for wire, value in extra.items():
        if isinstance(value, (ToOne, ToMany)):
            known, ids = handle_ids(value)
            if known:
                out.setdefault(wire, ids)
        else:
            out.setdefault(wire, value)


def wire_time(value: Any) -> Any:
    """A value in its wire form: datetimes and dates as the API writes them, the rest as is."""
    if isinstance(value, (dt.datetime, dt.date)):
        return format_datetime(value)
    return value
