"""Every wire-format rule in one place: resource objects <-> models.

Rules: camelCase on the wire, snake_case on the model; datetimes are timezone-aware and travel
as millisecond UTC (``2024-07-26T06:27:17.000Z``); a field the response did not carry reads as
``UNSET``; attributes and relationships this library does not know are kept in ``extra`` and
written back; relationships become handles; read-only attributes are never sent.

Decoding is the hot path of every export, so each model gets a generated structuring function
(the same trick cattrs uses) that renames and converts only the fields that need it and adopts the
decoded dictionary as the instance's ``__dict__``: typed models cost about what ``json.loads``
costs. The functions are registered in a cattrs ``Converter`` (:data:`converter`), so
``converter.structure(resource_object, Prospect)`` and ``converter.unstructure(prospect)`` work as
users of cattrs expect.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs

from ._exceptions import ResponseFormatError
from ._jsonapi import Document, parse_document
from ._relationships import HandleContext, ToMany, ToOne, as_id
from ._schema import AttributeSpec
from ._types import UNSET
from ._wire import format_datetime, parse_datetime
from .models._base import Resource, model_for_type
from .models._storage import (
    CONTEXT_KEY,
    DECODED_KEY,
    PENDING_KEY,
    RAW_RELATIONSHIPS_KEY,
    RESERVED_KEYS,
    stored_id,
    subclass_fields,
)
from .models._tracking import (
    attribute_value,
    known_wires,
    relationship_value,
    set_field_names,
    settled,
    unknown_relationship,
)

__all__ = [
    "converter",
    "resource_to_wire",
    "structure_resource",
    "wire_value",
]

R = TypeVar("R", bound=Resource)
C = TypeVar("C")
StructureFn = Callable[..., Resource]

# ---------------------------------------------------------------- generated structuring functions


def _make_structure_fn(cls: type[Resource]) -> StructureFn:
    # The generated function adopts the decoded ``attributes`` dict as the instance's __dict__
    # (see models/_base.py): no per-field work. What the spec does not know goes to ``extra``
    # when first needed (models/_tracking.settle): reading every record's 230 names here would
    # cost a tenth of the decode. Only a name a stray key would hide is looked for now.
    known, relationship_wires = known_wires(cls)  # what settle sorts by, too
    lines = [
        "def structure(raw, ctx, owned=False):",
        "    a = raw.get('attributes')",
        "    d = {} if a is None else (a if owned else dict(a))",
        "    if d.keys().isdisjoint(SHADOWED):",
        "        extra = None",
        "        d[PENDING] = len(d)",
        "    else:",
        # extras: attributes the spec does not know, kept by wire name (never dropped)
        "        extra = {k: d.pop(k) for k in d.keys() - KNOWN}",
        "    rels = raw.get('relationships')",
        "    if rels:",
        # handles are built on first read (LazyRelationship); keep the raw objects and context
        "        d[RELS] = rels",
        "        d[CTX] = ctx",
        "        if extra is not None and not REL_WIRES.issuperset(rels):",
        "            for k in rels.keys() - REL_WIRES: extra[k] = unknown_(rels[k], ctx)",
        "    i = raw.get('id')",
        "    d['id'] = i if i.__class__ is int else as_id(i)",
        "    if extra is not None: d['extra'] = extra",
        # most resources carry no meta: the class's UNSET stands in (one key fewer to insert)
        "    m = raw.get('meta', U)",
        "    if m is not U: d['meta'] = m",
        "    d[DECODED] = True",
        *_subclass_default_lines(cls),
        "    o = new(cls)",
        "    setd(o, '__dict__', d)",
        "    return o",
    ]
    namespace: dict[str, Any] = {
        "U": UNSET,
        "KNOWN": known,
        "SHADOWED": shadowed_names(cls),
        "REL_WIRES": relationship_wires,
        "RELS": RAW_RELATIONSHIPS_KEY,
        "CTX": CONTEXT_KEY,
        "DECODED": DECODED_KEY,
        "PENDING": PENDING_KEY,
        "unknown_": unknown_relationship,
        "as_id": as_id,
        "new": object.__new__,
        "setd": object.__setattr__,
        "cls": cls,
        "DEFAULTS": _subclass_defaults(cls),
    }
    exec(compile("\n".join(lines), f"<structure {cls.__name__}>", "exec"), namespace)
    return namespace["structure"]  # type: ignore[no-any-return]


def shadowed_names(cls: type[Resource]) -> frozenset[str]:
    """Names an attribute the spec does not know must not take in a model's storage until it
    moves to ``extra``: the reserved keys decoding writes, a subclass's own fields (their
    defaults are filled in at decode), and whatever of the class an instance's ``__dict__``
    would hide (methods, plain class attributes). Field descriptors that set values are not
    hidden; known wire names are the fields themselves."""
    names = set(RESERVED_KEYS) | {f.name for f in subclass_fields(cls)}
    for name in dir(cls):
        if name.startswith("__") and name.endswith("__"):
            continue  # special methods are looked up on the class, never the instance
        if not hasattr(type(inspect.getattr_static(cls, name)), "__set__"):
            names.add(name)
    return frozenset(names - {a.wire for a in cls.__resource_spec__.attributes})


def _subclass_default_lines(cls: type[Resource]) -> list[str]:
    # A user subclass's own fields are not in the response: a decoded instance gets their
    # defaults (a factory is called per instance), as one built by hand does.
    if not subclass_fields(cls):
        return []
    return [
        "    for k, make, v in DEFAULTS:",
        "        if k not in d: d[k] = make() if make is not None else v",
    ]


def _subclass_defaults(cls: type[Resource]) -> tuple[tuple[str, Any, Any], ...]:
    """(name, factory or None, default) of a subclass's own fields that have a default."""
    out = []
    for field in subclass_fields(cls):
        default: Any = field.default
        if default is attrs.NOTHING:
            continue
        factory = default.factory if isinstance(default, attrs.Factory) else None  # type: ignore[arg-type]
        out.append((field.name, factory, default))
    return tuple(out)


