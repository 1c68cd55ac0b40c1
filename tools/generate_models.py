"""Generate ``outreach_async/models`` from Outreach's OpenAPI and JSON hyper-schema.

Usage: ``python tools/generate_models.py [--spec-dir DIR] [--out DIR]`` (``nox -s generate`` runs it
and then ``ruff format``). The output is deterministic: the same specs give the same bytes.

Sources, and what each one is trusted for:

- ``outreach-openapi.json``: ``components.schemas.<type>`` gives the attributes (JSON type, format,
  and the R/F/S badges ``readonly.svg`` / ``filterable.svg`` / ``sortable.svg`` in the
  descriptions); ``<type>Relationships`` gives the relationships (target type from ``data.type``
  enums, "cannot be used as a filter", "You can use attributes ... to filter"); ``paths`` give the
  operations and the actions with their ``actionParams``.
- ``outreach-hyper-schema.json``: the 50 resource types we model, their URL path, which
  relationships render links-only (``data: false``) and the targets of relationships the OpenAPI
  leaves untyped.

Where the source documents (``outreach-api-facts.md``, the common-patterns page) and the specs
disagree, the documents win. Every override is a table below (``EXTRA_ATTRIBUTES``,
``WIRE_RENAMES``, ``ALWAYS_READ_ONLY``, ``POLYMORPHIC_DEFAULT``, ``UNTYPED_RELATIONSHIP_TARGETS``,
``IDEMPOTENT_ACTIONS``) with the reason next to it.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC_DIR = REPO_ROOT / ".." / "shared" / "reference"
DEFAULT_OUT_DIR = REPO_ROOT / "outreach_async" / "models"
OPENAPI_FILE = "outreach-openapi.json"
HYPER_SCHEMA_FILE = "outreach-hyper-schema.json"

JSON = dict[str, Any]

#: one module per resource family; every hyper-schema type must appear exactly once
FAMILIES: dict[str, tuple[str, ...]] = {
    "accounts": ("account", "accountNote"),
    "prospects": ("prospect", "prospectNote", "emailAddress", "phoneNumber", "stage"),
    "opportunities": (
        "opportunity",
        "opportunityProspectRole",
        "opportunityStage",
        "product",
        "purchase",
    ),
    "sequences": ("sequence", "sequenceState", "sequenceStep", "sequenceTemplate", "ruleset"),
    "mail": ("mailing", "mailbox", "mailAlias", "template", "snippet", "recipient"),
    "tasks": ("task", "taskDisposition", "taskPriority", "taskPurpose"),
    "calls": ("call", "callDisposition", "callPurpose", "kaiaRecording", "kaiaVoiceImport"),
    "users": ("user", "team", "role", "profile", "persona", "duty", "favorite", "orgSetting"),
    "content": ("contentCategory", "contentCategoryMembership", "contentCategoryOwnership"),
    "batches": ("batch", "batchItem", "import", "complianceRequest"),
    "events": ("event", "auditLog", "webhook"),
}

FAMILY_DOCS: dict[str, str] = {
    "accounts": "Accounts and their notes.",
    "prospects": "Prospects, their notes, email addresses, phone numbers and stages.",
    "opportunities": "Opportunities, their stages and prospect roles, products and purchases.",
    "sequences": "Sequences, their steps, templates and rulesets, and sequence states.",
    "mail": "Mailings, mailboxes and aliases, templates, snippets and recipients.",
    "tasks": "Tasks and their dispositions, priorities and purposes.",
    "calls": "Calls, their dispositions and purposes, and Kaia recordings.",
    "users": "Users, teams, roles, profiles, personas, duties, favorites and org settings.",
    "content": "Content categories and their memberships and ownerships.",
    "batches": "Bulk operations: batches and their items, imports, compliance requests.",
    "events": "Application events, audit logs and webhooks.",
}

# Actions that are safe to repeat by nature: a state transition that lands in the same state, or
# a setter that sets the same value. The retry layer may resend these (ActionSpec.idempotent).
# advance/deliver/logMeetInPerson/testSend and every bulk action are not: a retry repeats them.
IDEMPOTENT_ACTIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("sequenceState", "finish"),
        ("sequenceState", "pause"),
        ("sequenceState", "resume"),
        ("sequence", "activate"),
        ("sequence", "deactivate"),
        ("sequenceTemplate", "activate"),
        ("sequenceTemplate", "deactivate"),
        ("task", "markComplete"),
        ("task", "snooze"),
        ("task", "reschedule"),
        ("task", "updateNote"),
        ("task", "reassignOwner"),
        ("batch", "cancel"),
    }
)

# Polymorphic relationships name several targets; the spec's type list is kept in the annotation
# (ToOne[A | B]) and this picks the target used for a bare int id. Without an entry: the first
# target in the spec's order. task.creator lists sequenceStep first, but users create tasks;
# a task's subject is most often a prospect.
POLYMORPHIC_DEFAULT: dict[tuple[str, str], str] = {
    ("task", "creator"): "user",
    ("task", "subject"): "prospect",
}

# Relationships the OpenAPI declares with neither ``data`` nor ``links`` and no target type
# (mailing.toEntitiesId & co.): arrays of ids of the mailing's recipients and prospects.
UNTYPED_RELATIONSHIP_TARGETS: dict[tuple[str, str], str] = {
    ("mailing", "toEntitiesId"): "recipient",
    ("mailing", "ccEntitiesId"): "recipient",
    ("mailing", "bccEntitiesId"): "recipient",
    ("mailing", "prospectsIds"): "prospect",
}

# Attributes added because the source documents show them although the OpenAPI omits them.
EXTRA_ATTRIBUTES: dict[str, tuple[JSON, ...]] = {
    # API.md and outreach-api-facts.md: events are listed with ``/events?sort=-updatedAt``; the
    # source document wins over the OpenAPI, which has no updatedAt on events.
    "event": (
        {
            "wire": "updatedAt",
            "type": "string",
            "format": "date-time",
            "flags": ("readonly", "filterable", "sortable"),
            "description": "The date and time the event was last updated.",
        },
    ),
    # common-patterns "Create Compliance Requests": the create body is snake_case
    # (requester_email, request_type, object_type, request_object_email) and the create response
    # carries batch_compliance_request_id; requests of a batch are listed with
    # ``filter[batchComplianceRequest]=<uuid>``, a filter-only key.
    "complianceRequest": (
        {
            "wire": "requester_email",
            "type": "string",
            "description": "Email of the Outreach user making the request (create only).",
        },
        {
            "wire": "request_object_email",
            "type": "string",
            "description": "Email of the prospect to delete (create only).",
        },
        {
            "wire": "batch_compliance_request_id",
            "type": "string",
            "flags": ("readonly",),
            "description": "The UUID of the batch the create request started.",
        },
        {
            "wire": "batchComplianceRequest",
            "type": "string",
            "flags": ("readonly", "filterable"),
            "description": "Filter-only: the batch UUID (filter[batchComplianceRequest]=uuid).",
        },
    ),
}

READONLY_BADGE = "<img src=https://developers.outreach.io/badges/readonly.svg>"

# Relationships the source document shows although the OpenAPI omits them: common-patterns
# "Save Snippets and Templates" renders a template's mailings and tasks as links-only
# related collections (``/mailings?filter[template][id]=1``).
EXTRA_RELATIONSHIPS: dict[str, tuple[tuple[str, str], ...]] = {
    "template": (("mailings", "mailing"), ("tasks", "task")),
}

# Attributes whose wire name is not the OpenAPI's: compliance requests are written snake_case
# (common-patterns "Create Compliance Requests"), whatever the OpenAPI's camelCase says.
WIRE_RENAMES: dict[tuple[str, str], str] = {
    ("complianceRequest", "requestType"): "request_type",
    ("complianceRequest", "objectType"): "object_type",
}

# createdAt and updatedAt are read-only everywhere (outreach-api-facts.md §6), badge or not.
ALWAYS_READ_ONLY = frozenset({"createdAt", "updatedAt"})

# The attribute that moves when a record changes, for types without updatedAt. auditLog records
# are immutable and stamped ``timestamp``; notes and batch items are never edited after creation.
WATERMARK_FALLBACKS = ("updatedAt", "createdAt", "eventAt", "timestamp")

# Attributes Outreach stamps on every stored record and never sends null (outreach-api-facts.md
# §6): typed as plain datetimes (ServerStamp), read-only, not constructor arguments. The
# OpenAPI marks every property nullable, so it cannot tell these apart; the documents can.
SERVER_STAMPS = frozenset({"createdAt", "updatedAt"})

# The types that take the prefix search filter[q]=... (outreach-api-facts.md §4). The generator
# reads no module of the package it generates; a test checks this equals _query's set.
SEARCHABLE_TYPES = frozenset({"account", "prospect"})

# Names the Resource base class owns, and names the generated class body itself uses.
RESERVED_FIELD_NAMES = frozenset({"id", "extra", "meta", "changed_fields", "_id", "_origin"})
CLASS_BODY_NAMES = frozenset(
    {
        "attrs",
        "ServerStamp",
        "TypedDict",
        "UNSET",
        "UnsetType",
        "ClassVar",
        "Any",
        "ToOne",
        "ToMany",
        "Resource",
        "ResourceSpec",
        "AttributeSpec",
        "RelationshipSpec",
        "ActionSpec",
        "frozenset",
        "str",
        "int",
        "float",
        "bool",
        "list",
        "dict",
        "_dt",
        "_conv",
        "_abc",
        "Range",
        "NullTest",
        "FilterValue",
        "RelationshipFilter",
    }
)

BADGE_RE = re.compile(r"<img src=https://developers\.outreach\.io/badges/(\w+)\.svg>")
FILTER_ATTRS_RE = re.compile(r"You can use (?:only )?(?:the )?attributes? (.+?) to filter")
# "You can use any filterable attribute of sequenceStep": id plus the target's filterable ones.
ANY_FILTERABLE_TEXT = "You can use any filterable attribute of"
ANY_FILTERABLE = ("*",)
NO_FILTER_TEXT = "cannot be used as a filter"
# Typographic characters that ruff (RUF001/RUF002) flags as ambiguous in strings and docstrings.
ASCII_PUNCTUATION = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


# -- the intermediate model ------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    """One attribute of one resource type, as it will be generated."""

    name: str
    wire: str
    kind: str
    annotation: str
    item_kind: str = "any"
    read_only: bool = False
    filterable: bool = False
    sortable: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Relationship:
    """One relationship of one resource type, as it will be generated."""

    name: str
    wire: str
    target: str
    #: every type the spec names for it (more than one when polymorphic)
    targets: tuple[str, ...]
    to_many: bool = False
    read_only: bool = False
    links_only: bool = False
    filterable: bool = True
    filter_attributes: tuple[str, ...] = ("id",)
    doc: str = ""


@dataclass(frozen=True)
class Action:
    """A member or collection action of one resource type."""

    name: str
    params: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    collection: bool = False
    idempotent: bool = False


@dataclass(frozen=True)
class ResourceType:
    """Everything generated for one resource type."""

    type: str
    class_name: str
    module: str
    path: str
    description: str
    attributes: tuple[Attribute, ...]
    relationships: tuple[Relationship, ...]
    operations: tuple[str, ...]
    actions: tuple[Action, ...]
    watermark: str | None
    #: optional resource meta keys and the query flag that adds each (hyper-schema ``meta``)
    meta_params: tuple[tuple[str, str], ...] = field(default=())


# -- naming ----------------------------------------------------------------------------------


def snake_case(name: str) -> str:
    """``linkedInUrl`` -> ``linked_in_url``; ``addressStreet2`` -> ``address_street2``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def python_name(wire: str) -> str:
    """The Python field name for a wire name: snake_case, keywords get a trailing underscore."""
    name = snake_case(wire)
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        name += "_"
    return name


