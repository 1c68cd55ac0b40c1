"""``filter[...]`` parameters: Python values checked against a :class:`ResourceSpec`, rendered
in Outreach's legacy syntax or, when a value needs it, the ``newFilterSyntax`` one (facts §4;
datetimes in the millisecond UTC form of §10).

Pure: no I/O. A bad name or value raises :class:`QueryError` naming the valid choices. Bulk
actions (``resources/batches``) reuse the clauses with the new syntax for their ``filter`` input.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

from ._exceptions import QueryError, valid_choices
from ._relationships import ToOne
from ._schema import AttributeKind, AttributeSpec, RelationshipSpec, ResourceSpec
from ._types import NullTest, Range, Ref
from ._wire import camel_to_snake, format_datetime, snake_to_camel
from .models._base import Resource

__all__ = [
    "Clause",
    "Params",
    "check_unique_paths",
    "filter_clauses",
    "filter_params",
    "new_syntax_params",
]

Params: TypeAlias = list[tuple[str, str]]
#: only these types take the prefix search ``filter[q]=...`` (§4)
SEARCHABLE_TYPES = frozenset({"account", "prospect"})


# --- filter ------------------------------------------------------------------------------------


@attrs.frozen
class Equals:
    """``filter[path]=value``."""

    path: tuple[str, ...]
    value: str


@attrs.frozen
class AnyOf:
    """``filter[path]=a,b`` (legacy) or ``filter[path][]=a&filter[path][]=b`` (new syntax)."""

    path: tuple[str, ...]
    values: tuple[str, ...]


@attrs.frozen
class Between:
    """``filter[path]=lo..hi`` (legacy, open sides ``neginf``/``inf``) or ``[gte]``/``[lte]``."""

    path: tuple[str, ...]
    lo: str | None
    hi: str | None


Clause: TypeAlias = Equals | AnyOf | Between


def filter_params(
    spec: ResourceSpec, filter: Mapping[str, object], specs: Mapping[str, ResourceSpec]
) -> Params:
    """``filter[...]`` parameters, in the legacy syntax unless a value needs the new one (§4)."""
    clauses = [c for key, value in filter.items() for c in filter_clauses(spec, key, value, specs)]
    check_unique_paths(clauses)
    if not any(needs_new_syntax(c) for c in clauses):
        return [p for c in clauses for p in legacy_params(c)]
    return [p for c in clauses for p in new_syntax_params(c)] + [("newFilterSyntax", "true")]


def filter_clauses(
    spec: ResourceSpec, key: str, value: object, specs: Mapping[str, ResourceSpec]
) -> list[Clause]:
    """The clauses of one ``filter`` entry, validated against the spec."""
    if not isinstance(key, str):
        raise QueryError(f"filter keys are attribute or relationship names, not {key!r}")
    if key == "q" and spec.type in SEARCHABLE_TYPES:
        return [Equals(("q",), _search_text(value))]
    attribute = spec.attribute(key)
    relationship = spec.relationship(key)
    if relationship is not None and (attribute is None or _names_a_record(value)):
        return relationship_clauses(relationship, value, specs)
    if attribute is not None:
        return [attribute_clause(spec, attribute, value)]
    if key == "id":  # every resource filters by id (filter[id]=1,2,3); it is not an attribute
        return [value_clause(("id",), _as_ids(value), "integer", "filter[id]")]
    raise QueryError(
        f"cannot filter {spec.type} by {key!r}: no such attribute or relationship"
        + valid_choices(filter_choices(spec))
    )


def filter_choices(spec: ResourceSpec) -> list[str]:
    """The names ``spec`` can be filtered by (snake_case)."""
    names = {"id"} | {a.name for a in spec.attributes if a.filterable}
    names |= {r.name for r in spec.relationships if r.filterable}
    return sorted(names | ({"q"} if spec.type in SEARCHABLE_TYPES else set()))


def attribute_clause(spec: ResourceSpec, attribute: AttributeSpec, value: object) -> Clause:
    """``filter[attr]=...`` for a filterable attribute."""
    if not attribute.filterable:
        raise QueryError(
            f"{spec.type}.{attribute.name} is not filterable" + valid_choices(filter_choices(spec))
        )
    kind = attribute.item_kind if attribute.kind == "array" else attribute.kind
    return value_clause((attribute.wire,), value, kind, f"filter[{attribute.name}]")


def relationship_clauses(
    relationship: RelationshipSpec, value: object, specs: Mapping[str, ResourceSpec]
) -> list[Clause]:
    """``filter[rel][id]=...`` (ids, models, refs) or ``filter[rel][attr]=...`` (a mapping)."""
    if not relationship.filterable:
        raise QueryError(f"the {relationship.name!r} relationship cannot be used as a filter")
    if not isinstance(value, Mapping):
        label = f"filter[{relationship.name}]"
        return [value_clause((relationship.wire, "id"), _as_ids(value), "integer", label)]
    if not value:
        raise QueryError(f"filter[{relationship.name}] is an empty mapping")
    target = specs.get(relationship.target)
    return [
        _relationship_attribute_clause(relationship, target, name, item)
        for name, item in value.items()
    ]


def _relationship_attribute_clause(
    relationship: RelationshipSpec, target: ResourceSpec | None, name: object, value: object
) -> Clause:
    wire = _relationship_filter_attribute(relationship, target, name)
    label = f"filter[{relationship.name}][{camel_to_snake(wire)}]"
    path = (relationship.wire, wire)
    if wire == "id":
        return value_clause(path, _as_ids(value), "integer", label)
    found = target.attribute(wire) if target is not None else None
    kind: AttributeKind = "any" if found is None else found.kind
    if found is not None and kind == "array":
        kind = found.item_kind
    return value_clause(path, value, kind, label)


def _relationship_filter_attribute(
    relationship: RelationshipSpec, target: ResourceSpec | None, name: object
) -> str:
    """The wire name of a ``filter[rel][attr]`` attribute the spec allows, from either case."""
    allowed = relationship.filter_attributes
    if isinstance(name, str):
        found = target.attribute(name) if target is not None else None
        for candidate in (name, snake_to_camel(name), found.wire if found else None):
            if candidate in allowed:
                return candidate
    raise QueryError(
        f"cannot filter by {relationship.name}.{name}"
        + valid_choices(camel_to_snake(a) for a in relationship.filter_attributes)
    )


def value_clause(path: tuple[str, ...], value: object, kind: AttributeKind, label: str) -> Clause:
    """One clause: a null test, a range, any of a collection, or an equality."""
    if isinstance(value, NullTest):
        return Equals(path, value.value)
    if isinstance(value, Range):
        lo, hi = range_bounds(value, kind, label)
        return Between(path, lo, hi)
    if isinstance(value, list | tuple | set | frozenset):
        items = _ordered(value)
        if not items:
            raise QueryError(f"{label} is an empty collection: it would match nothing")
        return AnyOf(path, tuple(scalar_text(item, kind, label) for item in items))
    return Equals(path, scalar_text(value, kind, label))


def range_bounds(value: Range, kind: AttributeKind, label: str) -> tuple[str | None, str | None]:
    """The rendered bounds of a ``Range``, checked for type and order."""
    if kind not in ("integer", "number", "datetime", "date", "string", "any"):
        raise QueryError(f"{label} is a {kind}: it cannot take a Range")
    lo = None if value.lo is None else scalar_text(value.lo, kind, f"{label} lower bound")
    hi = None if value.hi is None else scalar_text(value.hi, kind, f"{label} upper bound")
    if _reversed(value.lo, value.hi):
        raise QueryError(f"{label}: Range({value.lo!r}, {value.hi!r}) has lo > hi")
    return lo, hi


def _reversed(lo: object, hi: object) -> bool:
    """Whether two bounds of a like kind are in the wrong order (unlike kinds: not judged)."""
    if isinstance(lo, _dt.datetime) and isinstance(hi, _dt.datetime):
        return _as_utc(lo) > _as_utc(hi)
    plain_dates = isinstance(lo, _dt.date) and not isinstance(lo, _dt.datetime)
    if plain_dates and type(lo) is type(hi):
        return bool(lo > hi)  # type: ignore[operator]
    numbers = (int, float)
    if isinstance(lo, numbers) and isinstance(hi, numbers):
        return lo > hi
    return False


def _as_utc(value: _dt.datetime) -> _dt.datetime:
    return value.replace(tzinfo=_dt.UTC) if value.utcoffset() is None else value


# --- scalar values -----------------------------------------------------------------------------


def scalar_text(value: object, kind: AttributeKind, label: str) -> str:
    """One filter value as the API writes it, checked against the attribute's kind."""
    if isinstance(value, bool):  # before int: a bool is an int to Python, not to the API
        if kind in ("boolean", "any"):
            return "true" if value else "false"
    elif kind == "integer" and isinstance(value, int):
        return str(value)
    elif kind == "number" and isinstance(value, int | float):
        return _number_text(value, label)
    elif kind == "datetime" and isinstance(value, _dt.date | str):
        return _datetime_text(value, label)
    elif kind == "date" and isinstance(value, _dt.date | str):
        return _date_text(value, label)
    elif kind == "string" and isinstance(value, str):
        return value
    elif kind not in ("integer", "number", "boolean", "datetime", "date", "string"):
        return _any_text(value, label)
    raise QueryError(f"{label} expects {_KIND_WORDS[kind]}, got {value!r}")


