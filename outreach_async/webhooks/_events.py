"""Pure webhook handling: signature verification and typed events, with no I/O.

What Outreach sends (outreach-api-facts.md §9):

- ``POST`` with a JSON:API-styled body ``{"data": {type, id, attributes, relationships},
  "meta": {deliveredAt, eventName: "<type>.<action>", jobId}}``; payload version 2 adds a
  top-level ``beforeUpdate`` with the prior values. Created and updated events carry only the
  created or changed attributes; destroyed events carry the last known ones.
- Relationships come wrapped (``"owner": {"data": {"type": "user", "id": 2}}``) or, in a 2025
  sample, flattened (``"owner": {"type": "owner", "id": 2}``); ids are JSON integers;
  ``deliveredAt`` carries a local offset (``2025-11-04T01:40:36.795-08:00``).
- ``Outreach-Webhook-Signature``: lowercase hex HMAC-SHA256 of the raw body keyed with the
  webhook's secret, present only when a secret is set. ``Outreach-Webhook-ID``: a UUID per
  delivery; ``outreach-org-id``: the organisation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from .._converter import structure_resource
from .._exceptions import WebhookPayloadError, WebhookVerificationError
from .._schema import ResourceSpec
from .._wire import parse_datetime
from ..models import Resource, model_for_type

__all__ = [
    "DELIVERY_ID_HEADER",
    "ORG_ID_HEADER",
    "SIGNATURE_HEADER",
    "WebhookEvent",
    "WebhookPayloadError",
    "parse_event",
    "verify_signature",
]

SIGNATURE_HEADER = "Outreach-Webhook-Signature"
DELIVERY_ID_HEADER = "Outreach-Webhook-ID"
ORG_ID_HEADER = "outreach-org-id"

# 32 bytes of HMAC-SHA256 as hex. re.ASCII: str.isdigit-style Unicode digits must not pass.
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}", re.ASCII)
# Outreach sends the bare digest; a "sha256=" prefix (GitHub's style, added by some relays) is
# tolerated because stripping it changes nothing about what is compared.
_PREFIX = "sha256="


# ---------------------------------------------------------------- signature


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else bytes(secret)


def _normalized_signature(signature: object) -> str | None:
    """The signature as 64 lowercase hex characters, or None when it cannot be one."""
    if not isinstance(signature, str):
        return None
    text = signature.strip().lower()
    text = text.removeprefix(_PREFIX)
    return text if _HEX_DIGEST.fullmatch(text) else None


def verify_signature(raw_body: bytes, signature: str | None, secret: str | bytes) -> bool:
    """Whether ``signature`` is the HMAC-SHA256 of ``raw_body`` keyed with ``secret``.

    ``signature`` is the ``Outreach-Webhook-Signature`` header: hex, compared in constant time;
    upper-case hex, surrounding spaces and a ``sha256=`` prefix are accepted. Returns False and
    never raises for a missing, empty or malformed signature, and for an empty secret (an unset
    secret must not turn into a key anyone can sign with).
    """
    given = _normalized_signature(signature)
    if given is None or not secret:
        return False
    digest = hmac.new(_secret_bytes(secret), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(digest, given)


# ---------------------------------------------------------------- the typed event


@attrs.frozen(kw_only=True)
class WebhookEvent:
    """One webhook delivery, parsed.

    ``resource`` is the typed model (``Task``, ``Prospect``...) built from what the payload
    carried; fields it did not carry read as ``UNSET``. Relationship handles on it have no client
    behind them: read their ``.id``, or fetch through your client.
    """

    #: ``meta.eventName``: ``"<resource type>.<action>"``, e.g. ``"task.completed"``
    name: str
    #: ``data.type``, e.g. ``"task"``
    resource_type: str
    #: the part of ``name`` after the type: ``created``, ``updated``, ``destroyed``, ``completed``
    action: str
    #: ``data.id``: an integer for every Outreach resource (a string only where a payload, like an
    #: app lifecycle event, carries a non-numeric id)
    resource_id: int | str | None
    #: the typed model, or None for a type this library has no model for
    resource: Resource | None
    #: the ``data`` object exactly as delivered
    raw: Mapping[str, Any] = attrs.field(repr=False)
    #: names of the attributes, then relationships, the payload carried, snake_case where the
    #: type is known: what was set (created), changed (updated) or last known (destroyed)
    changed: tuple[str, ...]
    #: payload version 2: a model of the same class with the values before the update (only the
    #: changed fields set); None in version 1 or for an unknown type (see ``raw_before``)
    before: Resource | None
    #: ``beforeUpdate`` exactly as delivered, or None
    raw_before: Mapping[str, Any] | None = attrs.field(repr=False)
    #: ``meta.deliveredAt`` as an aware datetime (no offset is read as UTC); None when absent
    delivered_at: dt.datetime | None
    #: ``meta.jobId``, when sent
    job_id: str | None
    #: the ``Outreach-Webhook-ID`` header, when sent
    delivery_id: str | None
    #: the ``outreach-org-id`` header, when sent
    org_id: str | None
    #: the deduplication key: the delivery id, else the job id, else ``sha256:<hash of the body>``
    id: str


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Plain dicts from other frameworks may spell headers in any case.
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def _check_signature(raw_body: bytes, headers: Mapping[str, str], secret: str | bytes) -> None:
    if not secret:
        raise ValueError("the webhook secret is empty; pass secret=None to skip verification")
    signature = _header(headers, SIGNATURE_HEADER)
    if signature is None:
        raise WebhookVerificationError(f"no {SIGNATURE_HEADER} header")
    if not verify_signature(raw_body, signature, secret):
        raise WebhookVerificationError(f"{SIGNATURE_HEADER} does not match the body")


def _load(raw_body: bytes) -> tuple[dict[str, Any], dict[str, Any], Mapping[str, Any]]:
    """The document, its ``data`` object and its ``meta`` (top level, or inside ``data`` as in
    the developer guide's example)."""
    try:
        document = orjson.loads(raw_body)
    except orjson.JSONDecodeError as exc:
        raise WebhookPayloadError(f"the webhook body is not JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
        raise WebhookPayloadError("the webhook body has no 'data' object")
    data = document["data"]
    if not isinstance(data.get("type"), str) or not data["type"]:
        raise WebhookPayloadError("the webhook's data has no 'type'")
    meta = document.get("meta", data.get("meta"))
    if not isinstance(meta, Mapping):
        raise WebhookPayloadError("the webhook body has no 'meta' object")
    return document, data, meta


def _event_name(meta: Mapping[str, Any]) -> tuple[str, str]:
    name = meta.get("eventName")
    if not isinstance(name, str) or "." not in name:
        raise WebhookPayloadError(f"meta.eventName is not '<type>.<action>': {name!r}")
    prefix, _, action = name.partition(".")
    if not prefix or not action:
        raise WebhookPayloadError(f"meta.eventName is not '<type>.<action>': {name!r}")
    return name, action


def _delivered_at(meta: Mapping[str, Any]) -> dt.datetime | None:
    # Lenient on purpose: Outreach never resends, so a 400 over a timestamp would lose the event.
    value = meta.get("deliveredAt")
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def _resource_id(value: Any) -> int | str | None:
    if value is None or value.__class__ is int:
        return value
    if isinstance(value, str):
        return int(value) if value.isascii() and value.isdigit() else value
    return None


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# ---------------------------------------------------------------- relationships and models


def _wrapped_relationship(value: Any, wire: str, spec: ResourceSpec | None) -> Any:
    """A relationship value in the wrapped JSON:API form the models decode.

    Flattened values (``{"type": "owner", "id": 2}``, a list of those, or null) are wrapped in
    ``data``. A flattened type that names the relationship rather than a resource type
    (``owner``) is replaced by the relationship's target type (``user``) when the spec knows it.
    """
    if isinstance(value, Mapping) and ("data" in value or "links" in value or "meta" in value):
        return value
    if isinstance(value, list):
        return {"data": [_identifier(item, wire, spec) for item in value]}
    if value is None:
        return {"data": None}
    return {"data": _identifier(value, wire, spec)}


def _identifier(value: Any, wire: str, spec: ResourceSpec | None) -> Any:
    if not isinstance(value, Mapping):
        raise WebhookPayloadError(f"relationship {wire!r} is not a resource identifier: {value!r}")
    rel = spec.relationship_by_wire.get(wire) if spec is not None else None
    type_ = value.get("type")
    if rel is not None and (not isinstance(type_, str) or model_for_type(type_) is None):
        return {**value, "type": rel.target}
    return value


def _resource_object(data: Mapping[str, Any], spec: ResourceSpec | None) -> dict[str, Any]:
    attributes = data.get("attributes") or {}
    relationships = data.get("relationships") or {}
    if not isinstance(attributes, Mapping) or not isinstance(relationships, Mapping):
        raise WebhookPayloadError("data.attributes and data.relationships must be objects")
    wrapped = {wire: _wrapped_relationship(v, wire, spec) for wire, v in relationships.items()}
    return {
        "type": data["type"],
        "id": data.get("id"),
        "attributes": dict(attributes),
        "relationships": wrapped,
    }


def _before_object(before: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    # beforeUpdate's shape is unconfirmed (§9 cites one transcription): a resource object, or
    # the prior attribute values themselves.
    if not isinstance(before, Mapping):
        raise WebhookPayloadError("beforeUpdate is not an object")
    if "attributes" in before:
        return {**before, "type": data["type"], "id": before.get("id", data.get("id"))}
    return {"type": data["type"], "id": data.get("id"), "attributes": dict(before)}


def _changed_names(resource: Mapping[str, Any], spec: ResourceSpec | None) -> tuple[str, ...]:
    attribute_names = list(resource["attributes"])
    relationship_names = list(resource["relationships"])
    if spec is None:
        return (*attribute_names, *relationship_names)
    by_wire, rel_by_wire = spec.attribute_by_wire, spec.relationship_by_wire
    return (
        *(by_wire[w].name if w in by_wire else w for w in attribute_names),
        *(rel_by_wire[w].name if w in rel_by_wire else w for w in relationship_names),
    )


def _model(resource: Mapping[str, Any], cls: type[Resource] | None) -> Resource | None:
    if cls is None:
        return None
    try:
        return structure_resource(resource, cls)
    except (TypeError, ValueError, AttributeError) as exc:
        raise WebhookPayloadError(f"cannot read the {resource['type']} resource: {exc}") from exc


# ---------------------------------------------------------------- parse_event


def parse_event(
    raw_body: bytes, headers: Mapping[str, str], *, secret: str | bytes | None
) -> WebhookEvent:
    """Verify (when ``secret`` is given) and parse one webhook delivery into a typed event.

    Pass the body exactly as received (the signature covers its bytes) and the request headers.

    Raises:
        WebhookVerificationError: the signature header is missing or does not match.
        WebhookPayloadError: the body is not a JSON:API-styled webhook event.
        ValueError: ``secret`` is empty (pass ``None`` to skip verification deliberately).
    """
    if secret is not None:
        _check_signature(raw_body, headers, secret)
    document, data, meta = _load(raw_body)
    resource_type: str = data["type"]
    name, action = _event_name(meta)
    cls = model_for_type(resource_type)
    spec = cls.__resource_spec__ if cls is not None else None
    resource = _resource_object(data, spec)
    raw_before = document.get("beforeUpdate")
    before = None if raw_before is None else _model(_before_object(raw_before, data), cls)
    job_id = _optional_str(meta.get("jobId"))
    delivery_id = _optional_str(_header(headers, DELIVERY_ID_HEADER))
    return WebhookEvent(
        name=name,
        resource_type=resource_type,
        action=action,
        resource_id=_resource_id(data.get("id")),
        resource=_model(resource, cls),
        raw=data,
        changed=_changed_names(resource, spec),
        before=before,
        raw_before=raw_before,
        delivered_at=_delivered_at(meta),
        job_id=job_id,
        delivery_id=delivery_id,
        org_id=_optional_str(_header(headers, ORG_ID_HEADER)),
        id=delivery_id or job_id or "sha256:" + hashlib.sha256(raw_body).hexdigest(),
    )