def class_name(type_: str) -> str:
    """``sequenceState`` -> ``SequenceState``; ``import`` -> ``Import``."""
    return type_[0].upper() + type_[1:]


def clean_text(text: str) -> str:
    """A spec description without badges, trimmed, with plain ASCII punctuation."""
    return BADGE_RE.sub("", text).strip().translate(ASCII_PUNCTUATION)


def badges(description: str) -> set[str]:
    return set(BADGE_RE.findall(description))


# -- reading the specs -----------------------------------------------------------------------


def load_specs(spec_dir: Path) -> tuple[JSON, JSON]:
    """The OpenAPI document and the hyper-schema's ``definitions``."""
    openapi = json.loads((spec_dir / OPENAPI_FILE).read_text(encoding="utf-8"))
    hyper = json.loads((spec_dir / HYPER_SCHEMA_FILE).read_text(encoding="utf-8"))
    return openapi, hyper["definitions"]


def resource_path(hyper_type: JSON) -> str:
    """The URL path of a type (``prospects``), from the hyper-schema's links."""
    for link in hyper_type["links"]:
        href: str = link["href"]
        segments = href.removeprefix("/api/v2/").split("/")
        return segments[0]
    raise ValueError("hyper-schema type without links")


def kind_of(schema: Mapping[str, Any]) -> str:
    """Our AttributeKind for an OpenAPI (or hyper-schema) property schema."""
    type_ = schema.get("type")
    fmt = schema.get("format")
    if type_ == "string":
        return {"date-time": "datetime", "date": "date"}.get(fmt or "", "string")
    if type_ == "number" and fmt == "integer":
        return "integer"
    if isinstance(type_, str) and type_.endswith("[]"):
        return "array"
    return {
        "integer": "integer",
        "number": "number",
        "boolean": "boolean",
        "array": "array",
        "object": "object",
    }.get(str(type_), "any")


