"""``filter[...]`` query parameters to :class:`~.query.FieldFilter` values, pure.

The two syntaxes of outreach-api-facts.md §4:

* legacy (the default): ``filter[firstName]=Sally``; lists ``filter[id]=1,2,3``; ranges
  ``filter[id]=5..10`` with ``inf`` / ``neginf`` for an open side; ``__null__`` / ``__notnull__``;
  relationships ``filter[owner][id]=1,2`` (and the documented relationship attributes,
  ``filter[account][name]=Acme``);
* ``newFilterSyntax=true``: values are literal (commas and ``..`` included), lists are written
  ``filter[firstName][]=Sally&filter[firstName][]=Katie`` and ranges ``[gte]`` / ``[lte]`` (and
  ``[gt]`` / ``[lt]``); a legacy range string on a datetime then fails with 400
  ``filterParameter.invalidDatetimeFormat`` (facts §4, source DL).

Values are converted to the attribute's stored type (datetimes to the millisecond ``Z`` form),
so that tests compare like with like. Parsing needs the resource specs only; filters that depend
on other records are resolved against the store by :mod:`.collection`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

from .._schema import AttributeKind, AttributeSpec, ResourceSpec
from .errors import ApiError, bad_parameter
from .query import (
    AnyOf,
    AttributeTarget,
    Between,
    FieldFilter,
    Filter,
    IsNull,
    NotNull,
    RelationshipTarget,
    ReverseTarget,
    SearchFilter,
    Test,
    attribute_spec,
)
from .times import normalize_date, normalize_datetime

__all__ = ["convert_value", "parse_filters"]

SpecLookup: TypeAlias = Callable[[str], "ResourceSpec | None"]

_FILTER_KEY = re.compile(r"^filter((?:\[[^\[\]]*\])+)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_OPERATORS = frozenset({"gte", "lte", "gt", "lt"})
_NULL, _NOT_NULL = "__null__", "__notnull__"


def _filter_error(
    parameter: str, detail: str, error_id: str = "filterParameter.invalid"
) -> ApiError:
    return bad_parameter(error_id, parameter, detail)


def convert_value(raw: str, kind: AttributeKind, parameter: str) -> Any:
    """A filter value as the stored type of an attribute of ``kind`` (400 when it cannot be)."""
    try:
        if kind == "datetime":
            return normalize_datetime(raw)
        if kind == "date":
            return normalize_date(raw)
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            return {"true": True, "false": False}[raw.lower()]
    except (ValueError, KeyError):
        if kind in ("datetime", "date"):
            raise _filter_error(
                parameter,
                f"'{raw}' is not a valid datetime for {parameter}.",
                "filterParameter.invalidDatetimeFormat",
            ) from None
        raise _filter_error(
            parameter,
            f"'{raw}' is not a valid {kind} for {parameter}.",
            "filterParameter.invalidValue",
        ) from None
    return raw


def _legacy_test(raw: str, kind: AttributeKind, parameter: str) -> Test:
    if raw == _NULL:
        return IsNull()
    if raw == _NOT_NULL:
        return NotNull()
    if ".." in raw:
        lo_raw, hi_raw = raw.split("..", 1)
        lo = None if lo_raw in ("neginf", "") else convert_value(lo_raw, kind, parameter)
        hi = None if hi_raw in ("inf", "") else convert_value(hi_raw, kind, parameter)
        return Between(lo, hi)
    return AnyOf(frozenset(convert_value(v, kind, parameter) for v in raw.split(",")))


def _literal_test(raws: Sequence[str], kind: AttributeKind, parameter: str) -> Test:
    if len(raws) == 1 and raws[0] in (_NULL, _NOT_NULL):
        return IsNull() if raws[0] == _NULL else NotNull()
    return AnyOf(frozenset(convert_value(v, kind, parameter) for v in raws))


def _operator_test(ops: Mapping[str, str], kind: AttributeKind, parameter: str) -> Between:
    lo_op = "gte" if "gte" in ops else "gt" if "gt" in ops else None
    hi_op = "lte" if "lte" in ops else "lt" if "lt" in ops else None
    return Between(
        lo=None if lo_op is None else convert_value(ops[lo_op], kind, parameter),
        hi=None if hi_op is None else convert_value(ops[hi_op], kind, parameter),
        lo_inclusive=lo_op != "gt",
        hi_inclusive=hi_op != "lt",
    )


@attrs.define
class _Clause:
    """The raw values gathered for one filtered field before they become tests."""

    parameter: str
    plain: list[str] = attrs.field(factory=list)
    listed: list[str] = attrs.field(factory=list)
    operators: dict[str, str] = attrs.field(factory=dict)


def _gather(params: Iterable[tuple[str, str]]) -> dict[tuple[str, ...], _Clause]:
    """Group ``filter[...]`` parameters by field path; ``[]`` and operators split off."""
    clauses: dict[tuple[str, ...], _Clause] = {}
    for key, value in params:
        match = _FILTER_KEY.match(key)
        if match is None:
            continue
        segments = _SEGMENT.findall(match.group(1))
        modifier: str | None = None
        if segments[-1] == "" or (len(segments) > 1 and segments[-1] in _OPERATORS):
            modifier = segments.pop()
        if not segments or "" in segments:
            raise _filter_error(key, f"'{key}' is not a valid filter parameter.")
        clause = clauses.setdefault(tuple(segments), _Clause(parameter=key))
        if modifier == "":
            clause.listed.append(value)
        elif modifier is not None:
            clause.operators[modifier] = value
        else:
            clause.plain.append(value)
    return clauses


def _tests_for(
    clause: _Clause, kind: AttributeKind, new_syntax: bool, parameter: str
) -> tuple[Test, ...]:
    if clause.operators and not new_syntax:
        raise _filter_error(
            parameter,
            f"'{clause.parameter}' uses [gte]/[lte] operators, which need newFilterSyntax=true.",
            "filterParameter.newFilterSyntaxRequired",
        )
    tests: list[Test] = []
    if clause.plain:
        raw = clause.plain[-1]  # a repeated plain key: the last one wins, as in Rails
        tests.append(
            _literal_test([raw], kind, parameter)
            if new_syntax
            else _legacy_test(raw, kind, parameter)
        )
    if clause.listed:
        tests.append(_literal_test(clause.listed, kind, parameter))
    if clause.operators:
        tests.append(_operator_test(clause.operators, kind, parameter))
    return tuple(tests)


def _value_kind(spec: AttributeSpec) -> tuple[AttributeKind, bool]:
    if spec.kind == "array":
        return spec.item_kind if spec.item_kind != "any" else "string", True
    return spec.kind, False


def _attribute_filter(
    spec: ResourceSpec, path: tuple[str, ...], clause: _Clause, new_syntax: bool
) -> FieldFilter | None:
    attribute = attribute_spec(spec, path[0])
    if attribute is None:
        return None
    if len(path) > 1:
        raise _filter_error(
            clause.parameter, f"'{clause.parameter}' is not a valid filter parameter."
        )
    if not attribute.filterable:
        raise _filter_error(
            clause.parameter,
            f"'{attribute.wire}' is not a filterable attribute of '{spec.type}'.",
            "filterParameter.unfilterableAttribute",
        )
    kind, is_array = _value_kind(attribute)
    tests = _tests_for(clause, kind, new_syntax, clause.parameter)
    return FieldFilter(AttributeTarget(attribute.wire, is_array), tests)


def _relationship_filter(
    spec: ResourceSpec,
    path: tuple[str, ...],
    clause: _Clause,
    new_syntax: bool,
    lookup: SpecLookup,
) -> FieldFilter | None:
    relationship = spec.relationship_by_wire.get(path[0])
    if relationship is None:
        return None
    if not relationship.filterable:
        raise _filter_error(
            clause.parameter,
            f"'{relationship.wire}' cannot be used as a filter on '{spec.type}'.",
            "filterParameter.unfilterableRelationship",
        )
    attribute_wire = path[1] if len(path) > 1 else "id"  # filter[owner]=1 means filter[owner][id]=1
    if len(path) > 2:
        raise _filter_error(
            clause.parameter, f"'{clause.parameter}' is not a valid filter parameter."
        )
    target_spec = lookup(relationship.target)
    allowed = set(relationship.filter_attributes) | {"id"}
    attribute = None if target_spec is None else attribute_spec(target_spec, attribute_wire)
    if attribute is None or attribute_wire not in allowed:
        raise _filter_error(
            clause.parameter,
            f"'{attribute_wire}' cannot be used to filter '{spec.type}' by '{relationship.wire}'; "
            f"allowed: {', '.join(sorted(allowed))}.",
            "filterParameter.unknownAttribute",
        )
    kind, is_array = _value_kind(attribute)
    tests = _tests_for(clause, kind, new_syntax, clause.parameter)
    target = RelationshipTarget(
        relationship.wire, relationship.target, attribute.wire, relationship.to_many, is_array
    )
    return FieldFilter(target, tests)


def _reverse_filter(
    spec: ResourceSpec, path: tuple[str, ...], clause: _Clause, new_syntax: bool, lookup: SpecLookup
) -> FieldFilter | None:
    source = lookup(path[0])
    if source is None or path[1:] not in ((), ("id",)):
        return None
    if not any(r.target == spec.type and r.to_many for r in source.relationships):
        return None
    tests = _tests_for(clause, "integer", new_syntax, clause.parameter)
    return FieldFilter(ReverseTarget(source.type), tests)


def parse_filters(
    params: Iterable[tuple[str, str]],
    spec: ResourceSpec,
    lookup: SpecLookup,
    *,
    new_syntax: bool = False,
    searchable: bool = False,
) -> tuple[Filter, ...]:
    """Every ``filter[...]`` parameter of a request on ``spec``'s collection, validated.

    ``lookup`` gives the spec of another type (relationship targets). Raises :class:`ApiError`
    (400) naming the parameter for anything Outreach would refuse.
    """
    filters: list[Filter] = []
    for path, clause in _gather(params).items():
        if path == ("q",) and searchable:
            filters.append(SearchFilter((clause.plain or clause.listed or [""])[-1]))
            continue
        parsed = (
            _attribute_filter(spec, path, clause, new_syntax)
            or _relationship_filter(spec, path, clause, new_syntax, lookup)
            or _reverse_filter(spec, path, clause, new_syntax, lookup)
        )
        if parsed is None:
            raise _filter_error(
                clause.parameter,
                f"'{path[0]}' is not an attribute or relationship of '{spec.type}'.",
                "filterParameter.unknownAttribute",
            )
        filters.append(parsed)
    return tuple(filters)
