"""The base of every resource model, the models' storage contract, and the model registry.

Storage contract (what a decoded model is, and who may rely on it)
-------------------------------------------------------------------

Models are plain attrs classes, dict-backed rather than slotted, and their storage is the wire
form: a decoded model's ``__dict__`` *is* the ``attributes`` object of its resource, adopted as
the JSON decoder built it, keyed by wire (camelCase) name, plus the reserved keys below. So
decoding a page costs about what parsing its JSON costs, and a record nobody reads costs nothing
more.

- Attribute values stay in their wire form: reading a datetime or date field parses the stored
  string each time and never writes back, so reading (and ``==``, ``repr``) leaves the storage
  as it came. Assigning a field stores the value given (a datetime stays a datetime).
- ``relationships`` is kept raw under :data:`RAW_RELATIONSHIPS_KEY`; a relationship field builds
  its handle on first read and caches it under the field's Python name (handles carry state: a
  fetched target).
- ``id`` is stored under ``"id"`` (``None`` on a model you built and have not created yet).
- Attributes the spec does not know belong in ``extra``. Decoding a page leaves them in the
  storage and notes how many keys came from the wire (:data:`PENDING_KEY`): looking at every
  record's 230 names costs about a tenth of the decode, and most records have none. They move
  to ``extra`` (``_tracking.settle``) on the first read of ``extra``, the first assignment, or a
  relationship field's finding a value under its own name other than its cached handle;
  ``==``, ``repr`` and the writers see the storage as it would be (``_tracking.settled``).
  Names a stray key could hide (methods, reserved keys, a subclass's fields) are looked for at
  decode, and a record holding one is sorted out there.
- Only this package reads the storage: :mod:`outreach_async.models._records` turns it into flat
  export records (:class:`RecordFlattener`, the public wire-to-record path), ``_tracking`` keeps
  the values a model was decoded with. Everything else uses fields or the public functions.

Typing contract
---------------

- ``id`` is typed ``int``: every model read from the API has one. Reading the id of a model you
  built and have not created raises :class:`FieldNotLoadedError` (an ``AttributeError``, so
  ``getattr(model, "id", None)`` works).
- ``created_at`` and ``updated_at`` are typed as plain datetimes: Outreach stamps every stored
  record with both and never sends them null. They are read-only and not constructor arguments.
  Reading one the model does not hold (a model you built, or a sparse fieldset that left it
  out) raises :class:`FieldNotLoadedError` naming the field, instead of handing out a value that
  is not a datetime.
- Every other field reads ``UNSET`` when the response did not carry it (sparse fieldsets) or
  you did not set it, and ``None`` when the API sent ``null``.

Copies made with ``attrs.evolve`` keep the values the original was decoded with, so
``update(evolve(model, first_name="X"))`` sends only ``firstName``.
"""

from __future__ import annotations

import datetime as _dt
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Never, TypeVar, overload

import attrs

from .._exceptions import FieldNotLoadedError
from .._schema import AttributeSpec, RelationshipSpec, ResourceSpec
from .._types import UNSET, UnsetType
from .._wire import lenient_datetime
from ._handles import LazyToMany, LazyToOne
from ._storage import (
    BASE_FIELDS,
    CONTEXT_KEY,
    DECODED_KEY,
    PENDING_KEY,
    RAW_RELATIONSHIPS_KEY,
    RESERVED_KEYS,
    SERVER_STAMPS,
    SNAPSHOT_KEY,
    stored_id,
    subclass_fields,
    time_parser,
)
from ._tracking import changed_fields, comparable, settle, shown_fields

__all__ = [
    "CONTEXT_KEY",
    "DECODED_KEY",
    "MODELS",
    "ON_SETATTR",
    "RAW_RELATIONSHIPS_KEY",
    "RESERVED_KEYS",
    "Resource",
    "SERVER_STAMPS",
    "SNAPSHOT_KEY",
    "ServerStamp",
    "model_for_type",
    "register_model",
    "stored_id",
    "subclass_fields",
]

R = TypeVar("R", bound="Resource")

#: every model class, by its JSON:API resource type ("prospect" -> Prospect)
MODELS: dict[str, type[Resource]] = {}


