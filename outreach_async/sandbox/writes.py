"""Reading and checking POST / PATCH documents, pure apart from existence checks on the store.

What Outreach answers (outreach-api-facts.md §6, §7):

* the document must be ``{"data": {"type": ..., ...}}`` with the collection's type; a wrong
  envelope is 422 ``validationError`` pointing at ``/data``; PATCH also needs ``data.id``
  (OAS ``required: ["type", "id"]``), equal to the URL's;
* an attribute that does not exist or is read-only is 400 ``permittedParams.unknownAttribute``
  (``linkedinUrl`` for ``linkedInUrl``); relationships likewise (``permittedParams.
  unknownRelationship``, the same pattern; to-many relationships are generally not writable);
* relationship ids are integers; a value of the wrong kind is 422 with ``source.pointer``;
* :data:`REQUIRED_ATTRIBUTES` / :data:`REQUIRED_RELATIONSHIPS` list what a create must carry
  (422 "Name can't be blank." with ``/data/attributes/name``). Outreach documents few of these:
  the account name (WK), a call's direction and outcome (common patterns), the three
  relationships of a sequence state (§8.1); the other rows are the sandbox's reading of the
  resources (a name for named things, the parent of a child record), kept short on purpose.

Datetime attribute values are stored in the API's millisecond ``Z`` form whatever form was sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from .._schema import AttributeSpec, ResourceSpec
from .errors import ApiError, validation_error
from .schema import POLYMORPHIC, RelationshipPlan, Schema
from .store import Store
from .times import normalize_date, normalize_datetime

__all__ = [
    "REQUIRED_ATTRIBUTES",
    "REQUIRED_RELATIONSHIPS",
    "WriteDocument",
    "check_required",
    "coerce_attribute",
    "humanize",
    "parse_write_document",
]

REQUIRED_ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    "account": ("name",),
    "call": ("direction", "outcome"),
    "callDisposition": ("name",),
    "callPurpose": ("name",),
    "complianceRequest": ("requester_email", "request_type", "object_type", "request_object_email"),
    "contentCategory": ("name",),
    "emailAddress": ("email",),
    "mailbox": ("email",),
    "opportunity": ("name",),
    "opportunityStage": ("name",),
    "persona": ("name",),
    "phoneNumber": ("number",),
    "profile": ("name",),
    "role": ("name",),
    "ruleset": ("name",),
    "sequence": ("name",),
    "sequenceStep": ("stepType",),
    "snippet": ("name",),
    "stage": ("name",),
    "task": ("action",),
    "taskDisposition": ("name",),
    "taskPurpose": ("name",),
    "team": ("name",),
    "user": ("email",),
    "webhook": ("url",),
}

REQUIRED_RELATIONSHIPS: Mapping[str, tuple[str, ...]] = {
    "accountNote": ("account",),
    "opportunityProspectRole": ("opportunity", "prospect"),
    "prospectNote": ("prospect",),
    "sequenceState": ("prospect", "sequence", "mailbox"),
    "sequenceStep": ("sequence",),
    "sequenceTemplate": ("sequenceStep", "template"),
}

_KIND_CHECKS: Mapping[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
}


@attrs.frozen
class WriteDocument:
    """A checked write: wire-named attributes (normalised) and relationship ids."""

    attributes: dict[str, Any]
    #: to-one: id, None or {"type", "id"} (polymorphic); to-many: list of ids
    relationships: dict[str, Any]
    #: relationship-level meta (``task: {"complete": true}`` when logging a call)
    relationship_meta: dict[str, dict[str, Any]]
    #: resource-level meta (``sendInvite`` on users)
    meta: dict[str, Any]


def humanize(wire: str) -> str:
    """``stepType`` -> ``Step type``: the field name Rails puts in a validation message."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", wire).replace("_", " ").lower()
    return words[:1].upper() + words[1:]


def coerce_attribute(attribute: AttributeSpec, value: Any, pointer: str) -> Any:
    """``value`` checked against the attribute's kind; datetimes and dates normalised."""
    if value is None:
        return None
    kind = attribute.kind
    if kind in ("datetime", "date"):
        if isinstance(value, str):
            try:
                return normalize_datetime(value) if kind == "datetime" else normalize_date(value)
            except ValueError:
                pass
        raise validation_error(f"{humanize(attribute.wire)} must be a valid {kind}.", pointer)
    expected = _KIND_CHECKS.get(kind)
    if expected is None or (isinstance(value, expected) and not _bool_as_number(kind, value)):
        return value
    raise validation_error(f"{humanize(attribute.wire)} must be of type {kind}.", pointer)


def _bool_as_number(kind: str, value: Any) -> bool:
    return kind in ("integer", "number") and isinstance(value, bool)


