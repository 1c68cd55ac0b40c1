"""The sandbox's in-memory records: one table per resource type, integer ids, server timestamps.

A record is the raw wire-form dict the routes read and write, kept as small as possible so that
100,000 of them seed in seconds and a 1000-record page renders fast::

    {"id": 7, "attributes": {"firstName": "Sally", ...}, "relationships": {"account": 1, ...}}

Attributes are keyed by wire name and hold only what was set (rendering fills the nulls);
datetimes are the API's millisecond ``Z`` strings (:mod:`.times`). A to-one relationship holds
the target id or None; a stored to-many one holds a list of ids. ``createdAt`` and ``updatedAt``
belong to the server (facts §6): set on insert, ``updatedAt`` bumped on every real change.

Indexes are built lazily, on first use, and kept up to date by every write afterwards: reverse
indexes of to-one relationships (``tasks?filter[prospect][id]=18`` and the ``links.related`` of
to-many relationships without a scan) and case-folded value indexes (duplicate emails).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .._schema import ResourceSpec
from .query import Record
from .times import MonotonicClock

__all__ = ["Record", "Store", "Table"]

CREATED_AT, UPDATED_AT = "createdAt", "updatedAt"


class Table:
    """The records of one resource type, by id, with lazily built indexes."""

    def __init__(self, spec: ResourceSpec) -> None:
        self.spec = spec
        self.records: dict[int, Record] = {}
        self.next_id = 1
        self.version = 0
        self.has_created_at = CREATED_AT in spec.attribute_by_wire
        self.has_updated_at = UPDATED_AT in spec.attribute_by_wire
        self._reverse: dict[str, dict[int, set[int]]] = {}
        self._values: dict[str, dict[str, set[int]]] = {}

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records.values())

    # -- indexes ---------------------------------------------------------------------------

    def reverse_index(self, relationship: str) -> dict[int, set[int]]:
        """Target id -> ids of the records whose to-one ``relationship`` points at it."""
        index = self._reverse.get(relationship)
        if index is None:
            index = {}
            for record in self.records.values():
                target = record["relationships"].get(relationship)
                if isinstance(target, int):  # polymorphic values ({"type", "id"}) stay out
                    index.setdefault(target, set()).add(record["id"])
            self._reverse[relationship] = index
        return index

    def value_index(self, wire: str) -> dict[str, set[int]]:
        """Case-folded string value (each element, for arrays) -> ids of the records holding it."""
        index = self._values.get(wire)
        if index is None:
            index = {}
            for record in self.records.values():
                for value in _folded(record["attributes"].get(wire)):
                    index.setdefault(value, set()).add(record["id"])
            self._values[wire] = index
        return index

    def _unindex(self, record: Record) -> None:
        for relationship, index in self._reverse.items():
            target = record["relationships"].get(relationship)
            if isinstance(target, int) and target in index:
                index[target].discard(record["id"])
        for wire, values in self._values.items():
            for value in _folded(record["attributes"].get(wire)):
                values.get(value, set()).discard(record["id"])

    def _index(self, record: Record) -> None:
        for relationship, index in self._reverse.items():
            target = record["relationships"].get(relationship)
            if isinstance(target, int):
                index.setdefault(target, set()).add(record["id"])
        for wire, values in self._values.items():
            for value in _folded(record["attributes"].get(wire)):
                values.setdefault(value, set()).add(record["id"])

    # -- writes ----------------------------------------------------------------------------

    def add(self, record: Record) -> None:
        """Put a complete record in (its id must be free); used by inserts and seeding."""
        self.records[record["id"]] = record
        self.next_id = max(self.next_id, record["id"] + 1)
        if self._reverse or self._values:
            self._index(record)
        self.version += 1

    def replace(
        self, record: Record, attributes: Mapping[str, Any], relationships: Mapping[str, Any]
    ) -> None:
        """Apply changes to a stored record, keeping the indexes right."""
        self._unindex(record)
        record["attributes"].update(attributes)
        record["relationships"].update(relationships)
        self._index(record)
        self.version += 1

    def remove(self, id_: int) -> Record | None:
        """Take a record out; None if there was none."""
        record = self.records.pop(id_, None)
        if record is not None:
            self._unindex(record)
            self.version += 1
        return record


def _changed(current: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The current values of the keys whose value ``new`` changes."""
    return {k: current.get(k) for k, v in new.items() if current.get(k) != v}