def remember_original(instance: Any, attribute: Any, value: Any) -> Any:
    """attrs on_setattr hook: before the first assignment to a decoded model, keep a copy of its
    values, so ``changed_fields()`` and ``update(model)`` can PATCH only what changed."""
    values = instance.__dict__
    if DECODED_KEY in values and SNAPSHOT_KEY not in values:
        settle(instance)
        values[SNAPSHOT_KEY] = dict(values)
    return value


#: the on_setattr hooks of every model: remember the decoded values, then run converters
ON_SETATTR: list[Callable[[Any, Any, Any], Any]] = [remember_original, attrs.setters.convert]


class _StoredId:
    """``Resource.id``: the integer id, or :class:`FieldNotLoadedError` before creation."""

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _StoredId: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> int: ...
    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__.get("id")
        if value is None:
            raise FieldNotLoadedError(
                f"this {type(obj).__name__} has no id until it is created "
                "(create() returns the stored model)"
            )
        return value

    def __set__(self, obj: object, value: int | None) -> None:
        remember_original(obj, None, value)
        obj.__dict__["id"] = value


class _RawId:
    """The attrs field behind ``id`` (named ``_id``, passed as ``id=``): reads ``None`` before
    creation, so attrs' own tools (``evolve``, ``asdict``) work on any model."""

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        return None if obj is None else obj.__dict__.get("id")

    def __set__(self, obj: object, value: int | None) -> None:
        obj.__dict__["id"] = value


class _Origin:
    """The hidden ``_origin`` field: the values a decoded model descends from.

    ``attrs.evolve`` passes every init field to the copy, this one included, so the copy knows
    what the server holds and ``changed_fields()`` names only what differs from it. The server
    stamps (not init fields) come along with it.
    """

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        if obj is None:
            return None
        values = obj.__dict__
        if DECODED_KEY not in values:
            return None
        settle(obj)  # type: ignore[arg-type]
        snapshot = values.get(SNAPSHOT_KEY)
        return dict(values) if snapshot is None else snapshot

    def __set__(self, obj: object, origin: dict[str, Any] | None) -> None:
        if origin is None:
            return
        values = obj.__dict__
        values[DECODED_KEY] = True
        values[SNAPSHOT_KEY] = origin
        for wire in SERVER_STAMPS:
            if wire in origin:
                values.setdefault(wire, origin[wire])


