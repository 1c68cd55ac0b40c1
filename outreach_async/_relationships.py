"""Relationship handles: what a model's relationship fields hold.

A handle is cheap (a few slots, no client copy): it points at a :class:`HandleContext`, the
per-response identity map that knows the response's ``included`` resources and the client that
made the request. Nothing is fetched until asked.

What a fetch returns (the caching rule):

- ``await handle.fetch()`` reads the related resource from the ``included`` of the response the
  handle came with, when that response carried it: a snapshot taken with the model that holds the
  handle, read without a request. Otherwise it asks the server, one GET every time it is called,
  so a change made since (a rename) shows.
- ``await handle.fetch(cached=True)`` returns what the handle already has (that snapshot, the
  result of its last fetch, or the model it was built from) without any I/O, and asks the server
  only when it has nothing.
- A to-many handle reads ``included`` when the response carried every one of its records, else
  streams its ``related`` link; it keeps nothing between iterations.

Any fetch that needs a request raises :class:`DetachedHandleError` when the handle has no live
client behind it: its client is closed, or the handle was unpickled or built by hand. Handles
pickle without their context or anything fetched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

from ._exceptions import DetachedHandleError, ResponseFormatError
from ._pagination import collect_items
from ._schema import ResourceSpec
from ._types import UNSET, Ref

__all__ = ["DetachedHandleError", "HandleContext", "Model", "ToMany", "ToOne"]


class Model(Protocol):
    """What a handle needs of a model (every resource model is one): its spec. Handles sit
    below the models, which hold them, so they name models by this shape and never import
    them."""

    __resource_spec__: ClassVar[ResourceSpec]


R = TypeVar("R", bound=Model)
Resource = Model  # what the handles' client side hands back: some resource model


class HandleContext(Protocol):
    """What a handle needs from the response it came from (implemented by the client)."""

    def included(self, type_: str, id_: int) -> Resource | None:
        """The resource from this response's ``included`` (or primary data), if it was there."""

    async def fetch_one(self, type_: str, id_: int | None, related: str | None) -> Resource | None:
        """Fetch one related resource by id, or through its ``related`` link."""

    def follow(self, type_: str, related: str, limit: int | None = None) -> AsyncIterator[Resource]:
        """Stream the paginated collection behind a ``related`` link (its first ``limit``
        records when given: no page past them is asked for)."""


class ToOne(Generic[R]):
    """A to-one relationship: ``.id``, ``.type``, ``.meta``, and ``await .fetch()``.

    A null relationship (``{"data": null}``) is a handle whose ``id`` is ``None``.
    """

    __slots__ = ("_context", "_target", "id", "meta", "related", "type")

    def __init__(
        self,
        type: str,
        id: int | None,
        *,
        meta: Mapping[str, Any] | None = None,
        related: str | None = None,
        context: HandleContext | None = None,
        target: R | None = None,
    ) -> None:
        self.type = type
        self.id = id
        self.meta = meta
        self.related = related
        self._context = context
        self._target = target

    @property
    def is_null(self) -> bool:
        """True when the relationship is set to nothing (``data: null``)."""
        return self.id is None and self.related is None

    async def fetch(self, *, cached: bool = False) -> R | None:
        """The related resource (None for a null relationship).

        From the ``included`` of the response this handle came with when it was there (no
        request), else one GET each call, so the answer is current. ``cached=True`` returns what
        the handle already has (from ``included``, its last fetch, or the model it was built
        from) without I/O, and fetches only when it has nothing. A fetch that needs a request
        raises :class:`DetachedHandleError` once the client is closed (or for an unpickled
        handle).
        """
        if self.id is None and self.related is None:
            return None
        if cached and self._target is not None:
            return self._target
        found = self._from_included()
        if found is None:
            found = await self._require_context().fetch_one(self.type, self.id, self.related)
        self._target = found  # type: ignore[assignment]
        return self._target

    def _from_included(self) -> Resource | None:
        """The related resource as the response carried it, if it did (no I/O)."""
        if self._context is None or self.id is None:
            return None
        return self._context.included(self.type, self.id)

    def _require_context(self) -> HandleContext:
        if self._context is None:
            raise DetachedHandleError(
                f"this {self.type} handle has no client behind it (it was unpickled or built by "
                "hand); fetch it through a repository instead"
            )
        return self._context

    def __getstate__(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "meta": self.meta, "related": self.related}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["type"], state["id"], meta=state["meta"], related=state["related"])  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToOne):
            return NotImplemented
        return (self.type, self.id, self.meta) == (other.type, other.id, other.meta)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        meta = f", meta={self.meta!r}" if self.meta else ""
        return f"ToOne({self.type!r}, {self.id!r}{meta})"