def _envelope(body: Any, spec: ResourceSpec) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise validation_error("The request body must hold a resource object under data.", "/data")
    if data.get("type") != spec.type:
        given = data.get("type")
        detail = "Type can't be blank." if given is None else f"Type must be '{spec.type}'."
        raise validation_error(detail, "/data/type")
    return data


def _check_id(data: Mapping[str, Any], member_id: int | None) -> None:
    if member_id is None:
        return  # POST: a client id is ignored, the server assigns ids (common patterns' ruleset)
    if "id" not in data or data["id"] is None:
        raise validation_error("Id can't be blank.", "/data/id")
    if data["id"] != member_id and str(data["id"]) != str(member_id):
        raise validation_error(f"Id must match the URL ({member_id}).", "/data/id")


def _unpermitted(kind: str, name: str, type_: str, pointer: str) -> ApiError:
    return ApiError(
        400,
        f"permittedParams.unknown{kind.capitalize()}",
        "Unpermitted Parameter",
        f"'{name}' is not a permitted {kind} of '{type_}'.",
        pointer=pointer,
    )


def _attributes(data: Mapping[str, Any], spec: ResourceSpec) -> dict[str, Any]:
    raw = data.get("attributes", {})
    if not isinstance(raw, dict):
        raise validation_error("Attributes must be an object.", "/data/attributes")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        pointer = f"/data/attributes/{name}"
        attribute = spec.attribute_by_wire.get(name)
        if attribute is None or attribute.read_only:
            raise _unpermitted("attribute", name, spec.type, pointer)
        out[name] = coerce_attribute(attribute, value, pointer)
    return out


def _identifier(
    value: Any, types: tuple[str, ...], store: Store, pointer: str
) -> tuple[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in types:
        raise validation_error(f"Must identify a resource of type {' or '.join(types)}.", pointer)
    id_ = value.get("id")
    if type(id_) is not int:
        raise validation_error("Relationship ids must be integers.", f"{pointer}/id")
    if store.get(value["type"], id_) is None:
        raise validation_error(f"Could not find '{value['type']}' with ID '{id_}'.", pointer)
    return value["type"], id_


def _relationship_value(
    plan: RelationshipPlan, source_type: str, obj: Any, store: Store, pointer: str
) -> Any:
    if not isinstance(obj, dict) or "data" not in obj:
        raise validation_error("A relationship must hold data.", pointer)
    data = obj["data"]
    types = POLYMORPHIC.get((source_type, plan.wire), (plan.target,))
    if plan.storage == "to_one":
        found = _identifier(data, types, store, f"{pointer}/data")
        if found is None or found[0] == plan.target:
            return None if found is None else found[1]
        return {"type": found[0], "id": found[1]}  # polymorphic, not the spec's target type
    if not isinstance(data, list):
        raise validation_error("A to-many relationship's data must be a list.", f"{pointer}/data")
    ids = [_identifier(item, types, store, f"{pointer}/data/{i}") for i, item in enumerate(data)]
    return [found[1] for found in ids if found is not None]


def _relationships(
    data: Mapping[str, Any], spec: ResourceSpec, schema: Schema, store: Store
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    raw = data.get("relationships", {})
    if not isinstance(raw, dict):
        raise validation_error("Relationships must be an object.", "/data/relationships")
    values: dict[str, Any] = {}
    metas: dict[str, dict[str, Any]] = {}
    for name, obj in raw.items():
        pointer = f"/data/relationships/{name}"
        plan = schema.plan(spec.type, name)
        writable = plan is not None and plan.storage in ("to_one", "stored")
        if plan is None or plan.spec.read_only or not writable:
            raise _unpermitted("relationship", name, spec.type, pointer)
        values[name] = _relationship_value(plan, spec.type, obj, store, pointer)
        if isinstance(obj.get("meta"), dict):
            metas[name] = obj["meta"]
    return values, metas


def parse_write_document(
    body: Any, spec: ResourceSpec, schema: Schema, store: Store, *, member_id: int | None = None
) -> WriteDocument:
    """Check a POST (``member_id`` None) or PATCH document for ``spec``'s endpoint."""
    data = _envelope(body, spec)
    _check_id(data, member_id)
    attributes = _attributes(data, spec)
    relationships, relationship_meta = _relationships(data, spec, schema, store)
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    return WriteDocument(attributes, relationships, relationship_meta, dict(meta or {}))


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def check_required(type_: str, document: WriteDocument) -> None:
    """422 for the first required attribute or relationship a create leaves blank."""
    for name in REQUIRED_ATTRIBUTES.get(type_, ()):
        if _blank(document.attributes.get(name)):
            raise validation_error(f"{humanize(name)} can't be blank.", f"/data/attributes/{name}")
    for name in REQUIRED_RELATIONSHIPS.get(type_, ()):
        if document.relationships.get(name) is None:
            raise validation_error(f"{humanize(name)} must exist.", f"/data/relationships/{name}")
