"""Relationship handles that read their relationship object only when asked.

A decoded model builds a handle on the first read of a relationship field. Reading every field
of a prospect builds 21 of them, and copying each one's ids, link and meta out of the wire
object up front cost more than all its other fields together (``benchmarks/bench_decode.py``).
These handles keep the wire object and fill :class:`ToOne`'s and :class:`ToMany`'s own slots from
it on first use; in every other respect they are those classes (a value assigned, or restored by
unpickling, is kept as given).

A handle holds its record's ``relationships`` object and its field's ``(wire, target)`` pair,
not its own relationship object: the garbage collector visits what a new handle holds, and
the 21 handles of a record then point at one object already in the cache, not 21 cold ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .._relationships import HandleContext, ToMany, ToOne, as_id

__all__ = ["LazyToMany", "LazyToOne", "lazy_handle", "lazy_to_many", "lazy_to_one"]

Raw = Mapping[str, Any]


def _filled_from_raw(base: type, name: str, read: Callable[[Any], Any]) -> Any:
    """A property over the base class's slot ``name``: the slot once set, else ``read(handle)``
    (then kept in the slot)."""
    slot = base.__dict__[name]  # the slot's member descriptor: an unset slot raises

    def get(self: Any) -> Any:
        try:
            return slot.__get__(self, base)
        except AttributeError:
            value = read(self)
            slot.__set__(self, value)
            return value

    def set_(self: Any, value: Any) -> None:
        slot.__set__(self, value)

    return property(get, set_)


# what each lazy slot is filled with, read from the handle's wire object on first use


def _raw(handle: Any) -> Raw:
    """The handle's relationship object."""
    return handle._relationships[handle._field[0]]  # type: ignore[no-any-return]


def _related(handle: Any) -> str | None:
    links = _raw(handle).get("links")
    return links.get("related") if links else None


def _meta(handle: Any) -> Mapping[str, Any] | None:
    return _raw(handle).get("meta")


def _one_id(handle: Any) -> int | None:
    data = _raw(handle).get("data")
    return as_id(data.get("id")) if data else None


def _one_type(handle: Any) -> str:
    # a polymorphic relationship names its type in its data; else the spec's target
    target: str = handle._field[1]
    data = _raw(handle).get("data")
    return data.get("type", target) if data else target


def _many_type(handle: Any) -> str:
    return handle._field[1]  # type: ignore[no-any-return]


def _no_target(handle: Any) -> None:
    return None  # nothing fetched yet


def _many_ids(handle: Any) -> list[int] | None:
    data = _raw(handle).get("data")
    if data.__class__ is not list:
        return None
    return [i for d in data if (i := as_id(d.get("id"))) is not None]


def _count(handle: Any) -> int | None:
    meta = _raw(handle).get("meta")
    count = meta.get("count") if meta else None
    return count if count.__class__ is int else None


class LazyToOne(ToOne[Any]):
    """A :class:`ToOne` over a wire relationship object: ``type``, ``id``, ``meta`` and
    ``related`` are read from it on first use (so building one touches only the handle), and
    nothing is fetched until ``fetch``."""

    __slots__ = ("_field", "_relationships")
    _relationships: Mapping[str, Raw]
    _field: tuple[str, str]  # (wire, target)

    type = _filled_from_raw(ToOne, "type", _one_type)
    _target = _filled_from_raw(ToOne, "_target", _no_target)
    id = _filled_from_raw(ToOne, "id", _one_id)
    meta = _filled_from_raw(ToOne, "meta", _meta)
    related = _filled_from_raw(ToOne, "related", _related)


class LazyToMany(ToMany[Any]):
    """A :class:`ToMany` over a wire relationship object: ``ids``, ``meta``, ``related`` and
    ``count`` are read from it on first use, ``type`` from the field."""

    __slots__ = ("_field", "_relationships")
    _relationships: Mapping[str, Raw]
    _field: tuple[str, str]  # (wire, target)

    type = _filled_from_raw(ToMany, "type", _many_type)
    ids = _filled_from_raw(ToMany, "ids", _many_ids)
    meta = _filled_from_raw(ToMany, "meta", _meta)
    related = _filled_from_raw(ToMany, "related", _related)
    count = _filled_from_raw(ToMany, "count", _count)


H = TypeVar("H", LazyToOne, LazyToMany)


def lazy_handle(
    kind: type[H],
    relationships: Mapping[str, Raw],
    field: tuple[str, str],
    context: HandleContext | None,
) -> H:
    """A :class:`LazyToOne` or :class:`LazyToMany` over ``relationships[wire]``, ``field`` being
    ``(wire, target)``: every other slot fills itself on first use, so both kinds are built
    alike, here and in ``LazyRelationship``'s getter (which inlines these lines)."""
    handle = _new(kind)
    handle._relationships = relationships
    handle._field = field
    handle._context = context
    return handle


def lazy_to_one(
    relationships: Mapping[str, Raw], field: tuple[str, str], context: HandleContext | None
) -> ToOne[Any]:
    """A to-one handle over ``relationships[wire]`` (what ``to_one_handle`` builds, read
    later)."""
    return lazy_handle(LazyToOne, relationships, field, context)


def lazy_to_many(
    relationships: Mapping[str, Raw], field: tuple[str, str], context: HandleContext | None
) -> ToMany[Any]:
    """A to-many handle over ``relationships[wire]`` (what ``to_many_handle`` builds, read
    later)."""
    return lazy_handle(LazyToMany, relationships, field, context)


_new = object.__new__