def _folded(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.casefold()]
    if isinstance(value, list):
        return [v.casefold() for v in value if isinstance(v, str)]
    return []


class Store:
    """Every table of the sandbox, the server clock, and what tests like to assert on.

    ``invites`` maps the id of each user created through the API to whether Outreach would have
    emailed an invitation (``meta.sendInvite``, common patterns "Invite New Users").
    """

    def __init__(self, specs: Iterable[ResourceSpec], clock: MonotonicClock | None = None) -> None:
        self.tables: dict[str, Table] = {spec.type: Table(spec) for spec in specs}
        self.clock = clock or MonotonicClock()
        self.invites: dict[int, bool] = {}

    @property
    def version(self) -> int:
        """A number that changes whenever any record changes (query caches key on it)."""
        return sum(table.version for table in self.tables.values())

    def table(self, type_: str) -> Table:
        """The table of ``type_`` (KeyError for a type the sandbox does not serve)."""
        return self.tables[type_]

    def get(self, type_: str, id_: int) -> Record | None:
        """One record, or None."""
        table = self.tables.get(type_)
        return None if table is None else table.records.get(id_)

    def count(self, type_: str) -> int:
        """How many records of ``type_`` exist."""
        return len(self.tables[type_])

    def insert(
        self,
        type_: str,
        attributes: Mapping[str, Any] | None = None,
        relationships: Mapping[str, Any] | None = None,
    ) -> Record:
        """Create a record with the next id and server timestamps; returns it."""
        table = self.tables[type_]
        record: Record = {
            "id": table.next_id,
            "attributes": dict(attributes or {}),
            "relationships": dict(relationships or {}),
        }
        now = self.clock.now()
        if table.has_created_at:
            record["attributes"][CREATED_AT] = now
        if table.has_updated_at:
            record["attributes"][UPDATED_AT] = now
        table.add(record)
        return record

    def update(
        self,
        type_: str,
        id_: int,
        attributes: Mapping[str, Any] | None = None,
        relationships: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Change only the given fields; bumps ``updatedAt`` when a value really changed.

        Returns the previous values of what changed, by wire name (empty when nothing did).
        KeyError if there is no such record.
        """
        table = self.tables[type_]
        record = table.records[id_]
        attributes, relationships = dict(attributes or {}), dict(relationships or {})
        before = _changed(record["attributes"], attributes)
        before.update(_changed(record["relationships"], relationships))
        if not before:
            return before
        if table.has_updated_at:
            before.setdefault(UPDATED_AT, record["attributes"].get(UPDATED_AT))
            attributes[UPDATED_AT] = self.clock.now()
        table.replace(record, attributes, relationships)
        return before

    def delete(self, type_: str, id_: int) -> Record | None:
        """Remove a record; returns what it was, or None if it did not exist."""
        return self.tables[type_].remove(id_)

    def referencing(self, type_: str, relationship: str, target_id: int) -> list[int]:
        """Ids of ``type_`` records whose to-one ``relationship`` is ``target_id``, ascending."""
        return sorted(self.tables[type_].reverse_index(relationship).get(target_id, ()))

    def find_by_value(self, type_: str, wire: str, value: str) -> set[int]:
        """Ids of ``type_`` records whose ``wire`` attribute holds ``value`` (case-insensitive)."""
        return set(self.tables[type_].value_index(wire).get(value.casefold(), ()))