_STRUCTURE_FNS: dict[type[Resource], StructureFn] = {}


def structure_fn(cls: type[Resource]) -> StructureFn:
    """The generated structuring function of a model class (built once, then cached)."""
    fn = _STRUCTURE_FNS.get(cls)
    if fn is None:
        fn = _STRUCTURE_FNS[cls] = _make_structure_fn(cls)
    return fn


def structure_resource(
    raw: Mapping[str, Any], cls: type[R] | None = None, context: HandleContext | None = None
) -> R:
    """A model from one resource object; the class comes from ``raw["type"]`` when not given."""
    if cls is None:
        found = model_for_type(str(raw.get("type")))
        if found is None:
            raise cattrs.StructureHandlerNotFoundError(
                f"no model for resource type {raw.get('type')!r}", type(raw)
            )
        cls = found  # type: ignore[assignment]
    return structure_fn(cls)(raw, context)  # type: ignore[arg-type, return-value]


def decode_collection(
    body: bytes, cls: type[R], context_factory: Callable[[list[dict[str, Any]]], C]
) -> tuple[list[R], Document, C]:
    """Bytes of a collection document to typed models in one pass.

    ``context_factory`` builds the response's identity map from its ``included`` list.
    """
    document = parse_document(body)
    if not isinstance(document.data, list):
        raise ResponseFormatError(f"expected a collection of {cls.__resource_spec__.type}")
    context = context_factory(document.included)
    structure = structure_fn(cls)
    # the freshly parsed document is ours: its attribute dicts are adopted, not copied
    items: list[R] = [structure(raw, context, True) for raw in document.data]  # type: ignore[misc]
    return items, document, context


# ---------------------------------------------------------------- model -> wire


def wire_value(attribute: AttributeSpec, value: Any) -> Any:
    """An attribute value in its wire form."""
    if isinstance(value, (dt.datetime, dt.date)):
        return format_datetime(value)
    return value


def relationship_to_wire(value: Any) -> dict[str, Any]:
    """A relationship object for a request from a handle (to-one with its meta, or to-many)."""
    if isinstance(value, ToMany):
        return {"data": [{"type": value.type, "id": i} for i in value.ids or ()]}
    if isinstance(value, ToOne):
        if value.id is None:
            return {"data": None}
        rel: dict[str, Any] = {"data": {"type": value.type, "id": value.id}}
        if value.meta:
            rel["meta"] = dict(value.meta)
        return rel
    raise TypeError(f"not a relationship handle: {value!r}")


def resource_to_wire(
    model: Resource, names: Iterable[str] | None = None, *, for_write: bool = False
) -> dict[str, Any]:
    """The resource object for a model: the named fields (default: every set field) and extras.

    With ``for_write`` read-only attributes and relationships are left out: Outreach answers
    400 ``permittedParams.unknownAttribute`` to them.
    """
    spec = model.__resource_spec__
    values, extra = settled(model)
    wanted = list(names) if names is not None else set_field_names(model)
    attributes: dict[str, Any] = {}
    relationships: dict[str, Any] = {}
    for name in wanted:
        attribute = spec.attribute_by_name.get(name)
        rel = spec.relationship_by_name.get(name)
        if attribute is not None and not (for_write and attribute.read_only):
            if (value := attribute_value(values, attribute)) is not UNSET:
                attributes[attribute.wire] = wire_value(attribute, value)
        elif rel is not None and not (for_write and rel.read_only):
            handle = relationship_value(values, rel)
            if handle is not UNSET:
                relationships[rel.wire] = relationship_to_wire(handle)
    if names is None:
        _add_extras(extra, attributes, relationships)
    out: dict[str, Any] = {"type": spec.type}
    if (id_ := stored_id(model)) is not None:
        out["id"] = id_
    if attributes:
        out["attributes"] = attributes
    if relationships:
        out["relationships"] = relationships
    return out


def _add_extras(
    extra: Mapping[str, Any], attributes: dict[str, Any], relationships: dict[str, Any]
) -> None:
    for wire, value in extra.items():
        if isinstance(value, (ToOne, ToMany)):
            relationships[wire] = relationship_to_wire(value)
        else:
            attributes[wire] = value


# ---------------------------------------------------------------- the cattrs converter


def _is_resource(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, Resource) and hasattr(cls, "__resource_spec__")


def make_converter() -> cattrs.Converter:
    """A cattrs converter that knows the models' wire format (resource objects)."""
    conv = cattrs.Converter()
    conv.register_structure_hook_factory(
        _is_resource, lambda cls: lambda raw, _type: structure_resource(raw, cls)
    )
    conv.register_unstructure_hook_func(
        lambda cls: _is_resource(cls), lambda model: resource_to_wire(model)
    )
    conv.register_structure_hook(dt.datetime, lambda v, _t: parse_datetime(v))
    conv.register_unstructure_hook(dt.datetime, format_datetime)
    return conv


#: the converter for users of cattrs: ``converter.structure(resource_object, Prospect)``
converter = make_converter()
