"""Which model a resource name means, which field an export reads in order, and which fields
it writes. Pure: no I/O.

A resource is named by its URL path in snake_case or camelCase (``sequence_states``,
``sequenceStates``) or by its JSON:API type (``sequenceState``).
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from outreach_async import QueryError, Resource, UnknownResourceError
from outreach_async._relationships import as_id
from outreach_async._wire import camel_to_snake
from outreach_async.models import ALL_SPECS, MODELS

if TYPE_CHECKING:
    from outreach_async._schema import ResourceSpec

__all__ = [
    "Cursor",
    "CursorValue",
    "UnknownResourceError",
    "choose_cursor",
    "cursor_bound",
    "from_millis",
    "resolve_fields",
    "resolve_resource",
    "to_millis",
]

#: a position in the order an export reads: epoch milliseconds of the watermark timestamp (the
#: API's precision, facts §10), or the id itself for resources ordered by id. One integer kind
#: keeps comparisons, arithmetic and checkpoints simple.
CursorValue = int

_MISSING: Any = object()
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


def to_millis(moment: dt.datetime) -> int:
    """Epoch milliseconds of a datetime (naive means UTC), rounded down."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return (aware - _EPOCH) // _MS


def from_millis(millis: int) -> dt.datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return _EPOCH + millis * _MS


def _names_of(spec: ResourceSpec) -> set[str]:
    return {spec.path, camel_to_snake(spec.path), spec.type, camel_to_snake(spec.type)}


def resolve_resource(name: str) -> type[Resource]:
    """The model class for ``prospects``, ``sequence_states``, ``sequenceStates`` or
    ``sequenceState``. Raises :class:`UnknownResourceError` (with suggestions) otherwise."""
    wanted = name.strip()
    for type_, spec in ALL_SPECS.items():
        if wanted in _names_of(spec):
            model = MODELS[type_]
            if "list" not in spec.operations:
                raise UnknownResourceError(
                    f"{spec.path} cannot be listed, so it cannot be exported"
                )
            return model
    paths = sorted(camel_to_snake(s.path) for s in ALL_SPECS.values() if "list" in s.operations)
    close = difflib.get_close_matches(camel_to_snake(wanted), paths, n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise UnknownResourceError(f"unknown resource {name!r}{hint} (resources: {', '.join(paths)})")


@attrs.frozen
class Cursor:
    """The field an export reads in ascending order and resumes from.

    The spec's ``watermark`` (``updatedAt``, ``createdAt`` for notes) when the API can sort and
    filter by it; otherwise ``id``, which every resource sorts and filters by (then a re-run
    picks up new records, not changed ones).
    """

    name: str
    wire: str
    kind: Literal["datetime", "integer"]

    @property
    def is_time(self) -> bool:
        return self.kind == "datetime"

    def value_of(self, model: Resource) -> CursorValue | None:
        """The record's position, or None when it has none (null or not carried)."""
        if self.kind == "integer":
            return model.id
        # A model keeps its attributes by wire name, a timestamp as the API's text until it is
        # read (models/_base.py): parsing the text here leaves it text for the record writer,
        # instead of making it convert the datetime that reading the field would leave behind.
        value: Any = vars(model).get(self.wire, _MISSING)
        if value is _MISSING:
            value = getattr(model, self.name, None)
        if value.__class__ is str:
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                return None
        return to_millis(value) if isinstance(value, dt.datetime) else None

    def wire_value_of(self, resource: Mapping[str, Any]) -> CursorValue | None:
        """The position of a resource object as the API sent it (see :meth:`value_of`)."""
        if self.kind == "integer":
            return as_id(resource.get("id"))
        attributes = resource.get("attributes")
        value = attributes.get(self.wire) if attributes else None
        if value.__class__ is not str:
            return None
        try:
            return to_millis(dt.datetime.fromisoformat(value))
        except ValueError:
            return None

    def filter_value(self, value: CursorValue) -> dt.datetime | int:
        """A position as the query builder takes it (a datetime for time cursors)."""
        return from_millis(value) if self.is_time else value

    def display(self, value: CursorValue | None) -> str:
        """A position for people: ISO time or the id."""
        if value is None:
            return "-"
        if not self.is_time:
            return str(value)
        moment = from_millis(value)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


ID_CURSOR = Cursor("id", "id", "integer")


def choose_cursor(spec: ResourceSpec) -> Cursor:
    """The cursor for a resource type (see :class:`Cursor`)."""
    if spec.watermark is not None:
        attribute = spec.attribute(spec.watermark)
        if (
            attribute is not None
            and attribute.kind == "datetime"
            and attribute.sortable
            and attribute.filterable
        ):
            return Cursor(attribute.name, attribute.wire, "datetime")
    return ID_CURSOR


def resolve_fields(spec: ResourceSpec, fields: Sequence[str] | None) -> tuple[str, ...] | None:
    """Wire names for ``fields`` given in either case (None: every field). Unknown names raise
    :class:`QueryError` naming the valid ones."""
    if fields is None:
        return None
    out: list[str] = []
    for name in fields:
        name = name.strip()
        if not name or name in ("id", "type"):
            continue  # always written
        found = spec.attribute(name) or spec.relationship(name)
        if found is None:
            valid = sorted(a.name for a in spec.attributes) + sorted(
                r.name for r in spec.relationships
            )
            raise QueryError(f"{spec.type} has no field {name!r} (fields: {', '.join(valid)})")
        if found.wire not in out:
            out.append(found.wire)
    return tuple(out)


def cursor_bound(value: object, cursor: Cursor, label: str) -> CursorValue | None:
    """A ``since``/``until`` value as a cursor value, cut to whole milliseconds (the API's
    precision, facts §10). Times take a datetime (naive means UTC), a date (its midnight UTC) or
    ISO 8601 text; id cursors take an int. Raises :class:`QueryError` otherwise."""
    if value is None:
        return None
    if not cursor.is_time:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        raise QueryError(
            f"{label}: this resource has no timestamp the API sorts and filters by, so it is "
            f"exported in id order and {label} takes an id, not {value!r}"
        )
    return to_millis(_as_datetime(value, label))


def _as_datetime(value: object, label: str) -> dt.datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                dt.date.fromisoformat(text)
                if len(text) == 10
                else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            )
        except ValueError:
            raise QueryError(
                f"{label}: {text!r} is not an ISO 8601 date or time "
                "(such as 2024-01-31 or 2024-01-31T12:00:00Z)"
            ) from None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    raise QueryError(f"{label} takes a datetime, a date or ISO 8601 text, not {value!r}")
