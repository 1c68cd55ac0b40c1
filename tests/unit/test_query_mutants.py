"""What mutation testing of the query builder (``_filters``, ``_query``, ``_wire``) showed
untested (issue 17): every attribute kind through every filter form, relationship attributes
typed by the target's spec, range bounds, and the exact message of each error."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from outreach_async._exceptions import QueryError
from outreach_async._filters import filter_params
from outreach_async._query import build_list_params, rails_order
from outreach_async._schema import AttributeSpec, RelationshipSpec, ResourceSpec
from outreach_async._types import Range, Ref
from outreach_async._wire import format_datetime, lenient_datetime, parse_datetime
from outreach_async.models import Account
from tests.unit.zones import local_zone  # noqa: F401 (a fixture)


def attr(name: str, wire: str, kind: Any, **flags: Any) -> AttributeSpec:
    return AttributeSpec(name, wire, kind, filterable=True, **flags)


PERSON = ResourceSpec(
    "person",
    "people",
    attributes=(
        attr("born_on", "bornOn", "date"),
        attr("nicknames", "nicknames", "array", item_kind="integer"),
        attr("homepage", "homePageUrl", "string"),
    ),
)
ITEM = ResourceSpec(
    "item",
    "items",
    attributes=(
        attr("score", "score", "number"),
        attr("born", "born", "date"),
        attr("seen_at", "seenAt", "datetime"),
        attr("anything", "anything", "any"),
        attr("tags", "tags", "array", item_kind="integer"),
        attr("flag", "flag", "boolean"),
        attr("name", "name", "string"),
        attr("group", "group", "string"),  # an attribute and a relationship of the same name
    ),
    relationships=(
        RelationshipSpec(
            "owner",
            "owner",
            "person",
            filter_attributes=("id", "bornOn", "nicknames", "homePageUrl", "free"),
        ),
        RelationshipSpec("group", "group", "group"),  # its spec is not known
    ),
)
SPECS = {"item": ITEM, "person": PERSON}


def params(**filter: object) -> list[tuple[str, str]]:
    return filter_params(ITEM, filter, SPECS)


def error_of(filter: dict[Any, object]) -> str:
    with pytest.raises(QueryError) as caught:
        filter_params(ITEM, filter, SPECS)
    return str(caught.value)


# -- kinds ------------------------------------------------------------------------------------


def test_an_array_attribute_is_filtered_by_its_item_kind() -> None:
    assert params(tags=[1, 2]) == [("filter[tags]", "1,2")]
    assert params(tags={3, 1, 2}) == [("filter[tags]", "1,2,3")]  # a set, sorted
    assert error_of({"tags": "x"}) == "filter[tags] expects an int, got 'x'"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "true"),
        (False, "false"),
        (2.5, "2.5"),
        (7, "7"),
        ("a,b", "a,b"),
        (dt.date(2024, 1, 2), "2024-01-02"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2024-01-02T03:04:05.000Z"),
    ],
)
def test_an_attribute_of_any_kind_takes_every_scalar(value: object, expected: str) -> None:
    rendered = dict(params(anything=value))
    assert rendered["filter[anything]"] == expected


def test_unlike_values_in_a_set_are_ordered_by_their_repr() -> None:
    assert params(anything={1, "a"}) == [("filter[anything]", "a,1")]


@pytest.mark.parametrize(
    ("filter", "message"),
    [
        ({5: 1}, "filter keys are attribute or relationship names, not 5"),
        (
            {"anything": b"x"},
            "filter[anything] expects a str, number, bool, date or datetime, got b'x'",
        ),
        ({"anything": float("inf")}, "filter[anything] must be a finite number, got inf"),
        ({"score": float("nan")}, "filter[score] must be a finite number, got nan"),
        ({"score": "x"}, "filter[score] expects a number, got 'x'"),
        ({"born": 5}, "filter[born] expects a date or a YYYY-MM-DD string, got 5"),
        ({"born": "soon"}, "filter[born]: 'soon' is not an ISO 8601 date or datetime"),
        (
            {"born": "2024-01-02T03:04:05"},
            "filter[born] expects a date, got the datetime datetime.datetime(2024, 1, 2, 3, 4, 5)",
        ),
        ({"seen_at": "soon"}, "filter[seen_at]: 'soon' is not an ISO 8601 date or datetime"),
        ({"flag": Range(1, 2)}, "filter[flag] is a boolean: it cannot take a Range"),
        ({"tags": []}, "filter[tags] is an empty collection: it would match nothing"),
        ({"owner": Account(name="new")}, "it has no id yet"),
    ],
)
def test_each_bad_value_gets_its_exact_message(filter: dict[Any, object], message: str) -> None:
    assert re.search(re.escape(message) + "$", error_of(filter))


def test_dates_and_datetimes_from_strings() -> None:
    assert params(born="2024-01-02") == [("filter[born]", "2024-01-02")]
    assert params(seen_at="2024-01-02") == [("filter[seenAt]", "2024-01-02")]
    assert params(seen_at="2024-01-02T03:04:05+01:00") == [
        ("filter[seenAt]", "2024-01-02T02:04:05.000Z")
    ]


# -- ranges -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("score", Range(1, 2.5), "1..2.5"),
        ("score", Range(3, 3), "3..3"),
        ("born", Range(dt.date(2024, 1, 1), dt.date(2024, 1, 1)), "2024-01-01..2024-01-01"),
        ("anything", Range("a", "b"), "a..b"),
        ("name", Range("b", "a"), "b..a"),  # strings are not judged: the server's order rules
        (
            "seen_at",
            Range(dt.datetime(2024, 1, 1, 12), dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)),
            "2024-01-01T12:00:00.000Z..2024-01-01T12:00:00.000Z",
        ),
        (
            "seen_at",  # 13:00 at +01:00 is 12:00 UTC, before a naive (UTC) 12:30
            Range(
                dt.datetime(2024, 1, 1, 13, tzinfo=dt.timezone(dt.timedelta(hours=1))),
                dt.datetime(2024, 1, 1, 12, 30),
            ),
            "2024-01-01T12:00:00.000Z..2024-01-01T12:30:00.000Z",
        ),
    ],
)
def test_ranges_whose_bounds_are_in_order_or_equal(name: str, value: Range, expected: str) -> None:
    assert [v for _, v in params(**{name: value})] == [expected]


def test_a_reversed_range_of_dates_is_refused() -> None:
    message = error_of({"born": Range(dt.date(2024, 1, 2), dt.date(2024, 1, 1))})
    assert message == (
        "filter[born]: Range(datetime.date(2024, 1, 2), datetime.date(2024, 1, 1)) has lo > hi"
    )


# -- relationships ----------------------------------------------------------------------------


def test_a_relationship_attribute_is_typed_by_the_target_spec() -> None:
    assert params(owner={"born_on": "2024-01-02"}) == [("filter[owner][bornOn]", "2024-01-02")]
    assert error_of({"owner": {"born_on": 5}}) == (
        "filter[owner][born_on] expects a date or a YYYY-MM-DD string, got 5"
    )
    assert params(owner={"nicknames": [1, 2]}) == [("filter[owner][nicknames]", "1,2")]
    assert error_of({"owner": {"nicknames": "a"}}) == (
        "filter[owner][nicknames] expects an int, got 'a'"
    )


def test_a_relationship_attribute_found_by_its_python_name() -> None:
    # homepage's wire name is not its camelCase: only the target spec knows it
    assert params(owner={"homepage": "x"}) == [("filter[owner][homePageUrl]", "x")]


def test_a_relationship_attribute_the_target_spec_does_not_know_takes_any_value() -> None:
    assert params(owner={"free": True}) == [("filter[owner][free]", "true")]


def test_a_relationship_whose_target_spec_is_unknown_filters_by_id() -> None:
    assert params(group={"id": 3}) == [("filter[group][id]", "3")]
    assert error_of({"group": {"name": "x"}}) == "cannot filter by group.name; valid choices: id"


def test_a_name_that_is_both_attribute_and_relationship() -> None:
    assert params(group="x") == [("filter[group]", "x")]
    assert params(group=Ref("group", 4)) == [("filter[group][id]", "4")]


# -- sort, include, fields: the name of what is wrong ------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"sort": "id,"}, "sort has an empty name in 'id,'"),
        ({"include": "owner,"}, "include has an empty name in 'owner,'"),
        ({"fields": {"item": "name,"}}, "fields[item] has an empty name in 'name,'"),
    ],
)
def test_an_empty_name_is_named_by_its_parameter(query: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError) as caught:
        build_list_params(ITEM, specs=SPECS, **query)
    assert str(caught.value) == message


def test_rails_order_compares_percent_encoded_names_followed_by_equals() -> None:
    # "/" is encoded too ("%2F" sorts before "-"), and "a=" sorts before "aB="
    assert rails_order([("a-", "1"), ("a/", "2")]) == [("a/", "2"), ("a-", "1")]
    assert rails_order([("aB", "1"), ("a", "2")]) == [("a", "2"), ("aB", "1")]


# -- wire datetimes, whatever the machine's zone ------------------------------------------------


@pytest.mark.usefixtures("local_zone")
def test_naive_and_aware_datetimes_are_written_in_utc() -> None:
    assert format_datetime(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000Z"
    aware = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_datetime(aware) == "2024-01-02T02:04:05.000Z"


@pytest.mark.parametrize("read", [parse_datetime, lenient_datetime])
def test_reading_keeps_an_offset_and_takes_none_as_utc(read: Any) -> None:
    plus_one = dt.timezone(dt.timedelta(hours=1))
    assert read("2024-01-02T03:04:05+01:00").tzinfo == plus_one
    assert read("2024-01-02T03:04:05").tzinfo is dt.UTC


def test_a_set_of_numbers_is_sorted_by_value_not_by_text() -> None:
    assert params(tags={10, 9}) == [("filter[tags]", "9,10")]
