"""The base of every resource model, and the registry of model classes by resource type.

Models are plain attrs classes, dict-backed rather than slotted, and their storage is the wire
form: a decoded model's ``__dict__`` *is* the ``attributes`` object of its resource, adopted as
the JSON decoder built it, keyed by wire name. Fields whose Python name differs from the wire name,
or whose value needs converting (datetimes, dates), are data descriptors (:class:`WireField`)
that read and write the wire key and convert on first read. Relationship fields build their
handle on first read (:class:`LazyRelationship`). So decoding a page costs about what parsing its
JSON costs, and a record nobody reads costs nothing more.

Fields that a response did not carry, or that the user did not set, read as ``UNSET``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import attrs

from .._relationships import ToMany, ToOne, to_many_handle, to_one_handle
from .._schema import AttributeSpec, RelationshipSpec, ResourceSpec
from .._types import UNSET, UnsetType
from .._wire import lenient_date, lenient_datetime

__all__ = ["MODELS", "ON_SETATTR", "Resource", "model_for_type", "register_model"]

R = TypeVar("R", bound="Resource")

#: every model class, by its JSON:API resource type ("prospect" -> Prospect)
MODELS: dict[str, type[Resource]] = {}

# Keys a decoded model keeps in its __dict__ beside the wire attributes: a flag saying it was
# decoded, the copy of its values taken before the first assignment (to PATCH only what
# changed), its raw relationship objects, and the response context its handles fetch through
# (dropped when pickling).
DECODED_KEY = "_outreach_decoded"
SNAPSHOT_KEY = "_outreach_snapshot"
RAW_RELATIONSHIPS_KEY = "_outreach_relationships"
CONTEXT_KEY = "_outreach_context"
#: keys of a model's __dict__ that are not wire attributes
RESERVED_KEYS = frozenset(
    {"id", "extra", "meta", DECODED_KEY, SNAPSHOT_KEY, RAW_RELATIONSHIPS_KEY, CONTEXT_KEY}
)


def _empty_handle(value: Any) -> bool:
    # null to-one relationships and to-many ones without ids only add noise to a repr
    return (isinstance(value, ToOne) and value.id is None) or (
        isinstance(value, ToMany) and not value.ids
    )


def remember_original(instance: Any, attribute: Any, value: Any) -> Any:
    """attrs on_setattr hook: before the first assignment to a decoded model, keep a copy of its
    values, so ``changed_fields()`` and ``update(model)`` can PATCH only what changed."""
    values = instance.__dict__
    if DECODED_KEY in values and SNAPSHOT_KEY not in values:
        values[SNAPSHOT_KEY] = dict(values)
    return value


#: the on_setattr hooks of every model: remember the decoded values, then run converters
ON_SETATTR: list[Callable[[Any, Any, Any], Any]] = [remember_original, attrs.setters.convert]


@attrs.define(slots=False, kw_only=True, repr=False, on_setattr=ON_SETATTR)
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
        shown = [f"id={self.id!r}"]
        for field in attrs.fields(type(self))[3:]:
            value = getattr(self, field.name)
            if value is not UNSET and value is not None and not _empty_handle(value):
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


class WireField:
    """The class-level value of an attribute field whose wire name or form differs.

    Reads and writes the wire key of the instance's ``__dict__``; a datetime or date arrives as
    a string and is converted on first read (and kept converted). A malformed value is returned
    as it came rather than losing the record.
    """

    __slots__ = ("convert", "name", "wire")

    def __init__(self, attribute: AttributeSpec, convert: Callable[[Any], Any] | None) -> None:
        self.name = attribute.name
        self.wire = attribute.wire
        self.convert = convert

    def __get__(self, obj: Resource | None, objtype: type | None = None) -> Any:
        if obj is None:
            return UNSET  # the class-level default
        values = obj.__dict__
        value = values.get(self.wire, UNSET)
        if self.convert is not None and value.__class__ is str:
            converted = self.convert(value)
            if converted is not value:
                values[self.wire] = converted
            return converted
        return value

    def __set__(self, obj: Resource, value: Any) -> None:
        obj.__dict__[self.wire] = value


class LazyRelationship:
    """The class-level value of a relationship field: builds the handle on first read.

    Decoding keeps each record's raw ``relationships`` object and builds no handle (a prospect
    has 20 relationships; most exports never read them). The first read builds the handle and
    stores it in the instance's ``__dict__``, which from then on shadows this (non-data)
    descriptor.
    """

    __slots__ = ("name", "target", "to_many", "wire")

    def __init__(self, rel: RelationshipSpec) -> None:
        self.name = rel.name
        self.wire = rel.wire
        self.target = rel.target
        self.to_many = rel.to_many

    def __get__(self, obj: Resource | None, objtype: type | None = None) -> Any:
        if obj is None:
            return UNSET
        values = obj.__dict__
        raw_relationships = values.get(RAW_RELATIONSHIPS_KEY)
        raw = raw_relationships.get(self.wire) if raw_relationships else None
        if raw is None:
            return UNSET
        make = to_many_handle if self.to_many else to_one_handle
        handle = values[self.name] = make(self.target, raw, values.get(CONTEXT_KEY))
        return handle


def _value_converter(attribute: AttributeSpec) -> Callable[[Any], Any] | None:
    return {"datetime": lenient_datetime, "date": lenient_date}.get(attribute.kind)


def register_model(cls: type[R]) -> type[R]:
    """Register a model class for its resource type and install its field descriptors.

    attrs removes class attributes for its fields; what goes back is a :class:`WireField` for
    attributes stored under another name or converted on read, a :class:`LazyRelationship` for
    relationships, and the default (``UNSET``) for the rest, which ``__dict__`` shadows when set.
    """
    spec = cls.__resource_spec__
    attributes = {a.name: a for a in spec.attributes}
    relationships = {r.name: r for r in spec.relationships}
    for field in attrs.fields(cls):
        if field.name in relationships:
            setattr(cls, field.name, LazyRelationship(relationships[field.name]))
        elif (attribute := attributes.get(field.name)) is not None and (
            attribute.name != attribute.wire or attribute.kind in ("datetime", "date")
        ):
            setattr(cls, field.name, WireField(attribute, _value_converter(attribute)))
        elif not isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            setattr(cls, field.name, field.default)
    MODELS[spec.type] = cls
    return cls


def model_for_type(type_: str) -> type[Resource] | None:
    """The model class for a resource type, or None for a type this library does not know."""
    return MODELS.get(type_)
