"""The sandbox's query engine, pure: ``filter[...]`` and ``sort`` parameters to predicates.

Filters follow outreach-api-facts.md §4:

* legacy syntax (the default): ``filter[firstName]=Sally``; lists ``filter[id]=1,2,3``; ranges
  ``filter[id]=5..10`` with ``inf`` / ``neginf`` for an open side; ``__null__`` / ``__notnull__``;
  relationships ``filter[owner][id]=1,2`` (and the few documented relationship attributes,
  ``filter[account][name]=Acme``); array attributes (``emails``, ``tags``) match any element;
* ``newFilterSyntax=true``: values are literal (commas and ``..`` included), lists are written
  ``filter[firstName][]=Sally&filter[firstName][]=Katie`` and ranges ``[gte]`` / ``[lte]`` (and
  ``[gt]`` / ``[lt]``); a legacy range string on a datetime then fails with 400
  ``filterParameter.invalidDatetimeFormat`` (facts §4, source DL).

Ranges are inclusive on both sides, like the client's ``Range``; the facts call the upper bound
conflicting (§4), and the inclusive reading is the one that never loses a record.

Sorting (§4): ``sort=-a,b`` on sortable attributes (and ``id``); ``rel.attr`` was deprecated in May
2023 and is refused. Ties break on ascending id, which makes every order total, as keyset cursors
need. Nulls sort last ascending and first descending (Postgres' default), so descending is
exactly ascending reversed.

Parsing needs the resource specs only; filters that depend on other records (relationship
attributes, reverse relationships) are returned as descriptions the collection layer resolves
against the store. Records are the store's raw dicts: ``{"id", "attributes", "relationships"}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

from .._schema import AttributeKind, AttributeSpec, ResourceSpec
from .errors import ApiError, bad_parameter
from .times import normalize_date, normalize_datetime

__all__ = [
    "AnyOf",
    "AttributeTarget",
    "Between",
    "FieldFilter",
    "IsNull",
    "NotNull",
    "Predicate",
    "Record",
    "RelationshipTarget",
    "ReverseTarget",
    "SearchFilter",
    "SortKey",
    "Test",
    "compile_attribute_filter",
    "compile_filters",
    "convert_value",
    "order_records",
    "parse_filters",
    "parse_sort",
    "sort_values",
]

Record: TypeAlias = dict[str, Any]
Predicate: TypeAlias = Callable[[Record], bool]
SpecLookup: TypeAlias = Callable[[str], "ResourceSpec | None"]

_FILTER_KEY = re.compile(r"^filter((?:\[[^\[\]]*\])+)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_OPERATORS = frozenset({"gte", "lte", "gt", "lt"})
_NULL, _NOT_NULL = "__null__", "__notnull__"
#: ``id`` is filterable and sortable on every type though the specs do not list it.
_ID = AttributeSpec(name="id", wire="id", kind="integer", read_only=True, filterable=True,
                    sortable=True)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Tests on one value


@attrs.frozen
class AnyOf:
    """Equals one of ``values``."""

    values: frozenset[Any]


@attrs.frozen
class Between:
    """Within a range; ``None`` leaves a side open."""

    lo: Any = None
    hi: Any = None
    lo_inclusive: bool = True
    hi_inclusive: bool = True


@attrs.frozen
class IsNull:
    """``__null__``: null, or an empty array."""


@attrs.frozen
class NotNull:
    """``__notnull__``."""


Test: TypeAlias = AnyOf | Between | IsNull | NotNull


def value_passes(value: Any, test: Test) -> bool:
    """Whether one scalar value passes ``test`` (values of the wrong type never match)."""
    if isinstance(test, AnyOf):
        try:
            return value in test.values
        except TypeError:  # an unhashable value stored in a scalar attribute
            return False
    if isinstance(test, IsNull):
        return value is None
    if isinstance(test, NotNull):
        return value is not None
    if value is None:
        return False
    try:
        if test.lo is not None and (
            value < test.lo or (value == test.lo and not test.lo_inclusive)
        ):
            return False
        return not (
            test.hi is not None
            and (value > test.hi or (value == test.hi and not test.hi_inclusive))
        )
    except TypeError:
        return False


def array_passes(values: Any, test: Test) -> bool:
    """Array attributes match when any element does (facts §4: ``filter[emails]=a@b.com``)."""
    if isinstance(test, IsNull):
        return not values
    if isinstance(test, NotNull):
        return bool(values)
    if not isinstance(values, list):
        return False
    return any(value_passes(v, test) for v in values)


# ---------------------------------------------------------------------------------------------
# What a filter looks at


@attrs.frozen
class AttributeTarget:
    """An attribute of the record itself (or its id)."""

    wire: str
    is_array: bool = False


@attrs.frozen
class RelationshipTarget:
    """``filter[rel][attr]``: the related record's id (``attr == "id"``) or one of its attributes.

    Id tests are answered from the record itself; attribute tests need the store (the collection
    layer turns them into an id test first).
    """

    relationship: str
    target_type: str
    attribute: str
    to_many: bool = False
    is_array: bool = False


@attrs.frozen
class ReverseTarget:
    """``filter[prospect][id]=18`` on a type without a ``prospect`` relationship.

    Outreach's ``links.related`` for a to-many relationship filters the target collection by the
    *source type* (facts §6: ``opportunities?filter[prospect][id]=18``). When the target has no
    to-one relationship of that name, the ids come from the source records' stored lists.
    """

    source_type: str


Target: TypeAlias = AttributeTarget | RelationshipTarget | ReverseTarget


@attrs.frozen
class FieldFilter:
    """All of ``tests`` must pass on ``target``."""

    target: Target
    tests: tuple[Test, ...]


@attrs.frozen
class SearchFilter:
    """``filter[q]=aaa``: prefix search on names and emails (accounts and prospects, facts §4)."""

    text: str


Filter: TypeAlias = FieldFilter | SearchFilter


# ---------------------------------------------------------------------------------------------
# Parsing


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


def _attribute_spec(spec: ResourceSpec, wire: str) -> AttributeSpec | None:
    return _ID if wire == "id" else spec.attribute_by_wire.get(wire)


def _attribute_filter(
    spec: ResourceSpec, path: tuple[str, ...], clause: _Clause, new_syntax: bool
) -> FieldFilter | None:
    attribute = _attribute_spec(spec, path[0])
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
    attribute = None if target_spec is None else _attribute_spec(target_spec, attribute_wire)
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


# ---------------------------------------------------------------------------------------------
# Predicates


def compile_attribute_filter(wire: str, is_array: bool, tests: tuple[Test, ...]) -> Predicate:
    """A predicate for tests on an attribute (``id`` included) of a record."""
    passes = array_passes if is_array else value_passes
    if wire == "id":
        return lambda record: all(passes(record["id"], t) for t in tests)
    if len(tests) == 1 and isinstance(tests[0], AnyOf) and not is_array:
        values = tests[0].values  # the common equality case, kept cheap

        def equals(record: Record) -> bool:
            try:
                return record["attributes"].get(wire) in values
            except TypeError:
                return False

        return equals
    return lambda record: all(passes(record["attributes"].get(wire), t) for t in tests)


def compile_relationship_ids(
    relationship: str, to_many: bool, tests: tuple[Test, ...]
) -> Predicate:
    """A predicate on the id(s) a record's relationship holds."""
    if to_many:
        return lambda record: all(
            array_passes(record["relationships"].get(relationship) or [], t) for t in tests
        )
    return lambda record: all(
        value_passes(record["relationships"].get(relationship), t) for t in tests
    )


