"""The filter model of the sandbox's query engine, pure: tests, targets and predicates.

A parsed ``filter[...]`` parameter (see :mod:`.filter_params`) is a :class:`FieldFilter`: a
target (an attribute, a relationship's id or attribute, a reverse relationship) and the tests
its value must pass. Tests follow outreach-api-facts.md §4: equality with any of a list, ranges
(inclusive on both sides, like the client's ``Range``: the facts call the upper bound
conflicting, and the inclusive reading is the one that never loses a record), ``__null__`` and
``__notnull__``; array attributes (``emails``, ``tags``) pass when any element does.

Records are the store's raw dicts: ``{"id", "attributes", "relationships"}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

import attrs

from .._schema import AttributeSpec, ResourceSpec

__all__ = [
    "ID_ATTRIBUTE",
    "AnyOf",
    "AttributeTarget",
    "Between",
    "FieldFilter",
    "Filter",
    "IsNull",
    "NotNull",
    "Predicate",
    "Record",
    "RelationshipTarget",
    "ReverseTarget",
    "SearchFilter",
    "Test",
    "array_passes",
    "attribute_spec",
    "compile_attribute_filter",
    "compile_filters",
    "compile_relationship_ids",
    "value_passes",
]

Record: TypeAlias = dict[str, Any]
Predicate: TypeAlias = Callable[[Record], bool]

#: ``id`` is filterable and sortable on every type though the specs do not list it.
ID_ATTRIBUTE = AttributeSpec(
    name="id", wire="id", kind="integer", read_only=True, filterable=True, sortable=True
)


def attribute_spec(spec: ResourceSpec, wire: str) -> AttributeSpec | None:
    """An attribute of ``spec`` by wire name, ``id`` included."""
    return ID_ATTRIBUTE if wire == "id" else spec.attribute_by_wire.get(wire)


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
