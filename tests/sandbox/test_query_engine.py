"""The sandbox's pure query engine: filters and sorts against a brute-force reference.

Random records of a small hand-built resource type are filtered and sorted by the engine and by
a deliberately naive reference written from outreach-api-facts.md §4; hypothesis looks for any
disagreement. Keyset cursors are checked the same way.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach_async._schema import AttributeSpec, RelationshipSpec, ResourceSpec
from outreach_async.models import ALL_SPECS
from outreach_async.sandbox.collection import QueryRunner
from outreach_async.sandbox.cursors import (
    Cursor,
    controller_name,
    decode_cursor,
    encode_cursor,
    index_after,
    index_before,
)
from outreach_async.sandbox.errors import ApiError
from outreach_async.sandbox.filter_params import parse_filters
from outreach_async.sandbox.query import (
    AnyOf,
    AttributeTarget,
    Between,
    FieldFilter,
    IsNull,
    NotNull,
    Record,
    RelationshipTarget,
    ReverseTarget,
    SearchFilter,
    compile_attribute_filter,
    compile_filters,
    value_passes,
)
from outreach_async.sandbox.schema import Schema
from outreach_async.sandbox.sorting import SortKey, order_records, parse_sort
from outreach_async.sandbox.store import Store

WIDGET = ResourceSpec(
    type="widget",
    path="widgets",
    attributes=(
        AttributeSpec("score", "score", "integer", filterable=True, sortable=True),
        AttributeSpec("name", "name", "string", filterable=True, sortable=True),
        AttributeSpec("updated_at", "updatedAt", "datetime", True, True, True),
        AttributeSpec("tags", "tags", "array", filterable=True, item_kind="string"),
        AttributeSpec("active", "active", "boolean", filterable=True),
        AttributeSpec("note", "note", "string"),
    ),
    relationships=(
        RelationshipSpec("owner", "owner", "user", filter_attributes=("id", "email")),
        RelationshipSpec("gadgets", "gadgets", "gadget", to_many=True),
        RelationshipSpec("creator", "creator", "user", read_only=True, filterable=False),
    ),
)
USER = ResourceSpec(
    type="user",
    path="users",
    attributes=(AttributeSpec("email", "email", "string", filterable=True),),
    relationships=(RelationshipSpec("widgets", "widgets", "widget", to_many=True),),
)
GADGET = ResourceSpec(type="gadget", path="gadgets")
SPECS = {s.type: s for s in (WIDGET, USER, GADGET)}
lookup = SPECS.get

NAMES = ("ada", "bob", "cy", "Dee", "eve")
STAMPS = tuple(f"2024-01-0{d}T0{h}:00:00.000Z" for d in range(1, 4) for h in range(3))
TAGS = ("a", "b", "c")


def _parse(*pairs: tuple[str, str], new: bool = False) -> Any:
    return parse_filters(pairs, WIDGET, lookup, new_syntax=new, searchable=True)


# ---------------------------------------------------------------------------------------------
# Parsing


def test_legacy_list_range_and_null_forms() -> None:
    filters = _parse(
        ("filter[score]", "1,2,3"),
        ("filter[updatedAt]", "2024-01-01..inf"),
        ("filter[name]", "__null__"),
        ("filter[tags]", "__notnull__"),
        ("sort", "-score"),  # not a filter: ignored
    )
    assert filters == (
        FieldFilter(AttributeTarget("score"), (AnyOf(frozenset({1, 2, 3})),)),
        FieldFilter(AttributeTarget("updatedAt"), (Between("2024-01-01T00:00:00.000Z", None),)),
        FieldFilter(AttributeTarget("name"), (IsNull(),)),
        FieldFilter(AttributeTarget("tags", is_array=True), (NotNull(),)),
    )


def test_neginf_opens_the_lower_side() -> None:
    (only,) = _parse(("filter[score]", "neginf..10"))
    assert only.tests == (Between(None, 10),)


def test_every_datetime_form_the_peers_send_is_accepted() -> None:
    forms = [
        "2024-01-01",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.000Z",
        "2024-01-01T00:00:00.000000Z",
        "2024-01-01T01:00:00+01:00",
        "2024-01-01T00:00:00",
    ]
    for form in forms:
        (only,) = _parse(("filter[updatedAt]", f"{form}..inf"))
        assert only.tests == (Between("2024-01-01T00:00:00.000Z", None),), form


def test_new_syntax_takes_values_literally_and_reads_operators() -> None:
    filters = _parse(
        ("filter[name][]", "a,b"),
        ("filter[name][]", "c..d"),
        ("filter[updatedAt][gte]", "2024-01-01T00:00:00.000Z"),
        ("filter[updatedAt][lt]", "2024-02-01"),
        new=True,
    )
    assert filters == (
        FieldFilter(AttributeTarget("name"), (AnyOf(frozenset({"a,b", "c..d"})),)),
        FieldFilter(
            AttributeTarget("updatedAt"),
            (Between("2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", True, False),),
        ),
    )


def test_legacy_range_string_with_new_syntax_is_invalid_datetime_format() -> None:
    with pytest.raises(ApiError) as caught:
        _parse(("filter[updatedAt]", "2024-01-01..inf"), new=True)
    assert caught.value.status == 400
    assert caught.value.error_id == "filterParameter.invalidDatetimeFormat"
    assert caught.value.parameter == "filter[updatedAt]"


def test_operators_without_new_syntax_are_refused() -> None:
    with pytest.raises(ApiError) as caught:
        _parse(("filter[updatedAt][gte]", "2024-01-01"))
    assert caught.value.error_id == "filterParameter.newFilterSyntaxRequired"


@pytest.mark.parametrize(
    ("pairs", "error_id"),
    [
        ((("filter[nope]", "1"),), "filterParameter.unknownAttribute"),
        ((("filter[note]", "x"),), "filterParameter.unfilterableAttribute"),
        ((("filter[creator][id]", "1"),), "filterParameter.unfilterableRelationship"),
        ((("filter[owner][firstName]", "x"),), "filterParameter.unknownAttribute"),
        ((("filter[score]", "high"),), "filterParameter.invalidValue"),
        ((("filter[updatedAt]", "yesterday"),), "filterParameter.invalidDatetimeFormat"),
        ((("filter[]", "1"),), "filterParameter.invalid"),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(
    pairs: tuple[tuple[str, str], ...], error_id: str
) -> None:
    with pytest.raises(ApiError) as caught:
        _parse(*pairs)
    assert (caught.value.status, caught.value.error_id) == (400, error_id)
    assert caught.value.parameter == pairs[0][0]


def test_relationship_reverse_and_search_filters() -> None:
    filters = _parse(
        ("filter[owner][id]", "1,2"),
        ("filter[owner][email]", "a@b.c"),
        ("filter[q]", "ad"),
    )
    assert filters == (
        FieldFilter(RelationshipTarget("owner", "user", "id"), (AnyOf(frozenset({1, 2})),)),
        FieldFilter(RelationshipTarget("owner", "user", "email"), (AnyOf(frozenset({"a@b.c"})),)),
        SearchFilter("ad"),
    )
    # filter[owner]=3 is read as filter[owner][id]=3
    assert _parse(("filter[owner]", "3")) == (
        FieldFilter(RelationshipTarget("owner", "user", "id"), (AnyOf(frozenset({3})),)),
    )
    # widgets have no "user" relationship, but users list widgets: links.related's filter shape
    assert _parse(("filter[user][id]", "4")) == (
        FieldFilter(ReverseTarget("user"), (AnyOf(frozenset({4})),)),
    )


def test_sort_parsing() -> None:
    assert parse_sort("-score,name,id", WIDGET) == (
        SortKey("score", True),
        SortKey("name"),
        SortKey("id"),
    )
    for bad, error_id in [
        ("owner.email", "sortParameter.relationshipSort"),
        ("nope", "sortParameter.unknownAttribute"),
        ("-tags", "sortParameter.unsortableAttribute"),
    ]:
        with pytest.raises(ApiError) as caught:
            parse_sort(bad, WIDGET)
        assert (caught.value.status, caught.value.error_id) == (400, error_id)


# ---------------------------------------------------------------------------------------------
# Filters against a brute-force reference

records_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "score": st.none() | st.integers(-5, 5),
            "name": st.none() | st.sampled_from(NAMES),
            "updatedAt": st.none() | st.sampled_from(STAMPS),
            "tags": st.none() | st.lists(st.sampled_from(TAGS), max_size=3),
            "active": st.none() | st.booleans(),
        }
    ),
    max_size=25,
).map(
    lambda rows: [{"id": i + 1, "attributes": a, "relationships": {}} for i, a in enumerate(rows)]
)

VALUES: dict[str, st.SearchStrategy[Any]] = {
    "score": st.integers(-6, 6),
    "name": st.sampled_from(NAMES),
    "updatedAt": st.sampled_from(STAMPS),
    "tags": st.sampled_from(TAGS),
    "active": st.booleans(),
}
RANGED = ("score", "name", "updatedAt")


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@st.composite
def clauses(draw: st.DrawFn) -> tuple[str, str, tuple[Any, ...]]:
    """(attribute, form, operands) for one filter clause."""
    wire = draw(st.sampled_from(sorted(VALUES)))
    forms = ["list", "null", "notnull"] + (["range", "gte", "lte"] if wire in RANGED else [])
    form = draw(st.sampled_from(forms))
    if form == "list":
        return wire, form, tuple(draw(st.lists(VALUES[wire], min_size=1, max_size=3)))
    if form == "range":
        bounds = st.tuples(st.none() | VALUES[wire], st.none() | VALUES[wire])
        return wire, form, draw(bounds.filter(lambda pair: pair != (None, None)))
    if form in ("gte", "lte"):
        return wire, form, (draw(VALUES[wire]),)
    return wire, form, ()


def _params(clause: tuple[str, str, tuple[Any, ...]], new: bool) -> list[tuple[str, str]]:
    wire, form, operands = clause
    key = f"filter[{wire}]"
    if form in ("null", "notnull"):
        return [(key, f"__{form}__")]
    if form == "list":
        if new:
            return [(f"{key}[]", _text(v)) for v in operands]
        return [(key, ",".join(_text(v) for v in operands))]
    if form == "range":
        lo, hi = operands
        if new:
            pairs = [(f"{key}[gte]", _text(lo))] if lo is not None else []
            return pairs + ([(f"{key}[lte]", _text(hi))] if hi is not None else [])
        return [(key, f"{'neginf' if lo is None else lo}..{'inf' if hi is None else hi}")]
    return [(f"{key}[{form}]", _text(operands[0]))]


def _reference_match(record: Record, clause: tuple[str, str, tuple[Any, ...]]) -> bool:
    wire, form, operands = clause
    value = record["attributes"][wire]
    values = (value or []) if wire == "tags" else ([] if value is None else [value])
    if form == "null":
        return not values
    if form == "notnull":
        return bool(values)
    if form == "list":
        return any(v == o for v in values for o in operands)
    lo, hi = {"range": operands, "gte": (operands[0], None), "lte": (None, operands[0])}[form]
    return any((lo is None or v >= lo) and (hi is None or v <= hi) for v in values)


@given(records_strategy, st.lists(clauses(), max_size=3), st.booleans())
def test_filters_match_the_reference(
    records: list[Record], chosen: list[tuple[str, str, tuple[Any, ...]]], new: bool
) -> None:
    by_field = {c[0]: c for c in chosen}  # one clause per field: a repeated key would override
    usable = [c for c in by_field.values() if new or c[1] not in ("gte", "lte")]
    pairs = [pair for c in usable for pair in _params(c, new)]
    filters = parse_filters(pairs, WIDGET, lookup, new_syntax=new)
    predicate = compile_filters(
        compile_attribute_filter(f.target.wire, f.target.is_array, f.tests)
        for f in filters
        if isinstance(f, FieldFilter) and isinstance(f.target, AttributeTarget)
    )
    expected = [r["id"] for r in records if all(_reference_match(r, c) for c in usable)]
    assert [r["id"] for r in records if predicate(r)] == expected


# ---------------------------------------------------------------------------------------------
# Sorting and cursors against a brute-force reference

sorts_strategy = st.lists(
    st.tuples(st.sampled_from(("score", "name", "updatedAt", "id")), st.booleans()),
    max_size=3,
    unique_by=lambda pair: pair[0],
).map(lambda pairs: tuple(SortKey(wire, desc) for wire, desc in pairs))


def _reference_compare(a: Record, b: Record, keys: tuple[SortKey, ...]) -> int:
    for key in keys:
        x = a["id"] if key.wire == "id" else a["attributes"][key.wire]
        y = b["id"] if key.wire == "id" else b["attributes"][key.wire]
        if x == y:
            continue
        # ascending: nulls last; descending is the exact reverse
        result = 1 if x is None else -1 if y is None else (1 if x > y else -1)
        return -result if key.descending else result
    a_id: int = a["id"]
    b_id: int = b["id"]
    return (a_id > b_id) - (a_id < b_id)


@given(records_strategy, sorts_strategy)
def test_sort_matches_the_reference(records: list[Record], keys: tuple[SortKey, ...]) -> None:
    def compare(a: Record, b: Record) -> int:
        return _reference_compare(a, b, keys)

    reference = sorted(records, key=functools.cmp_to_key(compare))
    assert [r["id"] for r in order_records(records, keys)] == [r["id"] for r in reference]


@given(records_strategy, sorts_strategy, st.data())
def test_cursor_positions_match_the_reference(
    records: list[Record], keys: tuple[SortKey, ...], data: st.DataObject
) -> None:
    rows = order_records(records, keys)
    # a cursor at an existing row, or at a record that is not (or no longer) in the collection
    pivot = data.draw(st.sampled_from(rows)) if rows else None
    if pivot is None or data.draw(st.booleans()):
        pivot = data.draw(records_strategy.filter(bool))[0] | {"id": data.draw(st.integers(0, 30))}
    encoded = encode_cursor(pivot, keys, controller_name("widgets"))
    cursor = decode_cursor(encoded, keys, controller_name("widgets"))
    assert isinstance(cursor, Cursor)

    def cmp(row: Record) -> int:
        return _reference_compare(row, pivot, keys)

    assert index_after(rows, keys, cursor) == sum(1 for r in rows if cmp(r) <= 0)
    assert index_before(rows, keys, cursor) == sum(1 for r in rows if cmp(r) < 0)


def test_cursor_has_outreachs_shape() -> None:
    import base64

    import orjson

    record = {"id": 1433033, "attributes": {"updatedAt": "2024-01-11T12:47:26.000Z"}}
    encoded = encode_cursor(record, (SortKey("updatedAt"),), controller_name("mailings"))
    assert orjson.loads(base64.b64decode(encoded)) == {
        "cn": "ApiV2::MailingsController",
        "sp": "updatedAt",
        "sv": ["2024-01-11T12:47:26.000Z"],
        "id": 1433033,
        "v": 1,
    }


@pytest.mark.parametrize(
    "text",
    [
        "not base64 at all!",
        "bm90IGpzb24=",
        "WzFd",  # not JSON; a JSON list
        encode_cursor({"id": 1, "attributes": {}}, (), "ApiV2::OthersController"),
    ],
)
def test_foreign_or_malformed_cursors_are_400(text: str) -> None:
    with pytest.raises(ApiError) as caught:
        decode_cursor(text, (), controller_name("widgets"))
    assert (caught.value.status, caught.value.error_id) == (400, "pageParameter.invalidCursor")


def test_a_cursor_minted_for_another_sort_is_refused() -> None:
    encoded = encode_cursor({"id": 1, "attributes": {"score": 1}}, (SortKey("score"),), "cn")
    with pytest.raises(ApiError):
        decode_cursor(encoded, (SortKey("score", True),), "cn")


# -- a range on the sort attribute: a slice of the order (QueryRunner's fast path) -------------

QUERY_SCHEMA = Schema(ALL_SPECS.values())

_STAMPS = st.one_of(st.none(), st.sampled_from(["2024-01-0" + str(d) for d in range(1, 8)]))


@given(
    st.lists(_STAMPS, max_size=40),
    st.one_of(st.none(), st.sampled_from(["2024-01-0" + str(d) for d in range(9)])),
    st.one_of(st.none(), st.sampled_from(["2024-01-0" + str(d) for d in range(9)])),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_a_range_on_the_sort_attribute_gives_the_scan_and_sort_rows(
    stamps: list[str | None],
    lo: str | None,
    hi: str | None,
    lo_inclusive: bool,
    hi_inclusive: bool,
    descending: bool,
) -> None:
    store = Store(QUERY_SCHEMA.by_type.values())
    table = store.table("prospect")
    for id_, stamp in enumerate(stamps, start=1):
        table.add({"id": id_, "attributes": {"updatedAt": stamp}, "relationships": {}})
    test = Between(lo, hi, lo_inclusive, hi_inclusive)
    sort = (SortKey("updatedAt", descending),)
    found = QueryRunner(store, QUERY_SCHEMA).rows(
        "prospect", (FieldFilter(AttributeTarget("updatedAt"), (test,)),), sort
    )
    expected = order_records(
        [r for r in table if value_passes(r["attributes"]["updatedAt"], test)], sort
    )
    assert [r["id"] for r in found] == [r["id"] for r in expected]


def test_a_range_over_values_of_mixed_kinds_is_scanned_and_sorted() -> None:
    store = Store(QUERY_SCHEMA.by_type.values())
    table = store.table("prospect")
    for id_, value in enumerate(["b", 3, "a", None, 1], start=1):
        table.add({"id": id_, "attributes": {"updatedAt": value}, "relationships": {}})
    test = Between("a", "c")
    found = QueryRunner(store, QUERY_SCHEMA).rows(
        "prospect", (FieldFilter(AttributeTarget("updatedAt"), (test,)),), (SortKey("updatedAt"),)
    )
    assert [r["id"] for r in found] == [3, 1]
