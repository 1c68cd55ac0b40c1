"""Relationship handles that read their relationship object only when asked.

A decoded model builds a handle on the first read of a relationship field. Reading every field
of a prospect builds 21 of them, and copying each one's ids, link and meta out of the wire
object up front cost more than all its other fields together (``benchmarks/bench_decode.py``).
These handles keep the wire object and fill :class:`ToOne`'s and :class:`ToMany`'s own slots from
it on first use; in every other respect they are those classes (a value assigned, or restored by
unpickling, is kept as given).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._relationships import HandleContext, ToMany, ToOne, as_id

__all__ = ["lazy_to_many", "lazy_to_one"]

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


def _related(handle: Any) -> str | None:
    links = handle._raw.get("links")
    return links.get("related") if links else None


def _meta(handle: Any) -> Mapping[str, Any] | None:
    return handle._raw.get("meta")  # type: ignore[no-any-return]


def _one_id(handle: Any) -> int | None:
    data = handle._raw.get("data")
    return as_id(data.get("id")) if data else None


def _one_type(handle: Any) -> str:
    # a polymorphic relationship names its type in its data; else the spec's target
    data = handle._raw.get("data")
    return data.get("type", handle._target_type) if data else handle._target_type  # type: ignore[no-any-return]


def _many_ids(handle: Any) -> list[int] | None:
    data = handle._raw.get("data")
    if data.__class__ is not list:
        return None
    return [i for d in data if (i := as_id(d.get("id"))) is not None]


def _count(handle: Any) -> int | None:
    meta = handle._raw.get("meta")
    count = meta.get("count") if meta else None
    return count if count.__class__ is int else None


class LazyToOne(ToOne[Any]):
    """A :class:`ToOne` over a wire relationship object: ``type``, ``id``, ``meta`` and
    ``related`` are read from it on first use (so building one touches only the handle)."""

    __slots__ = ("_raw", "_target_type")
    _raw: Raw
    _target_type: str

    type = _filled_from_raw(ToOne, "type", _one_type)
    id = _filled_from_raw(ToOne, "id", _one_id)
    meta = _filled_from_raw(ToOne, "meta", _meta)
    related = _filled_from_raw(ToOne, "related", _related)


class LazyToMany(ToMany[Any]):
    """A :class:`ToMany` over a wire relationship object: ``ids``, ``meta``, ``related`` and
    ``count`` are read from it on first use."""

    __slots__ = ("_raw",)
    _raw: Raw

    ids = _filled_from_raw(ToMany, "ids", _many_ids)
    meta = _filled_from_raw(ToMany, "meta", _meta)
    related = _filled_from_raw(ToMany, "related", _related)
    count = _filled_from_raw(ToMany, "count", _count)


_new = object.__new__


def lazy_to_one(target: str, raw: Raw, context: HandleContext | None) -> ToOne[Any]:
    """A to-one handle over a relationship object (what ``to_one_handle`` builds, read later)."""
    handle: LazyToOne = _new(LazyToOne)
    handle._raw = raw
    handle._target_type = target
    handle._context = context
    handle._target = None
    return handle


def lazy_to_many(target: str, raw: Raw, context: HandleContext | None) -> ToMany[Any]:
    """A to-many handle over a relationship object (what ``to_many_handle`` builds, read
    later)."""
    handle: LazyToMany = _new(LazyToMany)
    handle._raw = raw
    handle.type = target
    handle._context = context
    return handle
