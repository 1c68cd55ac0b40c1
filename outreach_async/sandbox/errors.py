"""Errors the sandbox answers with, in Outreach's JSON:API error envelope.

``{"errors": [{"id", "title", "detail", "source": {"pointer"}}]}`` (outreach-api-facts.md §7).
Handlers and the pure query engine raise :class:`ApiError`; the app turns it into a response.

Ids named by the facts: ``resourceNotFound``, ``routeNotFound``, ``unsupportedMediaType``,
``validationError``, ``validationDuplicateValueError``, ``permittedParams.unknownAttribute``,
``fieldsParameter.unknownResourceField``, ``filterParameter.invalidDatetimeFormat``. Outreach's
ids for a few other 400s are not documented; the sandbox uses the same ``<param>.<problem>``
pattern for them (``filterParameter.unknownAttribute``, ``sortParameter.unsortableAttribute``,
``includeParameter.unknownRelationship``, ``pageParameter.invalid``...). Bad action params carry
no id at all, as the facts table shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

__all__ = [
    "JSONAPI_CONTENT_TYPE",
    "ApiError",
    "bad_parameter",
    "error_response",
    "not_found",
    "validation_error",
]

JSONAPI_CONTENT_TYPE = "application/vnd.api+json"


class ApiError(Exception):
    """One JSON:API error answer: status, error object fields and optional headers."""

    def __init__(
        self,
        status: int,
        error_id: str | None,
        title: str,
        detail: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        headers: Mapping[str, str] | None = None,
        detail_key: str = "detail",
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error_id = error_id
        self.title = title
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.headers = dict(headers or {})
        # The 415 example in Outreach's docs says "details", not "detail" (facts §7).
        self.detail_key = detail_key

    def to_json(self) -> dict[str, Any]:
        """The error object."""
        error: dict[str, Any] = {}
        if self.error_id is not None:
            error["id"] = self.error_id
        error["title"] = self.title
        error[self.detail_key] = self.detail
        source: dict[str, str] = {}
        if self.pointer is not None:
            source["pointer"] = self.pointer
        if self.parameter is not None:
            source["parameter"] = self.parameter
        if source:
            error["source"] = source
        return error


def error_response(error: ApiError) -> web.Response:
    """The HTTP answer for ``error``."""
    return web.Response(
        status=error.status,
        body=orjson.dumps({"errors": [error.to_json()]}),
        content_type=JSONAPI_CONTENT_TYPE,
        headers=error.headers,
    )


def bad_parameter(error_id: str, parameter: str, detail: str) -> ApiError:
    """A 400 about one query parameter."""
    return ApiError(400, error_id, "Invalid Parameter", detail, parameter=parameter)


def validation_error(detail: str, pointer: str, *, error_id: str = "validationError") -> ApiError:
    """A 422 ``validationError`` pointing at the offending part of the body."""
    return ApiError(422, error_id, "Validation Error", detail, pointer=pointer)


def not_found(type_: str, id_: object) -> ApiError:
    """404 ``resourceNotFound`` with Outreach's wording (facts §7)."""
    return ApiError(
        404, "resourceNotFound", "Resource Not Found", f"Could not find '{type_}' with ID '{id_}'."
    )
