"""``sort`` parameters and the orders they ask for, pure (outreach-api-facts.md §4).

``sort=-a,b`` on sortable attributes (and ``id``); ``rel.attr`` was deprecated in May 2023 and is
refused. Ties break on ascending id, which makes every order total, as keyset cursors need. Nulls
sort last ascending and first descending (Postgres' default), so descending is exactly ascending
reversed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from .._schema import ResourceSpec
from .errors import bad_parameter
from .query import Record, attribute_spec

__all__ = ["SortKey", "order_records", "parse_sort", "sort_values"]


@attrs.frozen
class SortKey:
    """One ``sort`` key: a wire attribute name (or ``id``) and its direction."""

    wire: str
    descending: bool = False


def parse_sort(value: str | None, spec: ResourceSpec) -> tuple[SortKey, ...]:
    """``sort=-a,b`` as keys; 400 for relationship paths, unknown or unsortable attributes."""
    if value is None or value == "":
        return ()
    keys: list[SortKey] = []
    for part in value.split(","):
        descending = part.startswith("-")
        name = part[1:] if descending else part
        if "." in name:
            raise bad_parameter(
                "sortParameter.relationshipSort",
                "sort",
                f"Sorting by a relationship's attribute ('{name}') is not supported.",
            )
        attribute = attribute_spec(spec, name)
        if attribute is None:
            raise bad_parameter(
                "sortParameter.unknownAttribute",
                "sort",
                f"'{name}' is not an attribute of '{spec.type}'.",
            )
        if not attribute.sortable:
            raise bad_parameter(
                "sortParameter.unsortableAttribute",
                "sort",
                f"'{name}' is not a sortable attribute of '{spec.type}'.",
            )
        keys.append(SortKey(attribute.wire, descending))
    return tuple(keys)


def _getter(wire: str) -> Callable[[Record], Any]:
    if wire == "id":
        return lambda record: record["id"]
    return lambda record: record["attributes"].get(wire)


def sort_values(record: Record, keys: Sequence[SortKey]) -> list[Any]:
    """The values of ``record`` that ``keys`` sort on (what a cursor stores)."""
    return [_getter(k.wire)(record) for k in keys]


def _null_last_key(getter: Callable[[Record], Any]) -> Callable[[Record], tuple[bool, Any]]:
    def key(record: Record) -> tuple[bool, Any]:
        value = getter(record)
        return (value is None, value)

    return key


def _tolerant_key(getter: Callable[[Record], Any]) -> Callable[[Record], tuple[bool, str, Any]]:
    # Only for an attribute holding values of mixed types (writes check kinds, so this is a
    # guard): values order by type name first, so the sort still ends with a total order.
    def key(record: Record) -> tuple[bool, str, Any]:
        value = getter(record)
        return (value is None, type(value).__name__, value)

    return key


def order_records(records: Iterable[Record], keys: Sequence[SortKey]) -> list[Record]:
    """``records`` in the order ``keys`` ask for, ties broken on ascending id."""
    rows = sorted(records, key=lambda record: record["id"])
    for sort_key in reversed(keys):
        if sort_key.wire == "id":
            rows.sort(key=lambda record: record["id"], reverse=sort_key.descending)
            continue
        getter = _getter(sort_key.wire)
        try:
            rows.sort(key=_null_last_key(getter), reverse=sort_key.descending)
        except TypeError:
            rows.sort(key=_tolerant_key(getter), reverse=sort_key.descending)
    return rows