def compile_filters(filters: Iterable[Predicate]) -> Predicate:
    """All of ``filters`` (each already a predicate)."""
    predicates = tuple(filters)
    if not predicates:
        return lambda record: True
    if len(predicates) == 1:
        return predicates[0]
    return lambda record: all(p(record) for p in predicates)


# ---------------------------------------------------------------------------------------------
# Sorting


@attrs.frozen
class SortKey:
    """One ``sort`` key: a wire attribute name (or ``id``) and its direction."""

    wire: str
    descending: bool = False


def parse_sort(value: str | None, spec: ResourceSpec) -> tuple[SortKey, ...]:
    """``sort=-a,b`` as keys; 400 for relationship paths, unknown or unsortable attributes."""
    if value is None or value == "":
        return ()
    keys: list[SortKey] = []
    for part in value.split(","):
        descending = part.startswith("-")
        name = part[1:] if descending else part
        if "." in name:
            raise bad_parameter(
                "sortParameter.relationshipSort",
                "sort",
                f"Sorting by a relationship's attribute ('{name}') is not supported.",
            )
        attribute = _attribute_spec(spec, name)
        if attribute is None:
            raise bad_parameter(
                "sortParameter.unknownAttribute",
                "sort",
                f"'{name}' is not an attribute of '{spec.type}'.",
            )
        if not attribute.sortable:
            raise bad_parameter(
                "sortParameter.unsortableAttribute",
                "sort",
                f"'{name}' is not a sortable attribute of '{spec.type}'.",
            )
        keys.append(SortKey(attribute.wire, descending))
    return tuple(keys)


def _getter(wire: str) -> Callable[[Record], Any]:
    if wire == "id":
        return lambda record: record["id"]
    return lambda record: record["attributes"].get(wire)


def sort_values(record: Record, keys: Sequence[SortKey]) -> list[Any]:
    """The values of ``record`` that ``keys`` sort on (what a cursor stores)."""
    return [_getter(k.wire)(record) for k in keys]


def _null_last_key(getter: Callable[[Record], Any]) -> Callable[[Record], tuple[bool, Any]]:
    def key(record: Record) -> tuple[bool, Any]:
        value = getter(record)
        return (value is None, value)

    return key


def _tolerant_key(getter: Callable[[Record], Any]) -> Callable[[Record], tuple[bool, str, Any]]:
    # Only for an attribute holding values of mixed types (writes check kinds, so this is a
    # guard): values order by type name first, so the sort still ends with a total order.
    def key(record: Record) -> tuple[bool, str, Any]:
        value = getter(record)
        return (value is None, type(value).__name__, value)

    return key


def order_records(records: Iterable[Record], keys: Sequence[SortKey]) -> list[Record]:
    """``records`` in the order ``keys`` ask for, ties broken on ascending id."""
    rows = sorted(records, key=lambda record: record["id"])
    for sort_key in reversed(keys):
        if sort_key.wire == "id":
            rows.sort(key=lambda record: record["id"], reverse=sort_key.descending)
            continue
        getter = _getter(sort_key.wire)
        try:
            rows.sort(key=_null_last_key(getter), reverse=sort_key.descending)
        except TypeError:
            rows.sort(key=_tolerant_key(getter), reverse=sort_key.descending)
    return rows
