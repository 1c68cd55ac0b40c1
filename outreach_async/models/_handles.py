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


def _filled_from_raw(base: type, name: str, read: Callable[[Raw], Any]) -> Any:
    """A property over the base class's slot ``name``: the slot once set, else ``read(raw)``
    (then kept in the slot)."""
    slot = base.__dict__[name]  # the slot's member descriptor: an unset slot raises

    def get(self: Any) -> Any:
        try:
            return slot.__get__(self, base)
        except AttributeError:
            value = read(self._raw)
            slot.__set__(self, value)
            return value

    def set_(self: Any, value: Any) -> None:
        slot.__set__(self, value)

    return property(get, set_)


def _related(raw: Raw) -> str | None:
    links = raw.get("links")
    return links.get("related") if links else None


def _meta(raw: Raw) -> Mapping[str, Any] | None:
    return raw.get("meta")


def _one_id(raw: Raw) -> int | None:
    data = raw.get("data")
    return as_id(data.get("id")) if data else None


def _many_ids(raw: Raw) -> list[int] | None:
    data = raw.get("data")
    if data.__class__ is not list:
        return None
    return [i for d in data if (i := as_id(d.get("id"))) is not None]


def _count(raw: Raw) -> int | None:
    meta = raw.get("meta")
    count = meta.get("count") if meta else None
    return count if count.__class__ is int else None


class LazyToOne(ToOne[Any]):
    """A :class:`ToOne` over a wire relationship object: ``id``, ``meta`` and ``related`` are
    read from it on first use."""

    __slots__ = ("_raw",)
    _raw: Raw

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
    data = raw.get("data")
    # the type is known now: a polymorphic relationship names it in its data
    handle.type = data.get("type", target) if data else target
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
