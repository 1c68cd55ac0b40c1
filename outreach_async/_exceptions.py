"""The one error tree of outreach_async, and the pure mapping from an HTTP answer to it.

Every exception the library raises is defined here and derives from :class:`OutreachError`
(the modules that raise them import them from here)::

    OutreachError
    ├── QueryError (also ValueError)     bad arguments, raised before any request
    │   ├── UnsupportedOperationError    the endpoint lacks the operation or action
    │   └── UnknownResourceError         the export was named a resource it cannot list
    ├── TransportError                   .method, .url; the aiohttp or timeout error as __cause__
    │   ├── ConnectError
    │   └── RequestTimeout
    ├── APIError                         .status, .errors, .headers, .body
    │   ├── BadRequestError 400   AuthenticationError 401   PermissionDeniedError 403
    │   ├── ConflictError 409   UnsupportedMediaTypeError 415   ValidationError 422
    │   ├── RateLimitError 429 (.retry_after)   ServerError 5xx
    │   └── NotFoundError 404
    │       └── MissingResourcesError    resolve() found nothing for some ids (.type, .ids)
    ├── ResponseFormatError              the answer is not the JSON:API document expected
    ├── FieldNotLoadedError (also AttributeError)  a model's id or stamp it does not hold
    ├── ClientClosedError                the client was closed
    ├── DetachedHandleError              a handle asked to fetch without a live client
    ├── AuthorizationError               the OAuth login redirect failed or never came
    ├── TokenStoreError                  a token store is empty, holds a bad set, or is unreachable
    ├── CheckpointError                  an export checkpoint cannot be read or written
    ├── OutputMismatchError              an export's output file differs from its checkpoint
    │   ├── OutputLockedError            another export is writing the same file
    │   └── UntrackedOutputError         it holds records no checkpoint accounts for
    ├── FleetConfigError                 a fleet.toml that cannot be used (names file and key)
    ├── SinkError                        a database sink cannot be used; nothing was written
    │   ├── SinkConnectError             the database is unreachable or refuses the login
    │   ├── SinkPermissionError          the role may not create or write its tables
    │   └── SinkLayoutError              a table exists with columns typed otherwise
    ├── WebhookVerificationError         a missing or wrong webhook signature
    └── WebhookPayloadError              a signed webhook body that is not an Outreach event

A token never appears in a message: URLs are shown without their query's secrets and headers are
never formatted into messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

__all__ = [
    "APIError",
    "AuthenticationError",
    "AuthorizationError",
    "BadRequestError",
    "CheckpointError",
    "ClientClosedError",
    "ConflictError",
    "ConnectError",
    "DetachedHandleError",
    "ErrorObject",
    "FieldNotLoadedError",
    "FleetConfigError",
    "MissingResourcesError",
    "NotFoundError",
    "OutputLockedError",
    "OutputMismatchError",
    "OutreachError",
    "PermissionDeniedError",
    "QueryError",
    "RateLimitError",
    "RequestTimeout",
    "ResponseFormatError",
    "ServerError",
    "SinkConnectError",
    "SinkError",
    "SinkLayoutError",
    "SinkPermissionError",
    "TokenStoreError",
    "TransportError",
    "UnknownResourceError",
    "UnsupportedMediaTypeError",
    "UnsupportedOperationError",
    "UntrackedOutputError",
    "ValidationError",
    "WebhookPayloadError",
    "WebhookVerificationError",
    "error_for_status",
    "valid_choices",
]


class OutreachError(Exception):
    """Base class of every error this library raises."""


class QueryError(OutreachError, ValueError):
    """Bad arguments (an unknown filter, sort key, field or operation); no request was sent."""


class UnsupportedOperationError(QueryError):
    """The endpoint does not offer this operation (raised before any request)."""


class UnknownResourceError(QueryError):
    """The name is not a resource this library knows, or the resource cannot be listed."""


class TransportError(OutreachError):
    """The request did not get an HTTP answer; the aiohttp or timeout error is ``__cause__``."""

    def __init__(self, message: str, *, method: str, url: str, sent: bool | None = None) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        #: False when the request provably never reached the server (connection refused),
        #: True or None when it may have arrived (a write may have taken effect).
        self.sent = sent


class ConnectError(TransportError):
    """The connection could not be made, or broke."""


class RequestTimeout(TransportError):
    """No complete answer within the timeout."""


@attrs.frozen
class ErrorObject:
    """One JSON:API error object (``errors[]``)."""

    id: str | None = None
    title: str | None = None
    detail: str | None = None
    pointer: str | None = None
    status: str | None = None
    code: str | None = None
    meta: Mapping[str, Any] | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ErrorObject:
        """Read one error object; Outreach sometimes writes ``details`` for ``detail``."""
        source = raw.get("source")
        pointer = source.get("pointer") if isinstance(source, Mapping) else None
        detail = raw.get("detail", raw.get("details"))
        meta = raw.get("meta")
        return cls(
            id=_str_or_none(raw.get("id")),
            title=_str_or_none(raw.get("title")),
            detail=_str_or_none(detail),
            pointer=_str_or_none(pointer),
            status=_str_or_none(raw.get("status")),
            code=_str_or_none(raw.get("code")),
            meta=meta if isinstance(meta, Mapping) else None,
        )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class APIError(OutreachError):
    """Outreach answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        errors: Sequence[ErrorObject] = (),
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        method: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = list(errors)
        self.headers: Mapping[str, str] = headers or {}
        self.body = body
        self.method = method
        self.url = url

    @property
    def error_ids(self) -> list[str]:
        """The ``id`` of every error object, e.g. ``["validationError"]``."""
        return [e.id for e in self.errors if e.id]