SCALAR_ANNOTATIONS = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "datetime": "_dt.datetime",
    "date": "_dt.date",
    "object": "dict[str, Any]",
    "any": "Any",
}


def annotation_of(schema: Mapping[str, Any]) -> str:
    """The Python type of a value of this schema (without ``| None | UnsetType``)."""
    kind = kind_of(schema)
    if kind != "array":
        return SCALAR_ANNOTATIONS[kind]
    items = schema.get("items")
    if isinstance(items, Mapping) and "type" in items:
        return f"list[{annotation_of(items)}]"
    return "list[Any]"


def item_schema(openapi_prop: JSON, hyper_prop: JSON | None) -> JSON | None:
    """The items schema of an array, from the hyper-schema when the OpenAPI leaves it untyped."""
    items = openapi_prop.get("items")
    if isinstance(items, dict) and "type" in items:
        return items
    hyper_items = (hyper_prop or {}).get("items")
    if isinstance(hyper_items, dict) and "type" in hyper_items:
        return hyper_items
    return None


def build_attribute(type_: str, wire: str, prop: JSON, hyper_prop: JSON | None) -> Attribute:
    flags = badges(prop.get("description", ""))
    schema = dict(prop)
    kind = kind_of(schema)
    item_kind = "any"
    if kind == "array":
        items = item_schema(prop, hyper_prop)
        schema["items"] = items or {}
        item_kind = kind_of(items) if items else "any"
    wire = WIRE_RENAMES.get((type_, wire), wire)
    return Attribute(
        name=python_name(wire),
        wire=wire,
        kind=kind,
        annotation=annotation_of(schema),
        item_kind=item_kind,
        read_only="readonly" in flags or wire in ALWAYS_READ_ONLY,
        filterable="filterable" in flags,
        sortable="sortable" in flags,
        doc=clean_text(prop.get("description", "")),
    )


def extra_attribute(spec: JSON) -> Attribute:
    flags = set(spec.get("flags", ()))
    schema = {k: v for k, v in spec.items() if k in ("type", "format", "items")}
    return Attribute(
        name=python_name(spec["wire"]),
        wire=spec["wire"],
        kind=kind_of(schema),
        annotation=annotation_of(schema),
        read_only="readonly" in flags,
        filterable="filterable" in flags,
        sortable="sortable" in flags,
        doc=spec["description"],
    )


def build_attributes(type_: str, schema: JSON, hyper_defs: JSON) -> tuple[Attribute, ...]:
    props: JSON = schema.get("properties", {})
    attributes = [
        build_attribute(type_, wire, prop, hyper_defs.get(wire)) for wire, prop in props.items()
    ]
    known = {a.wire for a in attributes}
    for extra in EXTRA_ATTRIBUTES.get(type_, ()):
        if extra["wire"] not in known:
            attributes.append(extra_attribute(extra))
    return tuple(attributes)


# -- relationships ---------------------------------------------------------------------------


