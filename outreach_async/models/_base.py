"""The base of every resource model, and the registry of model classes by resource type.

Models are plain attrs classes (dict-backed, not slotted: the converter builds them straight from
the decoded wire dictionary, which is what makes typed decoding about as fast as ``json.loads``).
Fields that a response did not carry, or that the user did not set, read as ``UNSET``.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import attrs

from .._relationships import to_many_handle, to_one_handle
from .._schema import RelationshipSpec, ResourceSpec
from .._types import UNSET, UnsetType

__all__ = ["MODELS", "Resource", "model_for_type", "register_model"]

R = TypeVar("R", bound="Resource")

#: every model class, by its JSON:API resource type ("prospect" -> Prospect)
MODELS: dict[str, type[Resource]] = {}

# Where a decoded model keeps, in its __dict__, the wire attributes it was decoded with (to PATCH
# only what changed), its raw relationship objects (handles are built on first read) and the
# response context the handles fetch through. The context is dropped when pickling.
SNAPSHOT_KEY = "_outreach_snapshot"
RAW_RELATIONSHIPS_KEY = "_outreach_relationships"
CONTEXT_KEY = "_outreach_context"


@attrs.define(slots=False, kw_only=True, repr=False)
class Resource:
    """Base class of every resource model."""

    __resource_spec__: ClassVar[ResourceSpec]

    #: the resource's integer id; None before creation
    id: int | None = None
    #: attributes this version of the library does not know, by wire name; kept and round-tripped
    extra: dict[str, Any] = attrs.field(factory=dict)
    #: the resource-level ``meta`` of the response (``canWrite``, ``dataConnections``...)
    meta: dict[str, Any] | UnsetType = attrs.field(default=UNSET, eq=False)

    def changed_fields(self) -> list[str]:
        """Names of the fields assigned a different value since this model was decoded (every
        set field for a model built by hand).

        Values are compared with the decoded ones; mutating a list in place is not seen, so
        assign a new list (``p.tags = [*p.tags, "vip"]``).
        """
        from .._converter import changed_fields

        return changed_fields(self)

    def __repr__(self) -> str:
        # Only what is set: a prospect has 230 attributes, most of them UNSET or null.
        values = self.__dict__
        shown = [f"id={self.id!r}"]
        for field in attrs.fields(type(self))[3:]:
            value = values.get(field.name, UNSET)
            if value is not UNSET and value is not None:
                shown.append(f"{field.name}={value!r}")
        if self.extra:
            shown.append(f"extra={self.extra!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __getstate__(self) -> dict[str, Any]:
        # Handles pickle without their client: the response context stays behind.
        state = dict(self.__dict__)
        state.pop(CONTEXT_KEY, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "__dict__", state)


class LazyRelationship:
    """The class-level value of a relationship field: builds the handle on first read.

    Decoding keeps each record's raw ``relationships`` object and builds no handle (a prospect
    has 20 relationships; most exports never read them). The first read builds the handle from
    the raw object and stores it in the instance's ``__dict__``, which from then on shadows
    this (non-data) descriptor.
    """

    __slots__ = ("name", "target", "to_many", "wire")

    def __init__(self, rel: RelationshipSpec) -> None:
        self.name = rel.name
        self.wire = rel.wire
        self.target = rel.target
        self.to_many = rel.to_many

    def __get__(self, obj: Resource | None, objtype: type | None = None) -> Any:
        if obj is None:
            return UNSET  # the class-level default, as for attribute fields
        values = obj.__dict__
        raw_relationships = values.get(RAW_RELATIONSHIPS_KEY)
        raw = raw_relationships.get(self.wire) if raw_relationships else None
        if raw is None:
            return UNSET
        make = to_many_handle if self.to_many else to_one_handle
        handle = values[self.name] = make(self.target, raw, values.get(CONTEXT_KEY))
        return handle


def register_model(cls: type[R]) -> type[R]:
    """Register a model class for its resource type, and give unset fields class-level defaults.

    attrs removes class attributes for its fields; putting ``UNSET`` (or ``None``) back lets the
    converter build instances with only the fields a response carried, with no ``__init__`` call.
    """
    relationships = {r.name: r for r in cls.__resource_spec__.relationships}
    for field in attrs.fields(cls):
        if field.name in relationships:
            setattr(cls, field.name, LazyRelationship(relationships[field.name]))
        elif not isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            setattr(cls, field.name, field.default)
    MODELS[cls.__resource_spec__.type] = cls
    return cls


def model_for_type(type_: str) -> type[Resource] | None:
    """The model class for a resource type, or None for a type this library does not know."""
    return MODELS.get(type_)
