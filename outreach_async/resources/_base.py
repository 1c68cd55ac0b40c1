"""The generic async repository every resource type gets.

A repository builds requests (validated by ``_query`` before any I/O), sends them through the
client's transport and reads answers with ``_jsonapi`` and ``_converter``. It offers exactly the
operations its endpoint has: asking for one the endpoint lacks raises
:class:`UnsupportedOperationError` before any request (events are read-only, calls have no PATCH).
Answers are read into models through a :class:`~._context.ResponseContext`; ``resolve`` leaves
its local lookups and batching to :mod:`._resolve`.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from yarl import URL

from .. import _query
from .._converter import (
    decode_collection,
    relationship_to_wire,
    resource_to_wire,
    structure_fn,
    wire_value,
)
from .._exceptions import (
    MissingResourcesError,
    QueryError,
    ResponseFormatError,
    UnsupportedOperationError,
)
from .._http import Request
from .._jsonapi import (
    Document,
    build_resource_document,
    dumps,
    parse_document,
    parse_raw_collection,
)
from .._pagination import FetchedPage, Page, Paginator, next_link_hint
from .._relationships import ToMany, ToOne, to_one_from_value
from .._schema import ActionSpec, Operation, ResourceSpec
from .._types import UNSET, Ref, UnsetType
from .._wire import format_datetime, snake_to_camel
from ..models import ALL_SPECS
from ..models._base import Resource
from ._context import ClientCore, ResponseContext
from ._resolve import MAX_BATCH_IDS, id_batches, resolve_locally

__all__ = ["Repository"]

R = TypeVar("R", bound=Resource)
T = TypeVar("T")


class Repository(Generic[R]):
    """CRUD, actions and listing for one resource type (``outreach.prospects``)."""

    def __init__(self, core: ClientCore, model: type[R]) -> None:
        self._core = core
        self.model = model
        self.spec: ResourceSpec = model.__resource_spec__
        self._structure = structure_fn(model)

    def __repr__(self) -> str:
        return f"<Repository {self.spec.path} ({self.model.__name__})>"

    # ------------------------------------------------------------------ URLs and plumbing

    @property
    def url(self) -> URL:
        """The collection URL (``{base_url}/prospects``)."""
        return self._core.base_url / self.spec.path

    def _member_url(self, id_: int) -> URL:
        if isinstance(id_, bool) or not isinstance(id_, int):
            raise QueryError(f"a {self.spec.type} id is an integer, got {id_!r}")
        return self.url / str(id_)

    def _require(self, operation: Operation) -> None:
        if operation not in self.spec.operations:
            offered = ", ".join(sorted(self.spec.operations)) or "nothing"
            raise UnsupportedOperationError(
                f"/{self.spec.path} does not support {operation} (it offers: {offered})"
            )

    async def _send_document(self, request: Request) -> Document:
        response = await self._core.send(request)
        return parse_document(response.body)

    def _one(self, document: Document) -> R:
        if not isinstance(document.data, dict):
            raise ResponseFormatError(f"expected one {self.spec.type} in the answer")
        context = ResponseContext(self._core, document.included)
        model = self._structure(document.data, context)
        context.add_primary([model])
        return model  # type: ignore[return-value]

    async def _page(self, url: URL) -> Callable[[], Page[R]]:
        body = await self._page_body(url)
        return FetchedPage(functools.partial(self._decode_page, body, url), next_link_hint(body))

    async def _transformed_page(
        self, url: URL, transform: Callable[[Any], list[T]], decode: _PageDecoder[T]
    ) -> Callable[[], Page[T]]:
        """A page whose records ``transform`` turns into items, read by ``decode``
        (:func:`_decode_wire_page` or :func:`_decode_raw_page`)."""
        body = await self._page_body(url)
        page = functools.partial(decode, body, url, self.spec.type, transform)
        return FetchedPage(page, next_link_hint(body))

    async def _page_body(self, url: URL) -> bytes:
        # 502s come back to the paginator, which asks again once and then halves page[size].
        request = Request(
            "GET", url, operation=f"{self.spec.path}.list", no_retry_statuses=_PAGE_502
        )
        return (await self._core.send(request)).body

    def _decode_page(self, body: bytes, url: URL) -> Page[R]:
        # Collection models are not indexed in the identity map: a model a caller keeps would
        # otherwise keep its whole page alive (and memory bounded to two pages is the promise).
        items, document, context = decode_collection(body, self.model, self._context)
        return Page(items, document.links, document.meta, url, context)

    def _context(self, included: list[dict[str, Any]]) -> ResponseContext:
        return ResponseContext(self._core, included)

    # ------------------------------------------------------------------ reading

    def list(
        self,
        *,
        filter: Mapping[str, Any] | None = None,
        sort: str | Sequence[str] | None = None,
        include: str | Sequence[str] | None = None,
        fields: Mapping[Any, Sequence[str]] | None = None,
        page_size: int | None = None,
        limit: int | None = None,
        count: bool | None = None,
    ) -> Paginator[R]:
        """A lazy collection (no I/O until iterated); arguments are validated now."""
        self._require("list")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise QueryError(f"limit must be a non-negative integer, got {limit!r}")
        params = _query.build_list_params(
            self.spec,
            filter=filter,
            sort=sort,
            include=include,
            fields=fields,
            page_size=page_size,
            count=count,
            specs=_all_specs(),
        )
        return Paginator(self._page, self.url.with_query(params), limit=limit)

    def list_url(self, url: URL, *, limit: int | None = None) -> Paginator[R]:
        """A collection behind a URL the API gave (a ``related`` link)."""
        return Paginator(self._page, url, limit=limit)

    def list_wire_resources(
        self, url: URL, *, limit: int | None = None
    ) -> Paginator[dict[str, Any]]:
        """The collection behind ``url`` (a :meth:`list` paginator's ``url``, or a ``related``
        link), each record the JSON:API resource object as the API sent it: no model is built.

        The fast path of flat exports (see :class:`~outreach_async.models.RecordFlattener`'s
        ``from_wire``): the objects are the parsed page's own, so change them only once done.
        """
        return self.list_wire_pages(url, builtins.list, limit=limit)

    def list_wire_pages(
        self,
        url: URL,
        transform: Callable[[builtins.list[dict[str, Any]]], builtins.list[T]],
        *,
        limit: int | None = None,
    ) -> Paginator[T]:
        """As :meth:`list_wire_resources`, each page's resource objects turned into items by
        ``transform`` as the page is decoded: objects it keeps no reference to are gone before
        the page is handed over, so they never reach the cyclic collector (which a paginator
        may pause while it decodes, see :func:`~outreach_async.pause_collector_while_decoding`)
        and never outlive their page. ``transform`` returns one item per record (``limit``
        counts them); the export turns each record into its line there."""
        fetch = functools.partial(
            self._transformed_page, transform=transform, decode=_decode_wire_page
        )
        return Paginator(fetch, url, limit=limit)

    def list_raw_pages(
        self,
        url: URL,
        transform: Callable[[Any], builtins.list[T]],
        *,
        limit: int | None = None,
    ) -> Paginator[T]:
        """As :meth:`list_wire_pages`, each page read with simdjson when it is installed and
        reads the page: ``transform`` then gets the page's ``data`` as a ``simdjson.Array`` of
        ``simdjson.Object`` proxies (the export makes each record's line from the minified bytes
        of its attributes, see :meth:`~outreach_async.models.RecordFlattener.wire_line`), else
        the list of resource dicts :meth:`list_wire_pages` gives. The proxies are valid during
        the call only: keep none (their document is released once the page is decoded)."""
        fetch = functools.partial(
            self._transformed_page, transform=transform, decode=_decode_raw_page
        )
        return Paginator(fetch, url, limit=limit)

    async def get(
        self,
        id: int,
        *,
        include: str | Sequence[str] | None = None,
        fields: Mapping[Any, Sequence[str]] | None = None,
    ) -> R:
        """One resource by id."""
        self._require("get")
        params = _query.build_get_params(
            self.spec, include=include, fields=fields, specs=_all_specs()
        )
        url = self._member_url(id).with_query(params)
        return self._one(
            await self._send_document(Request.get(url, operation=f"{self.spec.path}.get"))
        )

    # ------------------------------------------------------------------ writing

    async def create(self, resource: R, *, meta: Mapping[str, Any] | None = None) -> R:
        """POST the attributes and relationships that were set (never read-only ones)."""
        self._require("create")
        if not isinstance(resource, self.model):
            raise QueryError(f"{self.spec.path}.create takes a {self.model.__name__}")
        wire = resource_to_wire(resource, for_write=True)
        document = build_resource_document(
            self.spec.type,
            attributes=wire.get("attributes"),
            relationships=wire.get("relationships"),
            meta=meta,
        )
        request = Request(
            "POST",
            self.url,
            dumps(document),
            idempotent=False,
            operation=f"{self.spec.path}.create",
        )
        return self._one(await self._send_document(request))

    async def update(self, id_or_resource: int | R, /, **changes: Any) -> R:
        """PATCH exactly the given fields (or, given a model and no changes, the fields that
        changed since it was read); type and id are always sent."""
        self._require("update")
        if isinstance(id_or_resource, Resource):
            id_ = getattr(id_or_resource, "id", None)  # a model not created yet has none
            if id_ is None:
                raise QueryError(f"this {self.spec.type} has no id yet: create it first")
            if not changes:
                changes = {n: getattr(id_or_resource, n) for n in id_or_resource.changed_fields()}
                if not changes:
                    return id_or_resource
        else:
            id_ = id_or_resource
            if not changes:
                raise QueryError(f"{self.spec.path}.update needs at least one field to change")
        attributes, relationships = self._changes_to_wire(changes)
        document = build_resource_document(
            self.spec.type, id_=id_, attributes=attributes, relationships=relationships
        )
        request = Request(
            "PATCH", self._member_url(id_), dumps(document), operation=f"{self.spec.path}.update"
        )
        return self._one(await self._send_document(request))

    def _changes_to_wire(self, changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        attributes: dict[str, Any] = {}
        relationships: dict[str, Any] = {}
        for name, value in changes.items():
            if (attribute := self.spec.attribute(name)) is not None:
                if attribute.read_only:
                    raise QueryError(f"{self.spec.type}.{attribute.name} is read-only")
                attributes[attribute.wire] = wire_value(attribute, value)
            elif (rel := self.spec.relationship(name)) is not None:
                if rel.read_only:
                    raise QueryError(f"{self.spec.type}.{rel.name} is read-only")
                relationships[rel.wire] = _relationship_value(rel.target, rel.to_many, value)
            else:
                raise QueryError(
                    f"{self.spec.type} has no field {name!r}; writable fields: "
                    + ", ".join(sorted(self._writable_names()))
                )
        return attributes, relationships

    def _writable_names(self) -> builtins.list[str]:
        return [a.name for a in self.spec.attributes if not a.read_only] + [
            r.name for r in self.spec.relationships if not r.read_only
        ]

    async def delete(self, id: int) -> None:
        """DELETE one resource (204)."""
        self._require("delete")
        await self._core.send(
            Request("DELETE", self._member_url(id), operation=f"{self.spec.path}.delete")
        )

    # ------------------------------------------------------------------ actions

    def _action_spec(self, name: str, *, collection: bool) -> ActionSpec:
        wanted = snake_to_camel(name)
        for action in self.spec.actions:
            if action.collection == collection and action.name in (name, wanted):
                return action
        offered = sorted(a.name for a in self.spec.actions if a.collection == collection)
        raise UnsupportedOperationError(
            f"/{self.spec.path} has no action {name!r}"
            + (f" (it offers: {', '.join(offered)})" if offered else " (it has no actions)")
        )

    def _action_params(
        self, action: ActionSpec, params: Mapping[str, Any]
    ) -> builtins.list[tuple[str, str]]:
        out: builtins.list[tuple[str, str]] = []
        for name, value in params.items():
            wire = snake_to_camel(name)
            if action.params and wire not in action.params and name not in action.params:
                raise QueryError(
                    f"action {action.name} takes no parameter {name!r}; it takes: "
                    + ", ".join(action.params)
                )
            out.append((f"actionParams[{wire}]", _param_text(value)))
        given = {snake_to_camel(n) for n in params}
        missing = [p for p in action.required if p not in given]
        if missing:
            raise QueryError(f"action {action.name} needs: {', '.join(missing)}")
        return out

    async def action(self, id: int, name: str, /, **params: Any) -> R:
        """``POST /{path}/{id}/actions/{name}?actionParams[...]``; returns the updated resource."""
        action = self._action_spec(name, collection=False)
        url = (self._member_url(id) / "actions" / action.name).with_query(
            self._action_params(action, params)
        )
        request = Request(
            "POST", url, idempotent=action.idempotent, operation=f"{self.spec.path}.{action.name}"
        )
        return self._one(await self._send_document(request))

    # ------------------------------------------------------------------ resolving handles

    async def resolve(
        self, handles: Iterable[ToOne[R] | UnsetType | None], *, missing: str = "raise"
    ) -> builtins.list[R | None]:
        """Resolve many to-one handles with as few requests as possible, in input order.

        Handles whose response ``included`` the resource (or that were fetched already) cost
        nothing; the other ids are fetched once each with ``filter[id]=...``, in batches of up to
        1000 that keep the URL a safe length. ``None``, ``UNSET`` (a relationship the response
        did not carry) and null handles give None. Ids the server does not return raise
        :class:`MissingResourcesError` naming them (or give None with ``missing="none"``). A
        handle to another resource type raises :class:`QueryError` before any request.
        """
        if missing not in ("raise", "none"):
            raise QueryError('missing must be "raise" or "none"')
        handle_list = [None if h is None or h is UNSET else h for h in handles]
        found, wanted = resolve_locally(self.spec, handle_list)
        # The batches go out together; the client's max_concurrency and rate limiter pace them.
        batches = [
            self.list(filter={"id": batch}, page_size=MAX_BATCH_IDS).collect()
            for batch in id_batches(wanted)
        ]
        for models in await asyncio.gather(*batches):
            found.update((m.id, m) for m in models if m.id is not None)
        absent = [i for i in wanted if i not in found]
        if absent and missing == "raise":
            raise MissingResourcesError(self.spec.type, absent)
        return [
            found.get(h.id) if h is not None and h.id is not None else None for h in handle_list
        ]


_PAGE_502 = frozenset({502})


#: reads a page's body into a page of items: ``(body, url, type, transform)``
_PageDecoder = Callable[[bytes, URL, str, Callable[[Any], list[T]]], Page[T]]


def _decode_wire_page(
    body: bytes, url: URL, type_: str, transform: Callable[[list[dict[str, Any]]], list[T]]
) -> Page[T]:
    document = parse_document(body)
    if not isinstance(document.data, list):
        raise ResponseFormatError(f"expected a collection of {type_}")
    return Page(transform(document.data), document.links, document.meta, url)


def _decode_raw_page(
    body: bytes, url: URL, type_: str, transform: Callable[[Any], list[T]]
) -> Page[T]:
    raw = parse_raw_collection(body)
    if raw is None:
        return _decode_wire_page(body, url, type_, transform)
    data, links, meta = raw
    return Page(transform(data), links, meta, url)


def _relationship_value(target: str, to_many: bool, value: Any) -> dict[str, Any]:
    if to_many:
        if isinstance(value, ToMany):
            return relationship_to_wire(value)
        return {"data": [relationship_to_wire(to_one_from_value(target, v))["data"] for v in value]}
    if isinstance(value, ToOne):
        return relationship_to_wire(value)
    return relationship_to_wire(to_one_from_value(target, value))


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return format_datetime(value)
    if isinstance(value, (Ref, ToOne)):
        return str(value.id)
    if isinstance(value, Resource):
        return str(value.id)
    return str(value)


def _all_specs() -> Mapping[str, ResourceSpec]:
    return ALL_SPECS