@attrs.define(slots=False, kw_only=True, repr=False, eq=False, on_setattr=ON_SETATTR)
class Resource:
    """Base class of every resource model."""

    __resource_spec__: ClassVar[ResourceSpec]

    _id: int | None = attrs.field(default=None, alias="id")
    #: attributes this version of the library does not know, by wire name; kept and round-tripped
    extra: dict[str, Any] = attrs.field(factory=dict)
    #: the resource-level ``meta`` of the response (``canWrite``, ``dataConnections``...)
    meta: dict[str, Any] | UnsetType = attrs.field(default=UNSET)
    _origin: dict[str, Any] | None = attrs.field(default=None, alias="_origin")

    #: the resource's integer id (see the typing contract in the module docstring)
    id = _StoredId()

    def changed_fields(self) -> list[str]:
        """Names of the fields assigned a different value since this model was decoded (every
        set field for a model built by hand).

        Values are compared with the decoded ones; mutating a list in place is not seen, so
        assign a new list (``p.tags = [*p.tags, "vip"]``).
        """
        return changed_fields(self)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in shown_fields(self))
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        # Compares what the fields hold without reading them through their descriptors: no
        # handle is built and no stored value is converted (== has no side effects).
        if other.__class__ is not self.__class__:
            return NotImplemented
        return comparable(self) == comparable(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __getstate__(self) -> dict[str, Any]:
        # Handles pickle without their client: the response context stays behind.
        state = dict(self.__dict__)
        state.pop(CONTEXT_KEY, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "__dict__", state)


class _Extra:
    """``Resource.extra``: what the model holds that its spec does not know, sorted out of the
    storage on first use (see the storage contract)."""

    def __get__(self, obj: Resource | None, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        values = obj.__dict__
        extra = values.get("extra")
        if extra is None:
            settle(obj)
            extra = values.setdefault("extra", {})
        return extra

    def __set__(self, obj: Resource, value: dict[str, Any]) -> None:
        settle(obj)  # what the wire sent and the spec does not know goes with the old extra
        obj.__dict__["extra"] = value


# attrs removes the class attributes of its fields; these descriptors map them to the storage.
Resource._id = _RawId()  # type: ignore[assignment]
Resource._origin = _Origin()  # type: ignore[assignment]
Resource.extra = _Extra()  # type: ignore[assignment]
# a decoded resource that carried no ``meta`` has none in its storage (see _converter)
Resource.meta = UNSET


# The field descriptors below are ``property`` objects whose getters close over the field's wire
# name: CPython calls a property's getter directly, where a class with a Python ``__get__`` costs a
# method lookup and a three-argument call on every read (reading every field of a prospect page
# went from 1.45x to 1.37x the dict reads with this alone, ``benchmarks/bench_decode.py``). Read
# on the class, a field gives its descriptor.


class WireField(property):
    """An attribute field whose wire name differs (``first_name`` is stored under
    ``firstName``): reads and writes the wire key of the instance's ``__dict__``.

    With ``by_wire_name`` the class holds ``UNSET`` under the wire name (as it does under a
    plain field's name), so the read is ``operator.attrgetter(wire)``: the instance's value, or
    the class's ``UNSET``, found in C without a Python frame. (The storage is keyed by wire name,
    so ``model.firstName`` always read the stored value; now it reads ``UNSET`` when absent.)
    """

    def __init__(self, attribute: AttributeSpec, *, by_wire_name: bool = False) -> None:
        wire = attribute.wire

        def get(obj: Resource) -> Any:
            try:  # a subscript, not dict.get: no method call on the common path
                return obj.__dict__[wire]
            except KeyError:
                return UNSET

        def set_(obj: Resource, value: Any) -> None:
            obj.__dict__[wire] = value

        super().__init__(operator.attrgetter(wire) if by_wire_name else get, set_)
        self.name = attribute.name
        self.wire = wire


class TimeField(property):
    """A datetime or date attribute: the wire string is parsed on every read and never written
    back (see the storage contract). A malformed value is returned as it came rather than
    losing the record."""

    def __init__(self, attribute: AttributeSpec, convert: Callable[[Any], Any]) -> None:
        wire = attribute.wire

        def get(obj: Resource) -> Any:
            try:
                value = obj.__dict__[wire]
            except KeyError:
                return UNSET
            return convert(value) if value.__class__ is str else value

        def set_(obj: Resource, value: Any) -> None:
            obj.__dict__[wire] = value

        super().__init__(get, set_)
        self.name = attribute.name
        self.wire = wire
        self.convert = convert


class ServerStamp(property):
    """``created_at`` / ``updated_at``: a datetime Outreach sets on every stored record.

    Read-only and typed as a plain datetime; a model that does not hold it (built by hand, or
    read with a sparse fieldset that left it out) raises :class:`FieldNotLoadedError`.
    """

    def __init__(self, wire: str) -> None:
        def get(obj: Resource) -> Any:
            value = obj.__dict__.get(wire)
            if value.__class__ is str:
                return lenient_datetime(value)
            if value is None:
                kind = type(obj).__name__
                raise FieldNotLoadedError(
                    f"this {kind} holds no {self.name}: a model you build has none until it is "
                    f"created, and a sparse fieldset must name it (fields={{{kind}: [..., "
                    f"{self.name!r}]}})"
                )
            return value

        def set_(obj: Resource, value: Never) -> None:
            raise AttributeError(f"{self.name} is set by Outreach (read-only)")

        super().__init__(get, set_)
        self.wire = wire
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    if TYPE_CHECKING:  # what a read gives and a write takes, for type checkers (not Any)

        @overload
        def __get__(self, obj: None, objtype: type | None = None) -> ServerStamp: ...
        @overload
        def __get__(self, obj: object, objtype: type | None = None) -> _dt.datetime: ...
        def __get__(self, obj: object, objtype: type | None = None) -> Any: ...
        def __set__(self, obj: object, value: Never) -> None: ...


class LazyRelationship(property):
    """A relationship field: builds the handle on first read.

    Decoding keeps each record's raw ``relationships`` object and builds no handle (a prospect
    has 20 relationships; most exports never read them). The first read builds the handle and
    caches it in the instance's ``__dict__`` under the field's name. A data descriptor, so that
    an attribute the spec does not know, left in the storage by decoding, can never stand in
    for the field: a value found under the field's name before the extras are sorted out, other
    than the handle the field cached, sends them to ``extra`` first (``settle``).
    """

    def __init__(self, rel: RelationshipSpec) -> None:
        name, wire, target, to_many = rel.name, rel.wire, rel.target, rel.to_many
        field = (wire, target)
        kind = LazyToMany if to_many else LazyToOne
        new = object.__new__

        def get(obj: Resource) -> Any:
            values = obj.__dict__
            if name in values:
                cached = values[name]
                # before the extras are sorted out, what is there may be an attribute the spec
                # does not know (off to extra); never the handle this getter cached, which a
                # second read returns without the sort (a look at every attribute name)
                if PENDING_KEY not in values or cached.__class__ is kind:
                    return cached
                settle(obj)
                return get(obj)
            try:  # subscripts, not dict.get: no method call on the common path
                relationships = values[RAW_RELATIONSHIPS_KEY]
                found = relationships[wire] is not None
            except (KeyError, TypeError):  # none kept, or not this one
                return UNSET
            if not found:
                return UNSET
            try:
                context = values[CONTEXT_KEY]
            except KeyError:  # unpickled: no client behind the handle
                context = None
            # lazy_handle, inlined (a test keeps the two alike): reading every field of a
            # prospect builds 21 handles, and a call each cost a tenth of the reads (bench_decode)
            handle: Any = new(kind)
            handle._relationships = relationships
            handle._field = field
            handle._context = context
            values[name] = handle
            return handle

        def set_(obj: Resource, value: Any) -> None:
            values = obj.__dict__
            if PENDING_KEY in values and name in values:
                settle(obj)  # an attribute the spec does not know, of this name, goes to extra
            values[name] = value

        def delete(obj: Resource) -> None:
            try:
                del obj.__dict__[name]
            except KeyError:
                raise AttributeError(name) from None

        super().__init__(get, set_, delete)
        self.name = name
        self.wire = wire
        self.target = target
        self.to_many = to_many


def register_model(cls: type[R]) -> type[R]:
    """Register a model class for its resource type and install its field descriptors.

    attrs removes class attributes for its fields; what goes back is a :class:`TimeField` for
    dates and datetimes, a :class:`WireField` for attributes stored under another name (and
    ``UNSET`` under that wire name when the class has nothing else there, for the field's fast
    read), a :class:`LazyRelationship` for relationships, and the default (``UNSET``) for the
    rest, which ``__dict__`` shadows when set.
    """
    spec = cls.__resource_spec__
    attributes = {a.name: a for a in spec.attributes}
    relationships = {r.name: r for r in spec.relationships}
    # a wire name the class uses for nothing else can hold UNSET for a WireField's fast read
    taken = set(dir(cls)) | {f.name for f in attrs.fields(cls)}
    for field in attrs.fields(cls):
        if field.name in relationships:
            setattr(cls, field.name, LazyRelationship(relationships[field.name]))
        elif (attribute := attributes.get(field.name)) is not None and (
            convert := time_parser(attribute.kind)
        ) is not None:
            setattr(cls, field.name, TimeField(attribute, convert))
        elif attribute is not None and attribute.name != attribute.wire:
            by_wire_name = attribute.wire not in taken
            if by_wire_name:
                setattr(cls, attribute.wire, UNSET)
            setattr(cls, field.name, WireField(attribute, by_wire_name=by_wire_name))
        elif field.name not in BASE_FIELDS and not isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            setattr(cls, field.name, field.default)
    MODELS[spec.type] = cls
    return cls


def model_for_type(type_: str) -> type[Resource] | None:
    """The model class for a resource type, or None for a type this library does not know."""
    return MODELS.get(type_)
