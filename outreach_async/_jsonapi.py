"""The JSON:API codec, pure: parse response documents and build request documents.

Outreach speaks JSON:API 1.0 with integer ids. Relationships may carry ``data``, only ``links``,
or only ``meta``; all three are legal (tap-outreach crashed on the last, facts section 6).
Documents stay as decoded dictionaries here; turning resource objects into models is the
converter's job, done lazily page by page.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from ._exceptions import ErrorObject, ResponseFormatError


def _optional_simdjson() -> Any:
    try:  # the export's wire path reads pages with it, without building Python objects
        return importlib.import_module("simdjson")
    except ImportError:  # then every page is read by parse_document
        return None


#: pysimdjson, or None when it cannot be imported
simdjson: Any = _optional_simdjson()

__all__ = [
    "SIMDJSON_OBJECT",
    "SIMDJSON_OBJECT_OR_NONE",
    "Document",
    "build_resource_document",
    "dumps",
    "parse_document",
    "parse_error_body",
    "parse_raw_collection",
]

JSON = Any


def dumps(value: JSON) -> bytes:
    """Encode a request document."""
    return orjson.dumps(value)


@attrs.define
class Document:
    """A parsed top-level document. ``data`` is a list (collection), a dict, or None."""

    data: list[dict[str, Any]] | dict[str, Any] | None
    included: list[dict[str, Any]] = attrs.field(factory=list)
    links: dict[str, Any] = attrs.field(factory=dict)
    meta: dict[str, Any] = attrs.field(factory=dict)

    @property
    def is_collection(self) -> bool:
        return isinstance(self.data, list)

    def resources(self) -> list[dict[str, Any]]:
        """The primary resource objects as a list (empty for ``data: null``)."""
        if isinstance(self.data, list):
            return self.data
        return [] if self.data is None else [self.data]


def parse_document(body: bytes | JSON) -> Document:
    """Parse a success document; anything that is not JSON:API raises ResponseFormatError."""
    raw = _decode(body) if isinstance(body, (bytes, bytearray, memoryview)) else body
    if not isinstance(raw, dict):
        raise ResponseFormatError(
            f"expected a JSON:API document (an object), got {type(raw).__name__}"
        )
    data = raw.get("data")
    if data is not None and not isinstance(data, (list, dict)):
        raise ResponseFormatError("a JSON:API document's data must be an object, a list or null")
    included = raw.get("included") or []
    links = raw.get("links") or {}
    meta = raw.get("meta") or {}
    if not isinstance(included, list) or not isinstance(links, dict) or not isinstance(meta, dict):
        raise ResponseFormatError("malformed JSON:API document (included, links or meta)")
    return Document(data=data, included=included, links=links, meta=meta)


def parse_raw_collection(body: bytes) -> tuple[Any, dict[str, Any], dict[str, Any]] | None:
    """A collection page read with simdjson: its ``data`` (a ``simdjson.Array`` of resource
    object proxies), ``links`` and ``meta``; None when simdjson is not installed or the page is
    not a plain collection it reads (numbers beyond 64 bits, a malformed document...): then
    :func:`parse_document` reads it, as it reads every page without simdjson.

    Each call parses with a parser of its own: the proxies keep their document alive, and a
    parser cannot parse again while proxies of its last document exist."""
    if simdjson is None or not body:
        return None
    try:
        document = simdjson.Parser().parse(body)
    except (ValueError, RuntimeError):  # not JSON, or a number orjson reads and simdjson not
        return None
    if document.__class__ is not simdjson.Object:
        return None
    data, links, meta = document.get("data"), document.get("links"), document.get("meta")
    included = document.get("included")
    if data.__class__ is not simdjson.Array or included.__class__ not in _RAW_LIST:
        return None
    if (
        links.__class__ not in SIMDJSON_OBJECT_OR_NONE
        or meta.__class__ not in SIMDJSON_OBJECT_OR_NONE
    ):
        return None  # parse_document judges those (an empty list is as good as no object)
    links = links.as_dict() if links is not None else {}
    meta = meta.as_dict() if meta is not None else {}
    return data, links, meta


#: the class of a JSON object read by simdjson (None without simdjson)
SIMDJSON_OBJECT: Any = None if simdjson is None else simdjson.Object
#: the classes of a member that is a JSON object read by simdjson, or absent
SIMDJSON_OBJECT_OR_NONE: tuple[Any, ...] = (SIMDJSON_OBJECT, type(None))
_RAW_LIST: tuple[Any, ...] = (type(None),) if simdjson is None else (simdjson.Array, type(None))


def _decode(body: bytes | bytearray | memoryview) -> JSON:
    if not body:
        return {"data": None}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        excerpt = bytes(body[:120]).decode("utf-8", "replace")
        raise ResponseFormatError(
            f"the server answered with a body that is not JSON: {excerpt!r}"
        ) from exc


def parse_error_body(body: bytes) -> list[ErrorObject]:
    """The JSON:API error objects of an error answer; [] for any other body. Never raises."""
    try:
        raw = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return []
    if not isinstance(raw, dict):
        return []
    errors = raw.get("errors")
    if isinstance(errors, list):
        return [ErrorObject.from_json(e) for e in errors if isinstance(e, dict)]
    # The gateway's shape for bad tokens: {"error": "...", "description": "..."} (facts 1.3)
    if isinstance(raw.get("error"), str):
        detail = raw.get("description", raw.get("error_description"))
        return [ErrorObject(id=raw["error"], title=raw["error"], detail=_opt_str(detail))]
    return []


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def build_resource_document(
    type_: str,
    *,
    id_: int | None = None,
    attributes: Mapping[str, Any] | None = None,
    relationships: Mapping[str, dict[str, Any]] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A request document ``{"data": {type, id?, attributes?, relationships?, meta?}}``.

    Empty sections are left out, so a PATCH carries exactly what changed.
    """
    data: dict[str, Any] = {"type": type_}
    if id_ is not None:
        data["id"] = id_
    if attributes:
        data["attributes"] = dict(attributes)
    if relationships:
        data["relationships"] = dict(relationships)
    if meta:
        data["meta"] = dict(meta)
    return {"data": data}