def hyper_targets(hyper_rel: JSON) -> tuple[tuple[str, ...], bool | None]:
    """Targets named by a hyper-schema relationship, and whether it is to-many (None: unknown)."""

    def refs(node: JSON) -> list[str]:
        if "$ref" in node:
            return [str(node["$ref"]).rsplit("/", 1)[-1]]
        return [r for sub in node.get("anyOf", ()) for r in refs(sub)]

    if hyper_rel.get("type") == "array":
        return tuple(refs(hyper_rel.get("items", {}))), True
    found = refs(hyper_rel)
    return tuple(found), (False if found else None)


def relationship_targets_by_name(hyper: JSON) -> dict[str, tuple[tuple[str, ...], bool]]:
    """Relationship name -> (targets, to_many) wherever the hyper-schema is unambiguous."""
    seen: dict[str, set[tuple[tuple[str, ...], bool]]] = {}
    for definition in hyper.values():
        for name, rel in definition.get("definitions", {}).items():
            if "data" not in rel:
                continue
            targets, to_many = hyper_targets(rel)
            if targets and to_many is not None:
                seen.setdefault(name, set()).add((targets, to_many))
    return {name: next(iter(found)) for name, found in seen.items() if len(found) == 1}


def openapi_targets(prop: JSON) -> tuple[tuple[str, ...], bool | None]:
    """Targets and cardinality from an OpenAPI relationship's ``data`` schema (None: no data)."""
    data = prop.get("properties", {}).get("data")
    if data is None:
        return (), None
    if data.get("type") == "array":
        enum = data.get("items", {}).get("properties", {}).get("type", {}).get("enum", [])
        return tuple(enum), True
    enum = data.get("properties", {}).get("type", {}).get("enum", [])
    return tuple(enum), False


def build_relationship(
    type_: str,
    wire: str,
    prop: JSON,
    hyper_rel: JSON | None,
    by_name: Mapping[str, tuple[tuple[str, ...], bool]],
) -> Relationship:
    description = prop.get("description", "")
    targets, to_many = openapi_targets(prop)
    hyper_found, hyper_many = hyper_targets(hyper_rel) if hyper_rel else ((), None)
    if not targets:
        targets = hyper_found
    if to_many is None:
        to_many = hyper_many
    if not targets and wire in by_name:
        # Links-only in the OpenAPI and absent from the hyper-schema (account.batches): the
        # same relationship name elsewhere in the hyper-schema names its target.
        targets, to_many = by_name[wire]
    if not targets:
        targets = (UNTYPED_RELATIONSHIP_TARGETS[(type_, wire)],)
        to_many = True
    if to_many is None:
        to_many = wire.endswith("s")
    has_links = "links" in prop.get("properties", {})
    links_only = (hyper_rel is not None and hyper_rel.get("data") is False) or (
        has_links and "data" not in prop.get("properties", {})
    )
    filterable = NO_FILTER_TEXT not in description
    return Relationship(
        name=python_name(wire),
        wire=wire,
        target=POLYMORPHIC_DEFAULT.get((type_, wire), targets[0]),
        targets=targets,
        to_many=to_many,
        read_only="readonly" in badges(description) or bool((hyper_rel or {}).get("readOnly")),
        links_only=links_only,
        filterable=filterable,
        filter_attributes=filter_attributes(description),
        doc=clean_text(description),
    )


def filter_attributes(description: str) -> tuple[str, ...]:
    """The target attributes a relationship filter accepts, from its description."""
    if NO_FILTER_TEXT in description:
        return ()
    if ANY_FILTERABLE_TEXT in description:
        return ANY_FILTERABLE  # resolved once every type is built
    match = FILTER_ATTRS_RE.search(description)
    return parse_filter_attributes(match.group(1)) if match else ("id",)


def parse_filter_attributes(text: str) -> tuple[str, ...]:
    """``"id, customId, name and updatedAt"`` -> ``("id", "customId", "name", "updatedAt")``."""
    parts = re.split(r",\s*|\s+and\s+", text)
    return tuple(p.strip() for p in parts if p.strip())


def build_relationships(
    type_: str, schema: JSON | None, hyper_defs: JSON, by_name: Mapping[str, Any]
) -> tuple[Relationship, ...]:
    props: JSON = dict((schema or {}).get("properties", {}))
    for wire, target in EXTRA_RELATIONSHIPS.get(type_, ()):
        props.setdefault(wire, _links_only_relationship(type_, wire))
        links_only = {"data": False, "type": "array", "items": {"$ref": f"#/definitions/{target}"}}
        hyper_defs = {**hyper_defs, wire: hyper_defs.get(wire, links_only)}
    return tuple(
        build_relationship(type_, wire, prop, hyper_defs.get(wire), by_name)
        for wire, prop in sorted(props.items())
    )


def _links_only_relationship(type_: str, wire: str) -> JSON:
    # The shape the OpenAPI gives a read-only links-only to-many relationship.
    return {
        "description": f"{READONLY_BADGE}\n\nThe {wire} associated with the {type_}.",
        "properties": {"links": {"properties": {"related": {"format": "uri", "type": "string"}}}},
    }


# -- operations and actions ------------------------------------------------------------------


def build_operations(paths: JSON, path: str) -> tuple[str, ...]:
    collection = paths.get(f"/{path}", {})
    member = paths.get(f"/{path}/{{id}}", {})
    found = {
        "list": "get" in collection,
        "create": "post" in collection,
        "get": "get" in member,
        "update": "patch" in member,
        "delete": "delete" in member,
    }
    return tuple(sorted(op for op, present in found.items() if present))