class ToMany(Generic[R]):
    """A to-many relationship: async-iterable, ``.collect()``, ``.ids`` when carried.

    Iterating reads the response's ``included`` when it holds every carried id (no request),
    else streams the ``related`` link through the paginator. Meta only (``count`` > 0, no ids,
    no link) raises :class:`ResponseFormatError`: there is nothing to read them from.
    """

    __slots__ = ("_context", "count", "ids", "meta", "related", "type")

    def __init__(
        self,
        type: str,
        ids: list[int] | None,
        *,
        meta: Mapping[str, Any] | None = None,
        related: str | None = None,
        context: HandleContext | None = None,
    ) -> None:
        self.type = type
        #: the ids the response carried (None for links-only or meta-only relationships)
        self.ids = ids
        self.meta = meta
        self.related = related
        self._context = context
        count = meta.get("count") if meta else None
        #: ``meta.count`` when the response carried it
        self.count: int | None = count if isinstance(count, int) else None

    def __aiter__(self) -> AsyncIterator[R]:
        return self._iterate(None)

    async def _iterate(self, limit: int | None) -> AsyncIterator[R]:
        carried = self._all_included()
        if carried is not None:  # the response holds every one of them: no request
            for item in carried:
                yield item
            return
        if self.related is None:
            async for item in self._from_ids():
                yield item
            return
        if self._context is None:
            raise DetachedHandleError(f"this {self.type} collection handle has no client behind it")
        async for found in self._context.follow(self.type, self.related, limit):
            yield cast(R, found)

    def _all_included(self) -> list[R] | None:
        """Every related resource from the response's identity map, or None when the response
        did not carry all of them (ids missing from ``included``, or fewer ids than
        ``meta.count`` says there are)."""
        if self.ids is None or self._context is None:
            return None
        if self.count is not None and self.count != len(self.ids):
            return None
        found: list[R] = []
        for id_ in self.ids:
            model = self._context.included(self.type, id_)
            if model is None:
                return None
            found.append(model)  # type: ignore[arg-type]
        return found

    async def _from_ids(self) -> AsyncIterator[R]:
        # No related link: all we can offer is what the response carried by id.
        if self.ids is None and self.count:
            # A relationship can come back with neither data nor links, meta only (facts
            # section 6): yielding nothing would silently drop ``count`` records.
            raise ResponseFormatError(
                f"this {self.type} to-many relationship came with only meta "
                f"(count={self.count}): the response gave neither ids nor a related link to "
                "read them from"
            )
        if not self.ids:
            return
        if self._context is None:
            raise DetachedHandleError(f"this {self.type} collection handle has no client behind it")
        for id_ in self.ids:
            found = self._context.included(self.type, id_) or await self._context.fetch_one(
                self.type, id_, None
            )
            if found is not None:
                yield found  # type: ignore[misc]

    async def collect(self, limit: int | None = None) -> list[R]:
        """Every related resource (or the first ``limit``), in one list. Behind a ``related``
        link the limit goes with the first request, so no page past it is asked for."""
        return await collect_items(self._iterate(limit), limit)

    def __getstate__(self) -> dict[str, Any]:
        return {"type": self.type, "ids": self.ids, "meta": self.meta, "related": self.related}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["type"], state["ids"], meta=state["meta"], related=state["related"])  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToMany):
            return NotImplemented
        return (self.type, self.ids, self.meta) == (other.type, other.ids, other.meta)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ToMany({self.type!r}, ids={self.ids!r})"


