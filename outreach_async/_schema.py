"""Metadata describing each Outreach resource type, generated from Outreach's OpenAPI.

The models carry one :class:`ResourceSpec` each (``Model.__resource_spec__``). The query builder
validates names against it, the converter maps snake_case to camelCase with it, the repositories
know which operations and actions an endpoint has, and the sandbox serves the same shapes.
Pure data: no I/O.
"""

from __future__ import annotations

import functools
from typing import Literal, TypeAlias

import attrs

AttributeKind: TypeAlias = Literal[
    "string", "integer", "number", "boolean", "datetime", "date", "array", "object", "any"
]
Operation: TypeAlias = Literal["list", "get", "create", "update", "delete"]
ALL_OPERATIONS: frozenset[Operation] = frozenset({"list", "get", "create", "update", "delete"})


@attrs.frozen
class AttributeSpec:
    """One attribute: its Python name, wire name, JSON kind and the badges from the spec."""

    name: str
    wire: str
    kind: AttributeKind = "string"
    read_only: bool = False
    filterable: bool = False
    sortable: bool = False
    #: for ``array`` attributes, the kind of the items
    item_kind: AttributeKind = "any"
    #: enum values named by the spec, when it names them
    choices: tuple[str, ...] = ()


@attrs.frozen
class RelationshipSpec:
    """One relationship: its target type, cardinality and how the API renders and accepts it."""

    name: str
    wire: str
    target: str
    to_many: bool = False
    read_only: bool = False
    #: to-many relationships rendered with ``links.related`` only, never ``data``
    links_only: bool = False
    filterable: bool = True
    #: attributes of the target usable in ``filter[rel][attr]`` (``id`` at least, when filterable)
    filter_attributes: tuple[str, ...] = ("id",)


@attrs.frozen
class ActionSpec:
    """A member action (``POST /{path}/{id}/actions/{name}``) or a collection action."""

    name: str
    params: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    collection: bool = False
    #: Outreach documents the action as safe to repeat (the retry layer may resend it)
    idempotent: bool = False


@attrs.frozen
class ResourceSpec:
    """Everything the client and the sandbox need to know about one resource type."""

    type: str
    path: str
    description: str = ""
    attributes: tuple[AttributeSpec, ...] = ()
    relationships: tuple[RelationshipSpec, ...] = ()
    operations: frozenset[Operation] = ALL_OPERATIONS
    actions: tuple[ActionSpec, ...] = ()
    #: the attribute that moves when a record changes (``updatedAt``), or None
    watermark: str | None = "updatedAt"

    @functools.cached_property
    def attribute_by_name(self) -> dict[str, AttributeSpec]:
        return {a.name: a for a in self.attributes}

    @functools.cached_property
    def attribute_by_wire(self) -> dict[str, AttributeSpec]:
        return {a.wire: a for a in self.attributes}

    @functools.cached_property
    def relationship_by_name(self) -> dict[str, RelationshipSpec]:
        return {r.name: r for r in self.relationships}

    @functools.cached_property
    def relationship_by_wire(self) -> dict[str, RelationshipSpec]:
        return {r.wire: r for r in self.relationships}

    @functools.cached_property
    def action_by_name(self) -> dict[str, ActionSpec]:
        return {a.name: a for a in self.actions}

    def attribute(self, name: str) -> AttributeSpec | None:
        """Look an attribute up by its Python or its wire name."""
        return self.attribute_by_name.get(name) or self.attribute_by_wire.get(name)

    def relationship(self, name: str) -> RelationshipSpec | None:
        """Look a relationship up by its Python or its wire name."""
        return self.relationship_by_name.get(name) or self.relationship_by_wire.get(name)