def build_actions(type_: str, paths: JSON, path: str) -> tuple[Action, ...]:
    member_prefix = f"/{path}/{{id}}/actions/"
    collection_prefix = f"/{path}/actions/"
    actions = []
    for url in sorted(paths):
        if url.startswith(member_prefix):
            name, collection = url.removeprefix(member_prefix), False
        elif url.startswith(collection_prefix):
            name, collection = url.removeprefix(collection_prefix), True
        else:
            continue
        params, required = action_params(paths[url].get("post", {}))
        actions.append(
            Action(
                name=name,
                params=params,
                required=required,
                collection=collection,
                idempotent=(type_, name) in IDEMPOTENT_ACTIONS,
            )
        )
    # member actions first, then collection ones, each sorted by name
    return tuple(sorted(actions, key=lambda a: (a.collection, a.name)))


def action_params(operation: JSON) -> tuple[tuple[str, ...], tuple[str, ...]]:
    for parameter in operation.get("parameters", ()):
        if parameter.get("name") == "actionParams":
            schema = parameter.get("schema", {})
            names = tuple(schema.get("properties", {}))
            return names, tuple(r for r in schema.get("required", ()) if r in names)
    return (), ()


def pick_watermark(attributes: Iterable[Attribute]) -> str | None:
    datetimes = {a.wire for a in attributes if a.kind == "datetime"}
    return next((w for w in WATERMARK_FALLBACKS if w in datetimes), None)


# -- assembling ------------------------------------------------------------------------------


def module_of(type_: str) -> str:
    for module, types in FAMILIES.items():
        if type_ in types:
            return module
    raise ValueError(f"resource type {type_!r} has no family in FAMILIES")


def build_types(openapi: JSON, hyper: JSON) -> list[ResourceType]:
    """Every hyper-schema type, built from both specs, in hyper-schema (alphabetical) order."""
    check_families(hyper)
    schemas: JSON = openapi["components"]["schemas"]
    paths: JSON = openapi["paths"]
    by_name = relationship_targets_by_name(hyper)
    built = []
    for type_ in sorted(hyper):
        definition = hyper[type_]
        hyper_defs: JSON = definition.get("definitions", {})
        schema = schemas[type_]
        path = resource_path(definition)
        attributes = build_attributes(type_, schema, hyper_defs)
        relationships = build_relationships(
            type_, schemas.get(f"{type_}Relationships"), hyper_defs, by_name
        )
        built.append(
            ResourceType(
                type=type_,
                class_name=class_name(type_),
                module=module_of(type_),
                path=path,
                description=clean_text(schema.get("description", "")),
                attributes=attributes,
                relationships=relationships,
                operations=build_operations(paths, path),
                actions=build_actions(type_, paths, path),
                watermark=pick_watermark(attributes),
                meta_params=tuple(
                    (key, str(value.get("param", "")))
                    for key, value in sorted(definition.get("meta", {}).items())
                ),
            )
        )
    known = {t.type for t in built}
    by_type = {t.type: t for t in built}
    return [
        check_names(read_only_if_unwritable(expand_filter_attributes(t, by_type)), known)
        for t in built
    ]


def expand_filter_attributes(
    resource: ResourceType, by_type: Mapping[str, ResourceType]
) -> ResourceType:
    """Replace "any filterable attribute of <target>" by id and the target's filterable ones."""

    def expand(r: Relationship) -> Relationship:
        if r.filter_attributes != ANY_FILTERABLE:
            return r
        target = by_type[r.target]
        names = ("id", *(a.wire for a in target.attributes if a.filterable))
        return replace(r, filter_attributes=names)

    return replace(resource, relationships=tuple(expand(r) for r in resource.relationships))


def read_only_if_unwritable(resource: ResourceType) -> ResourceType:
    """Mark every field read-only on a type the API offers neither create nor update for.

    Events, audit logs, batches, mail aliases... are served read-only (outreach-api-facts.md §8),
    whatever badges their attributes carry; the sandbox and the converter then agree with the API.
    """
    if {"create", "update"} & set(resource.operations):
        return resource
    return replace(
        resource,
        attributes=tuple(replace(a, read_only=True) for a in resource.attributes),
        relationships=tuple(replace(r, read_only=True) for r in resource.relationships),
    )


def check_families(hyper: JSON) -> None:
    listed = [t for types in FAMILIES.values() for t in types]
    if sorted(listed) != sorted(hyper):
        missing = sorted(set(hyper) - set(listed))
        extra = sorted(set(listed) - set(hyper))
        raise ValueError(f"FAMILIES out of date: missing {missing}, unknown {extra}")


def check_names(resource: ResourceType, known_types: set[str]) -> ResourceType:
    """Fail on a field name clashing with the base class, the class body or another field."""
    names = [a.name for a in resource.attributes] + [r.name for r in resource.relationships]
    forbidden = RESERVED_FIELD_NAMES | CLASS_BODY_NAMES | {class_name(t) for t in known_types}
    for name in names:
        if name in forbidden or not name.isidentifier():
            raise ValueError(f"{resource.type}.{name}: field name clashes; add a rename")
        if names.count(name) > 1:
            raise ValueError(f"{resource.type}.{name}: two fields share this name")
    return resource


# -- rendering -------------------------------------------------------------------------------


def py_str(value: str) -> str:
    """A double-quoted Python string literal (ruff format prefers double quotes)."""
    return json.dumps(value, ensure_ascii=False)


def render_kwargs(pairs: Iterable[tuple[str, Any, Any]]) -> str:
    """``name=value`` for every pair whose value differs from the default."""
    out = []
    for name, value, default in pairs:
        if value == default:
            continue
        out.append(f"{name}={render_value(value)}")
    return ", ".join(out)


