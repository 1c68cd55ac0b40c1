"""What a model holds, read from its storage without side effects, and what changed since decoding.

Owned by the models (see the storage contract in :mod:`._base`): the values a field holds are
read here without going through the field descriptors, so nothing is converted in place and no
relationship handle is built and cached. ``==``, ``repr``, ``changed_fields()`` and
``update(model)`` rest on these functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any

from .._relationships import HandleContext, ToMany, ToOne, to_many_handle, to_one_handle
from .._schema import AttributeSpec, RelationshipSpec
from .._types import UNSET
from ._storage import (
    CONTEXT_KEY,
    DECODED_KEY,
    PENDING_KEY,
    RAW_RELATIONSHIPS_KEY,
    RESERVED_KEYS,
    SNAPSHOT_KEY,
    subclass_fields,
    time_parser,
)

if TYPE_CHECKING:
    from ._base import Resource

__all__ = [
    "attribute_value",
    "changed_fields",
    "comparable",
    "known_wires",
    "relationship_value",
    "set_field_names",
    "settle",
    "settled",
    "shown_fields",
    "unknown_relationship",
]


def unknown_relationship(
    rel: Mapping[str, Any], context: HandleContext | None
) -> ToOne[Any] | ToMany[Any]:
    """The handle of a relationship the model's spec does not know (kept in ``extra``)."""
    data = rel.get("data")
    if isinstance(data, list):
        return to_many_handle(data[0].get("type", "") if data else "", rel, context)
    return to_one_handle(data.get("type", "") if data else "", rel, context)


def settle(model: Resource) -> None:
    """Move what a decoded model holds but its spec does not know into ``extra``, if decoding
    left that for later (see the storage contract in :mod:`._base`); else nothing.

    Decoding a page does not look at every record's 230 attribute names (about a tenth of the
    decode); ``extra``, the relationship fields and the first assignment call this first.
    Unknown attributes leave the storage, so no field reads them."""
    values = model.__dict__
    if PENDING_KEY not in values:
        return
    unknown, extra = _sorted_out(values, type(model))
    for key in unknown:
        del values[key]
    del values[PENDING_KEY]
    values["extra"] = extra


def settled(model: Resource) -> tuple[dict[str, Any], dict[str, Any]]:
    """The storage as :func:`settle` would leave it, and the extras, without changing the model
    (``==`` and ``repr`` read through this: they leave the storage as it came)."""
    values = model.__dict__
    if PENDING_KEY not in values:
        return values, model.extra
    unknown, extra = _sorted_out(values, type(model))
    if unknown:
        values = {k: v for k, v in values.items() if k not in unknown}
    return values, extra


def _sorted_out(values: dict[str, Any], cls: type[Resource]) -> tuple[list[str], dict[str, Any]]:
    """The unknown attributes' keys in a storage decoding left unsorted, and the extras."""
    known, relationship_wires = known_wires(cls)
    pending = values[PENDING_KEY]
    unknown: list[str] = []
    # the first ``pending`` keys are the wire attributes, in the order they were decoded (the
    # reserved keys come after them: skipped, in case a field was deleted since)
    if not known.issuperset(islice(values, pending)):
        unknown = [k for k in islice(values, pending) if k not in known and k not in RESERVED_KEYS]
    extra = {key: values[key] for key in unknown}
    raw = values.get(RAW_RELATIONSHIPS_KEY)
    if raw and not relationship_wires.issuperset(raw):
        context = values.get(CONTEXT_KEY)
        for wire in raw.keys() - relationship_wires:
            extra[wire] = unknown_relationship(raw[wire], context)
    return unknown, extra


def known_wires(cls: type[Resource]) -> tuple[frozenset[str], frozenset[str]]:
    """A class's attribute wires and relationship wires: what its spec knows (the rest goes to
    ``extra``, at decode or in :func:`settle`)."""
    found = _WIRES.get(cls)
    if found is None:
        spec = cls.__resource_spec__
        found = _WIRES[cls] = (
            frozenset(a.wire for a in spec.attributes),
            frozenset(r.wire for r in spec.relationships),
        )
    return found


_WIRES: dict[type[Resource], tuple[frozenset[str], frozenset[str]]] = {}