# ---------------------------------------------------------------- wire relationship -> handle


def to_one_handle(target: str, rel: Mapping[str, Any], context: HandleContext | None) -> ToOne[Any]:
    """A to-one handle from a relationship object (data, links only, or meta only)."""
    # Built without __init__'s keyword handling: reading every field of a page builds 21 handles
    # a prospect, and this halves their cost (benchmarks/bench_decode.py).
    handle: ToOne[Any] = _new(ToOne)
    data = rel.get("data")
    links = rel.get("links")
    handle.related = links.get("related") if links else None
    handle.meta = rel.get("meta")
    handle._context = context
    handle._target = None
    if data:
        handle.type = data.get("type", target)
        handle.id = as_id(data.get("id"))
    else:
        handle.type = target
        handle.id = None
    return handle


_new = object.__new__


def to_many_handle(
    target: str, rel: Mapping[str, Any], context: HandleContext | None
) -> ToMany[Any]:
    """A to-many handle: ``.ids`` when data was carried, the related link to stream the rest."""
    data = rel.get("data")
    links = rel.get("links")
    meta = rel.get("meta")
    handle: ToMany[Any] = _new(ToMany)
    handle.type = target
    if data.__class__ is not list:
        handle.ids = None
    elif data:
        handle.ids = [i for d in data if (i := as_id(d.get("id"))) is not None]
    else:
        handle.ids = []  # the common case, without a comprehension's frame
    handle.meta = meta
    handle.related = links.get("related") if links else None
    handle._context = context
    count = meta.get("count") if meta else None
    handle.count = count if count.__class__ is int else None
    return handle


def as_id(value: Any) -> int | None:
    # Outreach's ids are JSON numbers; tolerate the JSON:API string form.
    if value is None or value.__class__ is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return value  # type: ignore[no-any-return]


def to_one(target_type: str) -> Any:
    """An attrs converter turning what a user may assign to a to-one field into a handle."""

    def convert(value: Any) -> Any:
        if value is UNSET or isinstance(value, ToOne):
            return value
        return to_one_from_value(target_type, value)

    convert.__name__ = f"to_one_{target_type}"
    return convert


def to_one_from_value(target_type: str, value: Any) -> ToOne[Any]:
    """A handle for a model instance, a :class:`Ref`, an int id or None."""
    if value is None:
        return ToOne(target_type, None)
    if isinstance(value, Ref):
        return ToOne(value.type, value.id, meta=value.meta)
    if hasattr(type(value), "__resource_spec__"):  # a model instance
        if getattr(value, "id", None) is None:  # not created yet (reading its id raises)
            raise ValueError(
                f"a {value.__resource_spec__.type} must be created before it can be referenced"
            )
        return ToOne(value.__resource_spec__.type, value.id, target=value)
    if isinstance(value, int) and not isinstance(value, bool):
        return ToOne(target_type, value)
    raise TypeError(f"cannot use {type(value).__name__} as a {target_type} relationship")


def to_many(target_type: str) -> Any:
    """An attrs converter turning a list of models, Refs or ids into a to-many handle."""

    def convert(value: Any) -> Any:
        if value is UNSET or isinstance(value, ToMany):
            return value
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise TypeError(f"a {target_type} to-many relationship takes a list")
        handles = [to_one_from_value(target_type, v) for v in value]
        return ToMany(target_type, [h.id for h in handles if h.id is not None])

    convert.__name__ = f"to_many_{target_type}"
    return convert