def render_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        return py_str(value)
    if isinstance(value, tuple):
        inner = ", ".join(render_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise TypeError(type(value))


def render_attribute_spec(a: Attribute) -> str:
    return (
        "AttributeSpec("
        + render_kwargs(
            [
                ("name", a.name, None),
                ("wire", a.wire, None),
                ("kind", a.kind, "string"),
                ("read_only", a.read_only, False),
                ("filterable", a.filterable, False),
                ("sortable", a.sortable, False),
                ("item_kind", a.item_kind, "any"),
            ]
        )
        + ")"
    )


def render_relationship_spec(r: Relationship) -> str:
    return (
        "RelationshipSpec("
        + render_kwargs(
            [
                ("name", r.name, None),
                ("wire", r.wire, None),
                ("target", r.target, None),
                ("to_many", r.to_many, False),
                ("read_only", r.read_only, False),
                ("links_only", r.links_only, False),
                ("filterable", r.filterable, True),
                ("filter_attributes", r.filter_attributes, ("id",)),
            ]
        )
        + ")"
    )


def render_action_spec(a: Action) -> str:
    return (
        "ActionSpec("
        + render_kwargs(
            [
                ("name", a.name, None),
                ("params", a.params, ()),
                ("required", a.required, ()),
                ("collection", a.collection, False),
                ("idempotent", a.idempotent, False),
            ]
        )
        + ")"
    )


def render_tuple(items: list[str], indent: str) -> str:
    if not items:
        return "()"
    inner = "".join(f"{indent}    {item},\n" for item in items)
    return f"(\n{inner}{indent})"


def is_markdown_block(paragraph: str) -> bool:
    """A table or a list, whose line breaks carry meaning (auditLog's event-type table)."""
    return any(line.lstrip().startswith(("|", "- ", "* ")) for line in paragraph.splitlines())


def render_docstring(text: str, indent: str) -> str:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if not paragraphs:
        raise ValueError("empty docstring")
    width = 100 - len(indent)
    lines: list[str] = []
    for paragraph in paragraphs:
        if lines:
            lines.append("")
        if is_markdown_block(paragraph):
            lines.extend(line.strip() for line in paragraph.splitlines())
            continue
        flat = " ".join(paragraph.split())
        lines.extend(textwrap.wrap(flat, width=width - 3, break_long_words=False))
    body = "\n".join(f"{indent}{line}" if line else "" for line in lines)
    body = body.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if len(lines) == 1:
        return f'{indent}"""{body.strip()}"""\n'
    return f'{indent}"""{body.lstrip()}\n{indent}"""\n'


def render_field_doc(text: str) -> str:
    """A ``#:`` comment (read by Sphinx autodoc and IDEs) with the spec's first paragraph."""
    paragraph = next((p for p in re.split(r"\n\s*\n", text) if p.strip()), "")
    flat = " ".join(paragraph.split())
    if not flat:
        return ""
    return "".join(f"    #: {line}\n" for line in textwrap.wrap(flat, width=100 - 7))


def relationship_annotation(r: Relationship, known: set[str]) -> str:
    names = [class_name(t) for t in r.targets if t in known]
    if len(names) != len(r.targets) or not names:
        inner = "Resource"
    else:
        inner = " | ".join(dict.fromkeys(names))
    handle = "ToMany" if r.to_many else "ToOne"
    return f"{handle}[{inner}]"


def converter_name(r: Relationship) -> str:
    return f"{'many' if r.to_many else 'one'}_{snake_case(r.target)}"


def class_doc(t: ResourceType) -> str:
    """The spec's description, plus the optional meta the resource can carry."""
    doc = t.description or f"The ``{t.type}`` resource (no description in the spec)."
    if not t.meta_params:
        return doc
    by_param: dict[str, list[str]] = {}
    for key, param in t.meta_params:
        by_param.setdefault(param, []).append(f"``{key}``")
    parts = [f"{', '.join(keys)} with ``{param}=true``" for param, keys in sorted(by_param.items())]
    return f"{doc}\n\nOptional ``meta``: {'; '.join(parts)}."


def render_model(t: ResourceType, known: set[str]) -> str:
    ind = "        "
    spec_lines = [
        f"type={py_str(t.type)}",
        f"path={py_str(t.path)}",
        f"description={py_str(t.description)}",
        "attributes=" + render_tuple([render_attribute_spec(a) for a in t.attributes], ind),
        "relationships="
        + render_tuple([render_relationship_spec(r) for r in t.relationships], ind),
        "operations=frozenset({" + ", ".join(py_str(op) for op in t.operations) + "})",
        "actions=" + render_tuple([render_action_spec(a) for a in t.actions], ind),
        f"watermark={render_value(t.watermark)}",
    ]
    out = [
        "@register_model\n",
        "@attrs.define(slots=False, kw_only=True, repr=False, eq=False, on_setattr=ON_SETATTR)\n",
        f"class {t.class_name}(Resource):\n",
        render_docstring(class_doc(t), "    "),
        "\n",
        # one spec entry per line: far shorter and easier to diff than ruff's exploded form
        "    # fmt: off\n",
        "    __resource_spec__: ClassVar[ResourceSpec] = ResourceSpec(\n",
        "".join(f"{ind}{line},\n" for line in spec_lines),
        "    )\n",
        "    # fmt: on\n",
        "\n",
    ]
    for a in t.attributes:
        out.append(render_field_doc(a.doc))
        if is_stamp(a):
            out.append(f"    {a.name} = ServerStamp({py_str(a.wire)})\n")
        else:
            out.append(f"    {a.name}: {a.annotation} | UnsetType | None = UNSET\n")
    for r in t.relationships:
        out.append(render_field_doc(r.doc))
        out.append(
            f"    {r.name}: {relationship_annotation(r, known)} | UnsetType = attrs.field(\n"
            f"        default=UNSET, converter=_conv.{converter_name(r)}\n"
            "    )\n"
        )
    return "".join(out)


def is_stamp(a: Attribute) -> bool:
    return a.wire in SERVER_STAMPS and a.kind == "datetime"


def changes_value(a: Attribute) -> str:
    """What ``update(**changes)`` takes for a writable attribute (None writes null)."""
    return f"{a.annotation} | None"


def filter_value(a: Attribute) -> str:
    """What ``filter=`` takes for a filterable attribute: a value, any of several, a range (for
    numbers and times; ISO text too) or a null test."""
    kind = a.item_kind if a.kind == "array" else a.kind
    scalar = SCALAR_ANNOTATIONS.get(kind, "Any")
    if kind in ("datetime", "date"):
        return f"{scalar} | str | Range | NullTest"
    if kind in ("integer", "number"):
        return f"FilterValue[{scalar}] | Range"
    return f"FilterValue[{scalar}]"


def render_inputs(t: ResourceType, known: set[str]) -> str:
    """The TypedDicts of what ``update`` and ``list(filter=...)`` take for this resource."""
    out = ["\n\n"]
    out.append(f"class {t.class_name}Changes(TypedDict, total=False):\n")
    out.append(f'    """What ``update(id, **changes)`` takes for {t.class_name} resources."""\n\n')
    writable = [a for a in t.attributes if not a.read_only]
    for a in writable:
        out.append(f"    {a.name}: {changes_value(a)}\n")
    for r in t.relationships:
        if not r.read_only:
            value = "_conv.ToManyValue" if r.to_many else "_conv.ToOneValue"
            out.append(f"    {r.name}: {value}\n")
    out.append("\n\n")
    out.append(f"class {t.class_name}Filter(TypedDict, total=False):\n")
    out.append(f'    """What ``list(filter=...)`` takes for {t.class_name} resources."""\n\n')
    out.append("    id: int | _abc.Sequence[int] | Range\n")
    if t.type in SEARCHABLE_TYPES:
        out.append("    q: str\n")
    for a in t.attributes:
        if a.filterable and a.name not in ("id", "q"):
            out.append(f"    {a.name}: {filter_value(a)}\n")
    for r in t.relationships:
        if r.filterable and r.name not in ("id", "q"):
            out.append(f"    {r.name}: RelationshipFilter\n")
    return "".join(out)


def model_dependencies(t: ResourceType, known: set[str]) -> set[str]:
    """Class names a model's annotations reference (relationship targets of ours)."""
    deps: set[str] = set()
    for r in t.relationships:
        if all(x in known for x in r.targets):
            deps.update(class_name(x) for x in r.targets)
    return deps


def uses_resource(t: ResourceType, known: set[str]) -> bool:
    return any(not all(x in known for x in r.targets) for r in t.relationships)


GENERATED_NOTICE = (
    "# Generated by tools/generate_models.py from Outreach's OpenAPI and hyper-schema.\n"
    "# Do not edit by hand: change the generator and run `nox -s generate`.\n"
)


def render_module(
    module: str, types: list[ResourceType], known: set[str], by_class: Mapping[str, str]
) -> str:
    local = {t.class_name for t in types}
    deps: set[str] = set()
    for t in types:
        deps |= model_dependencies(t, known)
    foreign: dict[str, list[str]] = {}
    for dep in sorted(deps - local):
        foreign.setdefault(by_class[dep], []).append(dep)
    needs_any = any("Any" in a.annotation for t in types for a in t.attributes)
    needs_dt = any("_dt." in a.annotation for t in types for a in t.attributes)
    has_rels = any(t.relationships for t in types)
    needs_many = any(r.to_many for t in types for r in t.relationships)
    needs_one = any(not r.to_many for t in types for r in t.relationships)
    needs_stamp = any(is_stamp(a) for t in types for a in t.attributes)
    filters = "".join(render_inputs(t, known) for t in types)
    input_names = [n for n in ("FilterValue", "RelationshipFilter") if n in filters]
    type_names = [n for n in ("NullTest", "Range") if n in filters]

    lines = [f'"""{FAMILY_DOCS[module]}"""\n', "\n", GENERATED_NOTICE, "\n"]
    lines.append("from __future__ import annotations\n\n")
    if needs_dt:
        lines.append("import datetime as _dt\n")
    lines.append("from collections import abc as _abc\n")
    typing_names = ["TYPE_CHECKING"] if foreign else []
    if needs_any:
        typing_names.append("Any")
    typing_names += ["ClassVar", "TypedDict"]
    typing_names.sort(key=lambda n: (not n.isupper(), n))
    lines.append(f"from typing import {', '.join(typing_names)}\n\n")
    lines.append("import attrs\n\n")
    if has_rels:
        handles = [n for n, used in (("ToMany", needs_many), ("ToOne", needs_one)) if used]
        lines.append(f"from .._relationships import {', '.join(handles)}\n")
    lines.append(
        "from .._schema import ActionSpec, AttributeSpec, RelationshipSpec, ResourceSpec\n"
        if any(t.actions for t in types)
        else "from .._schema import AttributeSpec, RelationshipSpec, ResourceSpec\n"
        if has_rels
        else "from .._schema import AttributeSpec, ResourceSpec\n"
    )
    lines.append(f"from .._types import {', '.join(['UNSET', *type_names, 'UnsetType'])}\n")
    if has_rels:
        lines.append("from . import _converters as _conv\n")
    base_names = ["ON_SETATTR", "Resource", *(["ServerStamp"] if needs_stamp else [])]
    lines.append(f"from ._base import {', '.join(base_names)}, register_model\n")
    if input_names:
        lines.append(f"from ._inputs import {', '.join(input_names)}\n")
    if foreign:
        lines.append("\nif TYPE_CHECKING:\n")
        for mod in sorted(foreign):
            lines.append(f"    from .{mod} import {', '.join(sorted(foreign[mod]))}\n")
    names = sorted(n for t in types for n in input_class_names(t))
    lines.append("\n__all__ = [" + ", ".join(py_str(n) for n in names) + "]\n")
    for t in types:
        lines.append("\n\n")
        lines.append(render_model(t, known))
    lines.append(filters)
    return "".join(lines)


def input_class_names(t: ResourceType) -> tuple[str, str, str]:
    """The model and its two input TypedDicts (``Prospect``, ``ProspectChanges``, ...)."""
    return (t.class_name, f"{t.class_name}Changes", f"{t.class_name}Filter")


CONVERTERS_HEADER = '''\
"""Typed attrs converters for relationship fields, one per target type and cardinality.

The attrs mypy plugin accepts only named functions as converters (a call such as
``to_one("account")`` is rejected) and types a model's ``__init__`` parameter from the
converter's argument. Each relationship field therefore uses one of these thin functions;
``_relationships.to_one`` / ``to_many`` do the converting.
"""

{notice}
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

from .._relationships import ToMany, ToOne, to_many, to_one
from .._types import Ref, UnsetType

if TYPE_CHECKING:
    from ._base import Resource

#: what a to-one field accepts: a handle, a model with an id, a Ref, an id, or None
ToOneValue: TypeAlias = "ToOne[Any] | Resource | Ref | int | UnsetType | None"
#: what a to-many field accepts: a handle, or an iterable of models, Refs or ids
ToManyValue: TypeAlias = "ToMany[Any] | Iterable[ToOne[Any] | Resource | Ref | int] | UnsetType"


@functools.cache
def _one(target_type: str) -> Callable[[object], Any]:
    converter: Callable[[object], Any] = to_one(target_type)
    return converter


@functools.cache
def _many(target_type: str) -> Callable[[object], Any]:
    converter: Callable[[object], Any] = to_many(target_type)
    return converter


def convert_one(target_type: str, value: ToOneValue) -> ToOne[Any] | UnsetType:
    """Turn what a user assigns to a to-one field into a handle (UNSET stays UNSET)."""
    handle: ToOne[Any] | UnsetType = _one(target_type)(value)
    return handle


def convert_many(target_type: str, value: ToManyValue) -> ToMany[Any] | UnsetType:
    """Turn what a user assigns to a to-many field into a handle (UNSET stays UNSET)."""
    handle: ToMany[Any] | UnsetType = _many(target_type)(value)
    return handle
'''

CONVERTER_FUNCTION = '''

def {kind}_{name}(value: {value}) -> {handle}[Any] | UnsetType:
    """Converter for to-{kind} ``{target}`` relationship fields."""
    return convert_{kind}("{target}", value)
'''


def render_converters(types: list[ResourceType]) -> str:
    """``_converters.py``: one typed attrs converter per (cardinality, target type)."""
    pairs = sorted({(r.to_many, r.target) for t in types for r in t.relationships})
    out = [CONVERTERS_HEADER.format(notice=GENERATED_NOTICE)]
    for to_many_, target in pairs:
        out.append(
            CONVERTER_FUNCTION.format(
                kind="many" if to_many_ else "one",
                name=snake_case(target),
                value="ToManyValue" if to_many_ else "ToOneValue",
                handle="ToMany" if to_many_ else "ToOne",
                target=target,
            )
        )
    return "".join(out)


def render_init(types: list[ResourceType]) -> str:
    by_module: dict[str, list[str]] = {}
    for t in types:
        by_module[t.module] = [*by_module.get(t.module, []), *input_class_names(t)]
    names = sorted(
        [n for t in types for n in input_class_names(t)]
        + ["ALL_SPECS", "MODELS", "RecordFlattener", "Resource", "model_for_type"]
    )
    out = [
        '"""Typed models for every Outreach resource type, one module per resource family.\n',
        "\n",
        "``MODELS`` maps a JSON:API type to its class; ``ALL_SPECS`` maps it to its\n",
        ":class:`ResourceSpec`.\n",
        '"""\n\n',
        GENERATED_NOTICE,
        "\n",
        "from __future__ import annotations\n\n",
        "from .._schema import ResourceSpec\n",
        "from ._base import MODELS, Resource, model_for_type\n",
        "from ._records import RecordFlattener\n",
    ]
    for module in sorted(by_module):
        out.append(f"from .{module} import {', '.join(sorted(by_module[module]))}\n")
    out.append("\n__all__ = [\n")
    out.extend(f"    {py_str(n)},\n" for n in names)
    out.append("]\n\n")
    out.append("#: every resource type's spec, by JSON:API type\n")
    out.append("ALL_SPECS: dict[str, ResourceSpec] = {\n")
    for t in sorted(types, key=lambda t: t.type):
        out.append(f"    {py_str(t.type)}: {t.class_name}.__resource_spec__,\n")
    out.append("}\n")
    return "".join(out)


def generate(spec_dir: Path) -> dict[str, str]:
    """File name -> source text of every generated module (before ``ruff format``)."""
    openapi, hyper = load_specs(spec_dir)
    types = build_types(openapi, hyper)
    known = {t.type for t in types}
    by_class = {t.class_name: t.module for t in types}
    files = {"__init__.py": render_init(types), "_converters.py": render_converters(types)}
    for module in FAMILIES:
        members = [t for t in types if t.module == module]
        members.sort(key=lambda t: FAMILIES[module].index(t.type))
        files[f"{module}.py"] = render_module(module, members, known, by_class)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--spec-dir", type=Path, default=DEFAULT_SPEC_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args(argv)
    files = generate(args.spec_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
