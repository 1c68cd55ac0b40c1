"""The base of every resource model, and the registry of model classes by resource type.

Models are plain attrs classes (dict-backed, not slotted: the converter builds them straight from
the decoded wire dictionary, which is what makes typed decoding about as fast as ``json.loads``).
Fields that a response did not carry, or that the user did not set, read as ``UNSET``.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import attrs

from .._schema import ResourceSpec
from .._types import UNSET, UnsetType

__all__ = ["MODELS", "Resource", "model_for_type", "register_model"]

R = TypeVar("R", bound="Resource")

#: every model class, by its JSON:API resource type ("prospect" -> Prospect)
MODELS: dict[str, type[Resource]] = {}

# Where a model keeps the values it was decoded with, to PATCH only what changed.
SNAPSHOT_KEY = "_outreach_snapshot"


@attrs.define(slots=False, kw_only=True)
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


def register_model(cls: type[R]) -> type[R]:
    """Register a model class for its resource type, and give unset fields class-level defaults.

    attrs removes class attributes for its fields; putting ``UNSET`` (or ``None``) back lets the
    converter build instances with only the fields a response carried, with no ``__init__`` call.
    """
    for field in attrs.fields(cls):
        if not isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            setattr(cls, field.name, field.default)
    MODELS[cls.__resource_spec__.type] = cls
    return cls


def model_for_type(type_: str) -> type[Resource] | None:
    """The model class for a resource type, or None for a type this library does not know."""
    return MODELS.get(type_)
