"""What a repository's answers need from the client, and the identity map of one response.

:class:`ClientCore` is the seam between repositories and the client (implemented by
``OutreachClient``); :class:`ResponseContext` is what the handles of one response fetch through,
from its ``included`` resources first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, TypeVar

from yarl import URL

from .._converter import structure_resource
from .._exceptions import DetachedHandleError
from .._http import Request, Response
from .._pagination import Paginator
from ..models._base import Resource, model_for_type

__all__ = ["ClientCore", "RelatedFetcher", "ResponseContext"]

R = TypeVar("R", bound=Resource)


class RelatedFetcher(Protocol[R]):
    """What a response context asks of a repository (``Repository`` is one): a resource by id,
    or the collection behind a ``related`` link."""

    async def get(self, id: int) -> R: ...

    def list_url(self, url: URL, *, limit: int | None = None) -> Paginator[R]: ...


class ClientCore(Protocol):
    """What repositories, paginators and handles need from the client."""

    @property
    def base_url(self) -> URL: ...

    @property
    def closed(self) -> bool: ...

    async def send(self, request: Request) -> Response: ...

    def repository(self, model: type[R]) -> RelatedFetcher[R]: ...


class ResponseContext:
    """The identity map of one response: its primary data and ``included`` resources by (type, id).

    Models are built from ``included`` on first use and then shared, so a cycle (a prospect whose
    account lists it) yields the same objects, never an endless walk. Never a global cache: it
    lives as long as the models of this response.
    """

    __slots__ = ("_core", "_included", "_index", "_models", "_primary")

    def __init__(self, core: ClientCore, included: list[dict[str, Any]]) -> None:
        self._core = core
        self._included = included
        self._primary: list[Resource] = []
        self._index: dict[tuple[str, int], dict[str, Any]] | None = None
        self._models: dict[tuple[str, int], Resource] = {}

    def add_primary(self, models: list[Resource]) -> None:
        self._primary = models

    def _raw_index(self) -> dict[tuple[str, int], dict[str, Any]]:
        if self._index is None:
            self._index = {(r.get("type"), r.get("id")): r for r in self._included}  # type: ignore[misc]
            for model in self._primary:
                self._models.setdefault((model.__resource_spec__.type, model.id), model)
        return self._index

    def included(self, type_: str, id_: int) -> Resource | None:
        index = self._raw_index()
        key = (type_, id_)
        found = self._models.get(key)
        if found is None and (raw := index.get(key)) is not None:
            cls = model_for_type(type_)
            if cls is not None:
                found = self._models[key] = structure_resource(raw, cls, self)
        return found

    def included_models(self) -> list[Any]:
        out: list[Resource] = []
        for raw in self._included:
            model = self.included(str(raw.get("type")), raw.get("id"))  # type: ignore[arg-type]
            if model is not None:
                out.append(model)
        return out

    def _live_core(self) -> ClientCore:
        if self._core.closed:
            raise DetachedHandleError("the client this handle came from is closed")
        return self._core

    async def fetch_one(self, type_: str, id_: int | None, related: str | None) -> Resource | None:
        core = self._live_core()
        cls = model_for_type(type_)
        if cls is None:
            raise DetachedHandleError(f"no model for resource type {type_!r}")
        repo = core.repository(cls)
        if id_ is not None:
            return await repo.get(id_)
        return await repo.list_url(URL(related, encoded=True)).first() if related else None

    def follow(self, type_: str, related: str, limit: int | None = None) -> AsyncIterator[Resource]:
        core = self._live_core()
        cls = model_for_type(type_)
        if cls is None:
            raise DetachedHandleError(f"no model for resource type {type_!r}")
        return aiter(core.repository(cls).list_url(URL(related, encoded=True), limit=limit))
