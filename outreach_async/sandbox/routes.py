"""The HTTP face of the sandbox: every ``/api/v2/...`` request, routed by hand.

One handler takes every path under the API prefix so that the answers for what does not exist
are Outreach's: 404 ``routeNotFound`` for an unknown path, 404 ``resourceNotFound`` for an
unknown id, 405 for a method the endpoint lacks (``ResourceSpec.operations``: events are
read-only, calls have no PATCH), 415 ``unsupportedMediaType`` (with ``details``, as the docs'
example has it) for a body without ``Content-Type: application/vnd.api+json`` (facts §1.1, §7).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import orjson
from aiohttp import web

from .._schema import ResourceSpec
from .actions import parse_action_params
from .backend import Backend
from .batches import start_batch
from .cursors import controller_name, decode_cursor, encode_cursor, index_after, index_before
from .errors import JSONAPI_CONTENT_TYPE, ApiError, error_response
from .filter_params import parse_filters
from .paging import (
    COUNT_LIMIT,
    MAX_OFFSET,
    PageRequest,
    PageSlice,
    build_url,
    offset_slice,
    parse_page,
    slice_after,
    slice_before,
)
from .query import Record
from .ratelimit import USER_ID_KEY
from .render import parse_fields, parse_include, requested_meta
from .sorting import SortKey, parse_sort
from .writes import parse_write_document

__all__ = ["API_PREFIX", "ApiHandler"]

API_PREFIX = "/api/v2"
_SEARCHABLE = frozenset({"account", "prospect"})


def _json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(document),
        content_type=JSONAPI_CONTENT_TYPE,
        headers=headers,
    )


def _route_not_found(method: str, path: str) -> ApiError:
    return ApiError(404, "routeNotFound", "Route Not Found", f"No route matches [{method}] {path}.")


def _unsupported_media_type() -> ApiError:
    return ApiError(
        415,
        "unsupportedMediaType",
        "Unsupported Media Type",
        "Expected Content-Type header to be 'application/vnd.api+json'.",
        detail_key="details",
    )


@attrs.frozen
class _Route:
    spec: ResourceSpec
    id: int | None = None
    action: str | None = None
    collection_action: str | None = None


class ApiHandler:
    """The aiohttp handler for everything under ``/api/v2``."""

    def __init__(
        self, backend: Backend, default_page_size: int = 50, default_user: int = 1
    ) -> None:
        self.backend = backend
        self.schema = backend.schema
        self.default_page_size = default_page_size
        self.default_user = default_user

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request (JSON:API errors included)."""
        try:
            return await self._dispatch(request)
        except ApiError as error:
            return error_response(error)

    # -- routing ---------------------------------------------------------------------------

    def _route(self, path: str) -> _Route | None:
        parts = path[len(API_PREFIX) :].strip("/").split("/")
        spec = self.schema.by_path.get(parts[0])
        if spec is None:
            return None
        if len(parts) == 1:
            return _Route(spec)
        if len(parts) == 3 and parts[1] == "actions":
            return _Route(spec, collection_action=parts[2])
        if not parts[1].isdigit():
            return None
        if len(parts) == 2:
            return _Route(spec, int(parts[1]))
        if len(parts) == 4 and parts[2] == "actions":
            return _Route(spec, int(parts[1]), parts[3])
        return None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.path
        if path.rstrip("/") == API_PREFIX:
            return self._root(request)
        route = self._route(path)
        if route is None:
            raise _route_not_found(method, path)
        await self._check_media_type(request, route)
        if route.collection_action is not None and route.spec.type != "batch":
            raise ApiError(
                501,
                "notImplemented",
                "Not Implemented",
                f"The sandbox does not run collection actions such as '{route.collection_action}'.",
            )
        if route.collection_action is not None:
            return await self._bulk_action(request, route.spec, route.collection_action)
        if route.action is not None:
            return self._action(request, route)
        if route.id is None:
            return await self._collection(request, route.spec)
        return await self._member(request, route.spec, route.id)

    async def _check_media_type(self, request: web.Request, route: _Route) -> None:
        if request.method not in ("POST", "PATCH"):
            return
        if route.action is not None and not await request.read():
            return  # member actions carry their params in the query, and no body
        if request.content_type != JSONAPI_CONTENT_TYPE:
            raise _unsupported_media_type()

    def _user(self, request: web.Request) -> int | None:
        user: int | None = request.get(USER_ID_KEY, self.default_user)
        return user

    @staticmethod
    def _base(request: web.Request) -> str:
        return f"{request.url.origin()}{API_PREFIX}"

    # -- handlers --------------------------------------------------------------------------

    def _root(self, request: web.Request) -> web.Response:
        base = self._base(request)
        links = {spec.path: f"{base}/{spec.path}" for spec in self.schema.by_type.values()}
        return _json({"links": dict(sorted(links.items())), "meta": {"sandbox": True}})

    async def _collection(self, request: web.Request, spec: ResourceSpec) -> web.Response:
        if request.method == "GET":
            check_operation(spec, "list", request)
            return self._list(request, spec)
        if request.method == "POST":
            check_operation(spec, "create", request)
            return await self._create(request, spec)
        raise _method_not_allowed(request)

    async def _member(self, request: web.Request, spec: ResourceSpec, id_: int) -> web.Response:
        operation = {"GET": "get", "PATCH": "update", "DELETE": "delete"}.get(request.method)
        if operation is None:
            raise _method_not_allowed(request)
        check_operation(spec, operation, request)
        if operation == "get":
            return self._show(request, spec, id_)
        if operation == "update":
            document = parse_write_document(
                await _body(request), spec, self.schema, self.backend.store, member_id=id_
            )
            record = self.backend.update(spec.type, id_, document, self._user(request))
            return self._single(request, spec, record)
        self.backend.delete(spec.type, id_)
        return web.Response(status=204)

    def _action(self, request: web.Request, route: _Route) -> web.Response:
        if request.method != "POST":
            raise _method_not_allowed(request)
        assert route.id is not None
        assert route.action is not None
        params = parse_action_params(request.query)
        record = self.backend.act(
            route.spec.type, route.id, route.action, params, self._user(request)
        )
        return self._single(request, route.spec, record)

    async def _bulk_action(
        self, request: web.Request, spec: ResourceSpec, name: str
    ) -> web.Response:
        """``POST /batches/actions/{name}``: start a batch (:mod:`.batches`), answer it (200)."""
        if request.method != "POST":
            raise _method_not_allowed(request)
        query = list(request.query.items())
        record = start_batch(self.backend, name, query, await _body(request), self._user(request))
        return self._single(request, spec, record)

    async def _create(self, request: web.Request, spec: ResourceSpec) -> web.Response:
        document = parse_write_document(await _body(request), spec, self.schema, self.backend.store)
        record = self.backend.create(spec.type, document, self._user(request))
        if spec.type == "complianceRequest":
            # Its own answer shape (common patterns, "Create Compliance Requests").
            batch = record["attributes"]["batchComplianceRequestUuid"]
            return _json({"data": {"batch_compliance_request_id": batch}}, status=201)
        response = self._single(request, spec, record, status=201)
        response.headers["Location"] = f"{self._base(request)}/{spec.path}/{record['id']}"
        return response

    def _single(
        self, request: web.Request, spec: ResourceSpec, record: Record, status: int = 200
    ) -> web.Response:
        # Includes on write answers were removed in 2023 (facts §5): writes answer the resource.
        resource = self.backend.renderer.resource(spec.type, record, self._base(request))
        return _json({"data": resource}, status=status)

    def _show(self, request: web.Request, spec: ResourceSpec, id_: int) -> web.Response:
        record = self.backend.require(spec.type, id_)
        pairs = list(request.query.items())
        tree = parse_include(request.query.get("include"), spec, self.schema)
        fields = parse_fields(pairs, self.schema)
        base = self._base(request)
        document: dict[str, Any] = {
            "data": self.backend.renderer.resource(spec.type, record, base, fields)
        }
        _add_meta([document["data"]], requested_meta(request.query, spec))
        if tree:
            document["included"] = self.backend.renderer.included(
                spec.type, [record], tree, base, fields
            )
        self.backend.after_read(spec.type, [record])
        return _json(document)

    def _list(self, request: web.Request, spec: ResourceSpec) -> web.Response:
        query = request.query
        pairs = list(query.items())
        filters = parse_filters(
            pairs,
            spec,
            self.schema.spec,
            new_syntax=query.get("newFilterSyntax", "").lower() == "true",
            searchable=spec.type in _SEARCHABLE,
        )
        sort = parse_sort(query.get("sort"), spec)
        tree = parse_include(query.get("include"), spec, self.schema)
        fields = parse_fields(pairs, self.schema)
        page = parse_page(query, self.default_page_size)
        rows = self.backend.runner.rows(spec.type, filters, sort)
        page_slice = self._slice(rows, sort, page, spec)
        records = rows[page_slice.start : page_slice.end]
        base = self._base(request)
        renderer = self.backend.renderer
        document: dict[str, Any] = {
            "data": [renderer.resource(spec.type, r, base, fields) for r in records]
        }
        _add_meta(document["data"], requested_meta(query, spec))
        if records:  # no links at all on an empty result (facts §3, §11.4)
            document["links"] = _links(
                f"{base}/{spec.path}", pairs, rows, sort, page, page_slice, spec
            )
        if tree and records:
            document["included"] = renderer.included(spec.type, records, tree, base, fields)
        if page.count:
            document["meta"] = {
                "count": min(len(rows), COUNT_LIMIT),
                "count_truncated": len(rows) > COUNT_LIMIT,
            }
        self.backend.after_read(spec.type, records)
        return _json(document)

    @staticmethod
    def _slice(
        rows: Sequence[Record], sort: Sequence[SortKey], page: PageRequest, spec: ResourceSpec
    ) -> PageSlice:
        if page.offset is not None:
            return offset_slice(page.offset, page.size, len(rows))
        controller = controller_name(spec.path)
        if page.after is not None:
            cursor = decode_cursor(page.after, sort, controller, "page[after]")
            return slice_after(index_after(rows, sort, cursor), page.size, len(rows))
        if page.before is not None:
            cursor = decode_cursor(page.before, sort, controller, "page[before]")
            return slice_before(index_before(rows, sort, cursor), page.size, len(rows))
        return slice_after(0, page.size, len(rows))