def attribute_value(values: dict[str, Any], attribute: AttributeSpec) -> Any:
    """An attribute's value in a storage dict (``UNSET`` when absent), dates and datetimes
    parsed; the storage is left as it is."""
    value = values.get(attribute.wire, UNSET)
    if value.__class__ is str and (parse := time_parser(attribute.kind)) is not None:
        return parse(value)
    return value


def relationship_value(values: dict[str, Any], rel: RelationshipSpec) -> Any:
    """A relationship's handle in a storage dict (``UNSET`` when absent). A handle not read yet
    is built for the caller only (no context, not cached)."""
    if rel.name in values:
        return values[rel.name]
    raw_relationships = values.get(RAW_RELATIONSHIPS_KEY)
    raw = raw_relationships.get(rel.wire) if raw_relationships else None
    if raw is None:
        return UNSET
    return (to_many_handle if rel.to_many else to_one_handle)(rel.target, raw, None)


def set_field_names(model: Resource) -> list[str]:
    """The fields of a model that hold a value (not ``UNSET``), attributes then relationships."""
    values, _extra = settled(model)
    spec = model.__resource_spec__
    names = [a.name for a in spec.attributes if values.get(a.wire, UNSET) is not UNSET]
    names += [r.name for r in spec.relationships if relationship_value(values, r) is not UNSET]
    return names


def changed_fields(model: Resource) -> list[str]:
    """Names of the fields whose value differs from what the model was decoded with.

    A decoded model copies its values before the first assignment (``remember_original``), and
    an ``evolve``d copy carries its original's; a model built by hand has no snapshot, so every
    set field counts as changed.
    """
    values = model.__dict__  # a snapshot is taken after settle (remember_original)
    if DECODED_KEY not in values:
        return set_field_names(model)
    snapshot = values.get(SNAPSHOT_KEY)
    if snapshot is None:
        return []  # nothing was assigned since decoding
    spec = model.__resource_spec__
    changed = [
        a.name
        for a in spec.attributes
        if _differs(attribute_value(values, a), attribute_value(snapshot, a))
    ]
    for rel in spec.relationships:
        if rel.name in values and _differs(
            values[rel.name], relationship_value(_without_handles(snapshot, rel), rel)
        ):
            changed.append(rel.name)
    return changed


def _without_handles(snapshot: dict[str, Any], rel: RelationshipSpec) -> dict[str, Any]:
    # a handle read before the snapshot was taken stands for the raw object it was built from
    if rel.name not in snapshot:
        return snapshot
    return {RAW_RELATIONSHIPS_KEY: snapshot.get(RAW_RELATIONSHIPS_KEY)}


def _differs(current: Any, original: Any) -> bool:
    if current is original:
        return False
    try:
        return bool(current != original)
    except Exception:  # values that refuse comparison count as changed
        return True


def comparable(model: Resource) -> tuple[Any, ...]:
    """What ``==`` compares: id, extras, every field's value, and a subclass's own fields."""
    values, extra = settled(model)
    spec = model.__resource_spec__
    return (
        values.get("id"),
        extra,
        tuple(attribute_value(values, a) for a in spec.attributes),
        tuple(relationship_value(values, r) for r in spec.relationships),
        tuple(getattr(model, f.name, UNSET) for f in subclass_fields(type(model))),
    )


def shown_fields(model: Resource) -> Iterator[tuple[str, Any]]:
    """The fields ``repr`` shows: the id, then only what is set and not null or empty (a prospect
    has 230 attributes, most of them UNSET or null)."""
    values, extra = settled(model)
    spec = model.__resource_spec__
    yield "id", values.get("id")
    for attribute in spec.attributes:
        value = attribute_value(values, attribute)
        if value is not UNSET and value is not None:
            yield attribute.name, value
    for rel in spec.relationships:
        handle = relationship_value(values, rel)
        if handle is not UNSET and not _empty_handle(handle):
            yield rel.name, handle
    for field in subclass_fields(type(model)):
        yield field.name, getattr(model, field.name, UNSET)
    if extra:
        yield "extra", extra


def _empty_handle(value: Any) -> bool:
    # null to-one relationships and to-many ones without ids only add noise to a repr
    return (isinstance(value, ToOne) and value.id is None) or (
        isinstance(value, ToMany) and not value.ids
    )
