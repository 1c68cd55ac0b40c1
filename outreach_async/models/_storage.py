"""The keys of a model's storage, and reading values in their wire form. A leaf of the models.

See the storage contract in :mod:`._base`: a decoded model's ``__dict__`` is its resource's
``attributes`` object plus the reserved keys named here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from .._wire import lenient_date, lenient_datetime

if TYPE_CHECKING:
    from ._base import Resource

__all__ = [
    "CONTEXT_KEY",
    "DECODED_KEY",
    "PENDING_KEY",
    "RAW_RELATIONSHIPS_KEY",
    "RESERVED_KEYS",
    "SERVER_STAMPS",
    "SNAPSHOT_KEY",
    "stored_id",
    "subclass_fields",
    "time_parser",
]

# Keys a decoded model keeps in its __dict__ beside the wire attributes: a flag saying it was
# decoded, the copy of its values taken before the first assignment (to PATCH only what
# changed), its raw relationship objects, and the response context its handles fetch through
# (dropped when pickling).
DECODED_KEY = "_outreach_decoded"
SNAPSHOT_KEY = "_outreach_snapshot"
RAW_RELATIONSHIPS_KEY = "_outreach_relationships"
CONTEXT_KEY = "_outreach_context"
#: on a model decoded without looking for attributes it does not know: how many of its first
#: keys came from the wire (``_tracking.settle`` moves the unknown ones to ``extra`` when needed)
PENDING_KEY = "_outreach_pending"
#: keys of a model's __dict__ that are not wire attributes
RESERVED_KEYS = frozenset(
    {
        "id",
        "extra",
        "meta",
        DECODED_KEY,
        SNAPSHOT_KEY,
        RAW_RELATIONSHIPS_KEY,
        CONTEXT_KEY,
        PENDING_KEY,
    }
)
#: the attributes Outreach stamps on every stored record (typed as plain datetimes)
SERVER_STAMPS = ("createdAt", "updatedAt")
#: the fields every model has from the base class (attrs names)
BASE_FIELDS = frozenset({"_id", "extra", "meta", "_origin"})


def time_parser(kind: str) -> Callable[[Any], Any] | None:
    """The reader of an attribute kind's wire strings (dates and datetimes), or None."""
    return _TIME_PARSERS.get(kind)


_TIME_PARSERS: dict[str, Callable[[Any], Any]] = {
    "datetime": lenient_datetime,
    "date": lenient_date,
}


def stored_id(model: Resource) -> int | None:
    """The id of a model, or None for one not created yet (never raises)."""
    value: int | None = model.__dict__.get("id")
    return value


def subclass_fields(cls: type[Resource]) -> tuple[attrs.Attribute[Any], ...]:
    """The attrs fields a class adds beyond its resource spec (a user subclass's own fields)."""
    found = _SUBCLASS_FIELDS.get(cls)
    if found is None:
        spec = cls.__resource_spec__
        known = {a.name for a in spec.attributes} | {r.name for r in spec.relationships}
        found = _SUBCLASS_FIELDS[cls] = tuple(
            f for f in attrs.fields(cls) if f.name not in known and f.name not in BASE_FIELDS
        )
    return found


_SUBCLASS_FIELDS: dict[type[Resource], tuple[attrs.Attribute[Any], ...]] = {}