_KIND_WORDS: dict[AttributeKind, str] = {
    "integer": "an int",
    "number": "a number",
    "boolean": "a bool",
    "datetime": "a datetime, a date or an ISO 8601 string",
    "date": "a date or a YYYY-MM-DD string",
    "string": "a str",
    "array": "a value",
    "object": "a value",
    "any": "a str, number, bool, date or datetime",
}


def _any_text(value: object, label: str) -> str:
    """A value for an attribute whose kind the spec leaves open."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return _number_text(value, label)
    if isinstance(value, _dt.date):
        return format_datetime(value)
    raise QueryError(f"{label} expects {_KIND_WORDS['any']}, got {value!r}")


def _number_text(value: int | float, label: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryError(f"{label} must be a finite number, got {value!r}")
    return repr(value)


def _datetime_text(value: _dt.date | str, label: str) -> str:
    """A datetime (or a date, or an ISO string of either) in the API's form (§10)."""
    if isinstance(value, str):
        value = _parse_iso(value, label)
    return format_datetime(value)


def _date_text(value: _dt.date | str, label: str) -> str:
    if isinstance(value, str):
        value = _parse_iso(value, label)
    if isinstance(value, _dt.datetime):
        raise QueryError(f"{label} expects a date, got the datetime {value!r}")
    return value.isoformat()


