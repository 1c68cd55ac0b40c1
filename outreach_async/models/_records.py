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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

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
            elif data.__class__ is list:
                out[wire] = [_as_id(item.get("id")) for item in data]
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