def _add_meta(resources: Sequence[dict[str, Any]], meta: dict[str, Any] | None) -> None:
    if meta is not None:
        for resource in resources:
            resource["meta"] = dict(meta)


def _method_not_allowed(request: web.Request) -> ApiError:
    return ApiError(
        405,
        "methodNotAllowed",
        "Method Not Allowed",
        f"{request.method} is not supported on {request.path}.",
    )


def check_operation(spec: ResourceSpec, operation: str, request: web.Request) -> None:
    """405 for an operation the endpoint lacks (events are read-only, calls have no PATCH)."""
    if operation not in spec.operations:
        raise _method_not_allowed(request)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        raise ApiError(
            400, "invalidJson", "Bad Request", "The request body is not valid JSON."
        ) from None


def _links(
    base: str,
    pairs: Sequence[tuple[str, str]],
    rows: Sequence[Record],
    sort: Sequence[SortKey],
    page: PageRequest,
    page_slice: PageSlice,
    spec: ResourceSpec,
) -> dict[str, str]:
    """``first`` / ``prev`` / ``next`` (and ``last`` in offset mode) keeping every parameter."""
    if page.offset is not None:
        return _offset_links(base, pairs, page, page_slice)
    controller = controller_name(spec.path)
    cursors = {"page[after]": None, "page[before]": None}
    links = {"first": build_url(base, pairs, cursors)}
    if page_slice.has_prev:
        before = encode_cursor(rows[page_slice.start], sort, controller)
        links["prev"] = build_url(base, pairs, {**cursors, "page[before]": before})
    if page_slice.has_next:
        after = encode_cursor(rows[page_slice.end - 1], sort, controller)
        links["next"] = build_url(base, pairs, {**cursors, "page[after]": after})
    return links


def _offset_links(
    base: str, pairs: Sequence[tuple[str, str]], page: PageRequest, page_slice: PageSlice
) -> dict[str, str]:
    limit, offset = page.size, page.offset or 0

    def at(value: int) -> str:
        return build_url(base, pairs, {"page[offset]": str(value), "page[limit]": str(limit)})

    last = min(max(page_slice.total - 1, 0) // limit * limit, MAX_OFFSET)
    links = {"first": at(0), "last": at(last)}
    if offset > 0:
        links["prev"] = at(max(offset - limit, 0))
    if page_slice.has_next and offset + limit <= MAX_OFFSET:
        links["next"] = at(offset + limit)
    return links