def _parse_iso(text: str, label: str) -> _dt.date:
    """A date (``YYYY-MM-DD``) or a datetime from an ISO 8601 string; anything else is an error."""
    try:
        if len(text) == len("YYYY-MM-DD"):
            return _dt.date.fromisoformat(text)
        return _dt.datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(f"{label}: {text!r} is not an ISO 8601 date or datetime") from None


def _search_text(value: object) -> str:
    """The prefix search ``filter[q]`` passes through verbatim (its own comma grammar, §4)."""
    if not isinstance(value, str) or not value:
        raise QueryError(f"filter[q] expects a non-empty str, got {value!r}")
    return value


def _as_ids(value: object) -> object:
    """Replace models, refs and relationship handles (in a collection too) by their ids."""
    if isinstance(value, list | tuple | set | frozenset):
        return [_as_id(item) for item in value]
    return _as_id(value)


def _as_id(value: object) -> object:
    if isinstance(value, Resource | Ref | ToOne):
        id_ = getattr(value, "id", None)  # a model not created yet has none (reading raises)
        if id_ is None:
            raise QueryError(f"cannot filter by {value!r}: it has no id yet")
        return id_
    return value


def _names_a_record(value: object) -> bool:
    return isinstance(value, Mapping | Resource | Ref | ToOne)


def _ordered(values: Iterable[Any]) -> list[Any]:
    """Lists and tuples keep their order; sets are sorted so the query is stable."""
    if not isinstance(values, set | frozenset):
        return list(values)
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=repr)


# --- filter rendering --------------------------------------------------------------------------


def needs_new_syntax(clause: Clause) -> bool:
    """Whether the legacy syntax would misread a value: a literal ``,`` or ``..`` (§4)."""
    if clause.path == ("q",):
        return False
    return any("," in text or ".." in text for text in _texts(clause))


def _texts(clause: Clause) -> tuple[str, ...]:
    if isinstance(clause, Equals):
        return (clause.value,)
    if isinstance(clause, AnyOf):
        return clause.values
    return tuple(bound for bound in (clause.lo, clause.hi) if bound is not None)


def legacy_params(clause: Clause) -> Params:
    """``filter[x]=v``, ``filter[x]=a,b``, ``filter[x]=lo..hi`` with ``neginf``/``inf``."""
    key = _filter_key(clause.path)
    if isinstance(clause, Equals):
        return [(key, clause.value)]
    if isinstance(clause, AnyOf):
        return [(key, ",".join(clause.values))]
    lo = "neginf" if clause.lo is None else clause.lo
    hi = "inf" if clause.hi is None else clause.hi
    return [(key, f"{lo}..{hi}")]


def new_syntax_params(clause: Clause) -> Params:
    """``filter[x]=v``, ``filter[x][]=a&filter[x][]=b``, ``filter[x][gte]=lo&filter[x][lte]=hi``."""
    key = _filter_key(clause.path)
    if isinstance(clause, Equals):
        return [(key, clause.value)]
    if isinstance(clause, AnyOf):
        return [(key + "[]", value) for value in clause.values]
    bounds = (("[gte]", clause.lo), ("[lte]", clause.hi))
    return [(key + op, bound) for op, bound in bounds if bound is not None]


def _filter_key(path: tuple[str, ...]) -> str:
    return "filter" + "".join(f"[{part}]" for part in path)


def check_unique_paths(clauses: Sequence[Clause]) -> None:
    """The same wire key given twice (``updated_at`` and ``updatedAt``) is ambiguous."""
    seen: set[tuple[str, ...]] = set()
    for clause in clauses:
        if clause.path in seen:
            raise QueryError(f"{_filter_key(clause.path)} is given more than once")
        seen.add(clause.path)