class BadRequestError(APIError):
    """400: a malformed request (unknown attribute, bad fieldset, bad filter value)."""


class AuthenticationError(APIError):
    """401: the token is missing, invalid or expired."""


class PermissionDeniedError(APIError):
    """403: the token lacks a scope, or the user may not do this."""


class NotFoundError(APIError):
    """404: no such resource or route (also for records the user cannot see)."""


class MissingResourcesError(NotFoundError):
    """``resolve()`` could not find some of the resources it was asked for."""

    def __init__(self, type_: str, ids: Sequence[int]) -> None:
        shown = ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else "")
        super().__init__(f"{len(ids)} {type_} resource(s) not found: {shown}", status=404)
        self.type = type_
        self.ids = list(ids)


class ConflictError(APIError):
    """409."""


class UnsupportedMediaTypeError(APIError):
    """415: a write without ``Content-Type: application/vnd.api+json``."""


class ValidationError(APIError):
    """422: the server rejected the data, or the resource's state forbids the action."""


class RateLimitError(APIError):
    """429: the rate limit (or the token mint throttle) was exceeded."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        #: seconds to wait before trying again, when the server said
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: a server or gateway failure (502 on too-large pages, 503 maintenance)."""


class ResponseFormatError(OutreachError):
    """The server answered with a body that is not the JSON:API document we expected."""


class ClientClosedError(OutreachError):
    """The client was closed; open a new one (or use it as ``async with``)."""


class DetachedHandleError(OutreachError):
    """A relationship handle was asked to fetch without a live client behind it."""


class AuthorizationError(OutreachError):
    """The authorization step failed: access denied, a ``state`` that does not match (a
    redirect this app did not ask for), or no redirect in time."""


class TokenStoreError(OutreachError):
    """A token store holds no token set or something that is not one (the message never shows
    it), or cannot be reached (Redis down: the store's own error is the ``__cause__``)."""


class CheckpointError(OutreachError):
    """A checkpoint store could not be read or written, or holds something unexpected.

    ``malformed`` is True when the stored state itself is unusable (not a database, not JSON,
    a document of the wrong shape): only starting over (``restart``) gets past it. Otherwise
    the store failed (unreachable, disk full) and the same run may succeed later.
    """

    def __init__(self, message: str, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.malformed = malformed


class OutputMismatchError(OutreachError):
    """The output file is shorter than its checkpoint says: something else changed it."""


class OutputLockedError(OutputMismatchError):
    """Another export is writing the same output file right now."""


class UntrackedOutputError(OutputMismatchError):
    """An incremental export's output already holds records that its checkpoint does not
    account for: the state is missing, empty, or was kept for another file. Appending would
    write those records a second time, so nothing is written; ``restart=True`` (``--restart``)
    discards the state and the file's contents and starts over."""

    def __init__(self, output: str, size: int) -> None:
        super().__init__(
            f"{output} already holds {size:,} bytes that no checkpoint accounts for (the state "
            "is missing, empty or kept for another file); appending would repeat its records: "
            "restart to discard the state and the file's contents and export everything again"
        )
        #: the output file's path
        self.output = output
        #: its size in bytes
        self.size = size


class FieldNotLoadedError(OutreachError, AttributeError):
    """A model does not hold this field: the ``id`` of a model not created yet, or a server
    stamp (``created_at``, ``updated_at``) a sparse fieldset left out. An ``AttributeError``,
    so ``getattr(model, "id", None)`` gives None."""


class FleetConfigError(OutreachError):
    """A fleet configuration (``fleet.toml``) that cannot be used: the message names the file,
    the key and what was expected."""


class SinkError(OutreachError):
    """A database sink cannot be used; nothing was written."""


class SinkConnectError(SinkError):
    """The database cannot be reached or refuses the login (the CLI exits 3)."""


class SinkPermissionError(SinkError):
    """The role may not create or write the tables, or the database is read-only (exit 3)."""


class SinkLayoutError(SinkError):
    """A table exists with columns typed otherwise than the layout (the CLI exits 2)."""


class WebhookVerificationError(OutreachError):
    """A webhook's signature is missing or does not match its body."""


class WebhookPayloadError(OutreachError):
    """A webhook body that is not the JSON:API-styled event Outreach sends (bad JSON or shape).

    Distinct from :class:`~outreach_async.WebhookVerificationError`: the signature (when one was
    checked) matched, so the sender is Outreach or holds the secret, but the body cannot be read.
    """


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    415: UnsupportedMediaTypeError,
    422: ValidationError,
    429: RateLimitError,
}


def error_class_for_status(status: int) -> type[APIError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


def describe_errors(status: int, errors: Sequence[ErrorObject], body: bytes) -> str:
    """A one-line message: the status and each error's id, title and detail (or a body excerpt)."""
    parts = []
    for error in errors:
        text = ": ".join(p for p in (error.id or error.title, error.detail) if p)
        if error.pointer:
            text += f" (at {error.pointer})"
        parts.append(text)
    if not parts and body:
        excerpt = body[:200].decode("utf-8", "replace").strip()
        parts.append(" ".join(excerpt.split()))
    return f"HTTP {status}" + (": " + "; ".join(parts) if parts else "")


def valid_choices(choices: Iterable[str]) -> str:
    """The end of a :class:`QueryError` message: ``; valid choices: a, b, c`` (sorted, unique)."""
    return "; valid choices: " + ", ".join(sorted(set(choices)))


def error_for_status(
    status: int,
    *,
    errors: Sequence[ErrorObject],
    headers: Mapping[str, str],
    body: bytes,
    method: str,
    url: str,
    retry_after: float | None = None,
) -> APIError:
    """Build the typed error for an HTTP error answer (pure; the caller parsed the body)."""
    cls = error_class_for_status(status)
    message = f"{method} {url} -> " + describe_errors(status, errors, body)
    common: dict[str, Any] = {
        "status": status,
        "errors": errors,
        "headers": headers,
        "body": body,
        "method": method,
        "url": url,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after, **common)
    return cls(message, **common)
