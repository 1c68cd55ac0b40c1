"""The query builder: exact parameters for every filter form, both filter syntaxes, sort, include,
fields, page size and count; QueryError messages that name the valid choices; round trips."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach_async._exceptions import QueryError
from outreach_async._query import (
    build_get_params,
    build_list_params,
    camel_name,
    rails_order,
)
from outreach_async._relationships import ToOne
from outreach_async._schema import AttributeSpec, RelationshipSpec, ResourceSpec
from outreach_async._types import IS_NULL, NOT_NULL, Range, Ref, since, until
from outreach_async._wire import format_datetime
from outreach_async.models import ALL_SPECS, Account, Prospect, User
from outreach_async.models._base import Resource

# --- small hand-built specs --------------------------------------------------------------------


def attr(name: str, wire: str, kind: Any = "string", **flags: Any) -> AttributeSpec:
    return AttributeSpec(name, wire, kind, **flags)


FS: dict[str, bool] = {"filterable": True, "sortable": True}

USER = ResourceSpec(
    "user",
    "users",
    attributes=(
        attr("email", "email", filterable=True),
        attr("first_name", "firstName", **FS),
        attr("updated_at", "updatedAt", "datetime", **FS),
    ),
    relationships=(RelationshipSpec("manager", "manager", "user"),),
)
ACCOUNT = ResourceSpec(
    "account",
    "accounts",
    attributes=(
        attr("name", "name", **FS),
        attr("named", "named", "boolean", filterable=True),
        attr("custom_id", "customId", filterable=True),
        attr("buyer_intent_score", "buyerIntentScore", "number", **FS),
        attr("updated_at", "updatedAt", "datetime", **FS),
    ),
    relationships=(
        RelationshipSpec("owner", "owner", "user"),
        RelationshipSpec("creator", "creator", "user", filterable=False, filter_attributes=()),
    ),
)
PROSPECT = ResourceSpec(
    "prospect",
    "prospects",
    attributes=(
        attr("first_name", "firstName", **FS),
        attr("title", "title", filterable=True),
        attr("emails", "emails", "array", filterable=True, item_kind="string"),
        attr("click_count", "clickCount", "integer", **FS),
        attr("open_count", "openCount", "integer", sortable=True),
        attr("reply_count", "replyCount", "integer"),
        attr("custom1", "custom1", filterable=True),
        attr("custom10", "custom10", filterable=True),
        attr("date_of_birth", "dateOfBirth", "date", filterable=True),
        attr("updated_at", "updatedAt", "datetime", **FS),
        attr("linked_in_url", "linkedInUrl"),
    ),
    relationships=(
        RelationshipSpec(
            "account", "account", "account", filter_attributes=("id", "customId", "name", "named")
        ),
        RelationshipSpec("owner", "owner", "user"),
        RelationshipSpec("stage", "stage", "stage", filter_attributes=("id", "name")),
        RelationshipSpec(
            "mailings", "mailings", "mailing", to_many=True, filterable=False, filter_attributes=()
        ),
    ),
)
TASK = ResourceSpec(
    "task",
    "tasks",
    attributes=(
        attr("state", "state", **FS),
        attr("due_at", "dueAt", "datetime", **FS),
        attr("note", "note"),
    ),
    relationships=(
        RelationshipSpec("owner", "owner", "user", filter_attributes=("id", "email", "firstName")),
        RelationshipSpec("prospect", "prospect", "prospect"),
    ),
)
EVENT = ResourceSpec(
    "event",
    "events",
    attributes=(attr("name", "name", filterable=True), attr("updated_at", "updatedAt", **FS)),
)
COMPLIANCE = ResourceSpec(
    "complianceRequest",
    "complianceRequests",
    attributes=(
        attr("state", "state", **FS),
        attr("batch_compliance_request", "batchComplianceRequest", filterable=True),
    ),
)
SEQUENCE_STATE = ResourceSpec(
    "sequenceState", "sequenceStates", attributes=(attr("state", "state"),)
)
SPECS: dict[str, ResourceSpec] = {
    s.type: s for s in (USER, ACCOUNT, PROSPECT, TASK, EVENT, COMPLIANCE, SEQUENCE_STATE)
}


@attrs.define(slots=False, kw_only=True)
class FakeProspect(Resource):
    """A model class for ``fields`` keys (deliberately not registered in MODELS)."""

    __resource_spec__: ClassVar[ResourceSpec] = PROSPECT


@attrs.define(slots=False, kw_only=True)
class FakeUser(Resource):
    __resource_spec__: ClassVar[ResourceSpec] = USER


def listing(spec: ResourceSpec = PROSPECT, **kwargs: Any) -> list[tuple[str, str]]:
    return build_list_params(spec, specs=SPECS, **kwargs)


def filtered(spec: ResourceSpec, filter: Mapping[str, object]) -> list[tuple[str, str]]:
    return build_list_params(spec, filter=filter, specs=SPECS)


# --- filter: the legacy syntax -----------------------------------------------------------------

JAN_1 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
LEGACY_FILTERS: list[tuple[ResourceSpec, dict[str, object], list[tuple[str, str]]]] = [
    # scalars (equals), either case, bools
    (PROSPECT, {"first_name": "Sally"}, [("filter[firstName]", "Sally")]),
    (PROSPECT, {"firstName": "Sally"}, [("filter[firstName]", "Sally")]),
    (ACCOUNT, {"named": True}, [("filter[named]", "true")]),
    (ACCOUNT, {"named": False}, [("filter[named]", "false")]),
    (ACCOUNT, {"buyer_intent_score": 0.5}, [("filter[buyerIntentScore]", "0.5")]),
    (ACCOUNT, {"buyer_intent_score": 3}, [("filter[buyerIntentScore]", "3")]),
    (PROSPECT, {"click_count": 7}, [("filter[clickCount]", "7")]),
    (PROSPECT, {"emails": "a@b.example"}, [("filter[emails]", "a@b.example")]),
    (PROSPECT, {"id": 5}, [("filter[id]", "5")]),
    # any of
    (PROSPECT, {"id": [1, 2, 3]}, [("filter[id]", "1,2,3")]),
    (PROSPECT, {"id": (3, 1)}, [("filter[id]", "3,1")]),
    (PROSPECT, {"id": {3, 1, 2}}, [("filter[id]", "1,2,3")]),
    (
        PROSPECT,
        {"emails": ["a@x.example", "b@x.example"]},
        [("filter[emails]", "a@x.example,b@x.example")],
    ),
    # ranges
    (PROSPECT, {"id": Range(5, 10)}, [("filter[id]", "5..10")]),
    (
        PROSPECT,
        {"updated_at": since(JAN_1)},
        [("filter[updatedAt]", "2024-01-01T00:00:00.000Z..inf")],
    ),
    (
        PROSPECT,
        {"updatedAt": until(JAN_1)},
        [("filter[updatedAt]", "neginf..2024-01-01T00:00:00.000Z")],
    ),
    (
        PROSPECT,
        {"updated_at": since(dt.date(2024, 1, 1))},
        [("filter[updatedAt]", "2024-01-01..inf")],
    ),
    (
        PROSPECT,
        {"updated_at": Range(dt.date(2024, 1, 1), dt.date(2024, 2, 1))},
        [("filter[updatedAt]", "2024-01-01..2024-02-01")],
    ),
    (PROSPECT, {"click_count": Range(None, 3)}, [("filter[clickCount]", "neginf..3")]),
    (PROSPECT, {"date_of_birth": dt.date(1990, 5, 17)}, [("filter[dateOfBirth]", "1990-05-17")]),
    # datetimes: ms UTC; naive is UTC; aware converted; ISO strings normalised
    (
        PROSPECT,
        {"updated_at": dt.datetime(2024, 7, 26, 6, 27, 17, 123456)},
        [("filter[updatedAt]", "2024-07-26T06:27:17.123Z")],
    ),
    (
        PROSPECT,
        {"updated_at": dt.datetime(2024, 7, 26, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))},
        [("filter[updatedAt]", "2024-07-26T06:00:00.000Z")],
    ),
    (
        PROSPECT,
        {"updated_at": since("2024-07-26T08:00:00+02:00")},
        [("filter[updatedAt]", "2024-07-26T06:00:00.000Z..inf")],
    ),
    # null tests
    (PROSPECT, {"title": IS_NULL}, [("filter[title]", "__null__")]),
    (PROSPECT, {"title": NOT_NULL}, [("filter[title]", "__notnull__")]),
    # relationships: ids, models, refs, handles, filter attributes
    (TASK, {"owner": {"id": 1}}, [("filter[owner][id]", "1")]),
    (TASK, {"owner": {"id": [1, 2]}}, [("filter[owner][id]", "1,2")]),
    (TASK, {"owner": 1}, [("filter[owner][id]", "1")]),
    (TASK, {"owner": [1, 2]}, [("filter[owner][id]", "1,2")]),
    (TASK, {"owner": FakeUser(id=7)}, [("filter[owner][id]", "7")]),
    (TASK, {"owner": Ref("user", 8)}, [("filter[owner][id]", "8")]),
    (TASK, {"owner": ToOne("user", 9)}, [("filter[owner][id]", "9")]),
    (TASK, {"owner": [Ref("user", 1), FakeUser(id=2), 3]}, [("filter[owner][id]", "1,2,3")]),
    (TASK, {"owner": {"id": Range(1, 9)}}, [("filter[owner][id]", "1..9")]),
    (TASK, {"owner": IS_NULL}, [("filter[owner][id]", "__null__")]),
    (TASK, {"owner": {"email": "o@x.example"}}, [("filter[owner][email]", "o@x.example")]),
    (TASK, {"owner": {"first_name": "Ann"}}, [("filter[owner][firstName]", "Ann")]),
    (TASK, {"owner": {"firstName": ["Ann", "Bo"]}}, [("filter[owner][firstName]", "Ann,Bo")]),
    (
        PROSPECT,
        {"account": {"custom_id": "A1", "named": True}},
        [("filter[account][customId]", "A1"), ("filter[account][named]", "true")],
    ),
    # the prefix search and the compliance batch filter
    (PROSPECT, {"q": "sal"}, [("filter[q]", "sal")]),
    (ACCOUNT, {"q": "_acme_,custom1"}, [("filter[q]", "_acme_,custom1")]),
    (
        COMPLIANCE,
        {"batch_compliance_request": "f98711fe-8a03-48b9-91d3-0f7994e999cc"},
        [("filter[batchComplianceRequest]", "f98711fe-8a03-48b9-91d3-0f7994e999cc")],
    ),
]


@pytest.mark.parametrize(("spec", "filter", "expected"), LEGACY_FILTERS)
def test_legacy_filter_forms(
    spec: ResourceSpec, filter: dict[str, object], expected: list[tuple[str, str]]
) -> None:
    assert filtered(spec, filter) == expected


def test_several_filters_come_out_in_rails_order() -> None:
    params = filtered(
        PROSPECT, {"updated_at": since(JAN_1), "custom10": "b", "custom1": "a", "id": 1}
    )
    # Rails sorts by the escaped name: "custom1%5D" < "custom10%5D" because "%" < "0".
    assert params == [
        ("filter[custom1]", "a"),
        ("filter[custom10]", "b"),
        ("filter[id]", "1"),
        ("filter[updatedAt]", "2024-01-01T00:00:00.000Z..inf"),
    ]


# --- filter: the new syntax --------------------------------------------------------------------

NEW_FILTERS: list[tuple[ResourceSpec, dict[str, object], list[tuple[str, str]]]] = [
    (
        PROSPECT,
        {"title": "CEO, Founder"},
        [("filter[title]", "CEO, Founder"), ("newFilterSyntax", "true")],
    ),
    (PROSPECT, {"title": "v1..v2"}, [("filter[title]", "v1..v2"), ("newFilterSyntax", "true")]),
    (
        PROSPECT,
        {"first_name": ["Sally", "Smith, Jr."]},
        [
            ("filter[firstName][]", "Sally"),
            ("filter[firstName][]", "Smith, Jr."),
            ("newFilterSyntax", "true"),
        ],
    ),
    (
        # one value needing it switches the whole query: lists, ranges and relationship ids too
        PROSPECT,
        {
            "title": "a,b",
            "id": [1, 2],
            "updated_at": since(JAN_1),
            "click_count": Range(1, 5),
            "owner": [3, 4],
            "custom1": IS_NULL,
        },
        [
            ("filter[clickCount][gte]", "1"),
            ("filter[clickCount][lte]", "5"),
            ("filter[custom1]", "__null__"),
            ("filter[id][]", "1"),
            ("filter[id][]", "2"),
            ("filter[owner][id][]", "3"),
            ("filter[owner][id][]", "4"),
            ("filter[title]", "a,b"),
            ("filter[updatedAt][gte]", "2024-01-01T00:00:00.000Z"),
            ("newFilterSyntax", "true"),
        ],
    ),
    (
        PROSPECT,
        {"first_name": Range("a,", None)},
        [("filter[firstName][gte]", "a,"), ("newFilterSyntax", "true")],
    ),
    (
        PROSPECT,
        {"updated_at": until(JAN_1), "account": {"name": "Acme, Inc."}},
        [
            ("filter[account][name]", "Acme, Inc."),
            ("filter[updatedAt][lte]", "2024-01-01T00:00:00.000Z"),
            ("newFilterSyntax", "true"),
        ],
    ),
]


@pytest.mark.parametrize(("spec", "filter", "expected"), NEW_FILTERS)
def test_new_filter_syntax(
    spec: ResourceSpec, filter: dict[str, object], expected: list[tuple[str, str]]
) -> None:
    assert filtered(spec, filter) == expected


def test_the_prefix_search_comma_grammar_does_not_switch_syntax() -> None:
    params = filtered(PROSPECT, {"q": "_sal_,custom1", "updated_at": since(JAN_1)})
    assert ("newFilterSyntax", "true") not in params
    assert ("filter[updatedAt]", "2024-01-01T00:00:00.000Z..inf") in params


# --- filter: validation ------------------------------------------------------------------------

PROSPECT_FILTERABLE = (
    "account, click_count, custom1, custom10, date_of_birth, emails, first_name, id, owner, q, "
    "stage, title, updated_at"
)

FILTER_ERRORS: list[tuple[ResourceSpec, dict[str, object], str]] = [
    (PROSPECT, {"nickname": "x"}, "'nickname'.*valid choices: " + PROSPECT_FILTERABLE + "$"),
    (PROSPECT, {"open_count": 1}, "prospect.open_count is not filterable; valid choices: account,"),
    (PROSPECT, {"mailings": 1}, "'mailings' relationship cannot be used as a filter"),
    (ACCOUNT, {"creator": {"id": 1}}, "'creator' relationship cannot be used as a filter"),
    (
        PROSPECT,
        {"account": {"domain": "x"}},
        r"account\.domain; valid choices: custom_id, id, name, named$",
    ),
    (TASK, {"owner": {"last_name": "x"}}, "valid choices: email, first_name, id$"),
    (TASK, {"q": "x"}, "'q'.*valid choices: due_at, id, owner, prospect, state$"),
    (PROSPECT, {"id": []}, r"filter\[id\] is an empty collection"),
    (TASK, {"owner": []}, r"filter\[owner\] is an empty collection"),
    (TASK, {"owner": {}}, r"filter\[owner\] is an empty mapping"),
    (PROSPECT, {"id": True}, r"filter\[id\] expects an int, got True"),
    (TASK, {"owner": [1, False]}, r"filter\[owner\] expects an int, got False"),
    (TASK, {"owner": {"id": True}}, r"filter\[owner\]\[id\] expects an int"),
    (PROSPECT, {"id": "5"}, r"filter\[id\] expects an int, got '5'"),
    (PROSPECT, {"click_count": 1.5}, "expects an int"),
    (PROSPECT, {"click_count": Range(1, "9")}, "upper bound expects an int"),
    (PROSPECT, {"click_count": Range(True, 3)}, "lower bound expects an int"),
    (PROSPECT, {"click_count": Range(9, 1)}, "has lo > hi"),
    (PROSPECT, {"updated_at": Range(JAN_1, dt.datetime(2023, 1, 1))}, "has lo > hi"),
    (PROSPECT, {"updated_at": Range(dt.date(2024, 2, 1), dt.date(2024, 1, 1))}, "has lo > hi"),
    (PROSPECT, {"updated_at": since(1700000000)}, "expects a datetime"),
    (PROSPECT, {"updated_at": since("yesterday")}, "'yesterday' is not an ISO 8601"),
    (PROSPECT, {"date_of_birth": JAN_1}, "expects a date, got the datetime"),
    (ACCOUNT, {"named": Range(0, 1)}, r"filter\[named\] is a boolean: it cannot take a Range"),
    (ACCOUNT, {"named": "yes"}, "expects a bool"),
    (ACCOUNT, {"buyer_intent_score": float("nan")}, "finite"),
    (PROSPECT, {"title": 5}, "expects a str"),
    (PROSPECT, {"title": {"eq": "x"}}, "expects a str"),
    (PROSPECT, {"title": ["a", IS_NULL]}, "expects a str"),
    (TASK, {"owner": FakeUser()}, "has no id yet"),
    (TASK, {"owner": "1"}, "expects an int"),
    (
        PROSPECT,
        {"first_name": "a", "firstName": "b"},
        r"filter\[firstName\] is given more than once",
    ),
    (PROSPECT, {"q": ""}, r"filter\[q\] expects a non-empty str"),
]


@pytest.mark.parametrize(("spec", "filter", "message"), FILTER_ERRORS)
def test_bad_filters_raise_query_error(
    spec: ResourceSpec, filter: dict[str, object], message: str
) -> None:
    with pytest.raises(QueryError, match=message):
        filtered(spec, filter)


def test_query_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="nickname"):
        filtered(PROSPECT, {"nickname": "x"})


# --- sort --------------------------------------------------------------------------------------

SORTS: list[tuple[ResourceSpec, str | list[str], str]] = [
    (PROSPECT, "-updated_at", "-updatedAt"),
    (PROSPECT, "first_name", "firstName"),
    (PROSPECT, "-updatedAt,first_name", "-updatedAt,firstName"),
    (PROSPECT, ["-updated_at", "firstName"], "-updatedAt,firstName"),
    (PROSPECT, " -updated_at , id ", "-updatedAt,id"),
    (EVENT, "-updatedAt", "-updatedAt"),
]


@pytest.mark.parametrize(("spec", "sort", "expected"), SORTS)
def test_sort(spec: ResourceSpec, sort: str | list[str], expected: str) -> None:
    assert listing(spec, sort=sort) == [("sort", expected)]


SORT_ERRORS: list[tuple[str | list[str], str]] = [
    (
        "title",
        "'title': it is not sortable; valid choices: click_count, first_name, id, open_count",
    ),
    ("-nickname", "'nickname': it is not an attribute; valid choices: click_count"),
    ("account.name", "relationship attribute was deprecated by Outreach in May 2023"),
    ("-prospect.firstName", "relationship attribute was deprecated by Outreach in May 2023"),
    ("updated_at,", "empty name"),
    ("", "empty name"),
    (["first_name", 3], "expects a str or a list of str"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("sort", "message"), SORT_ERRORS)
def test_bad_sort_raises_query_error(sort: str | list[str], message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        listing(PROSPECT, sort=sort)


# --- include -----------------------------------------------------------------------------------

INCLUDES: list[tuple[ResourceSpec, str | list[str], str]] = [
    (TASK, "prospect", "prospect"),
    (TASK, ["prospect", "owner"], "prospect,owner"),
    (TASK, "prospect,prospect.account", "prospect,prospect.account"),
    (PROSPECT, ["account", "account.owner", "account"], "account,account.owner"),
    (PROSPECT, "account.owner.manager", "account.owner.manager"),
]


@pytest.mark.parametrize(("spec", "include", "expected"), INCLUDES)
def test_include(spec: ResourceSpec, include: str | list[str], expected: str) -> None:
    assert listing(spec, include=include) == [("include", expected)]
    assert build_get_params(spec, include=include, specs=SPECS) == [("include", expected)]


def test_include_converts_snake_case_hops() -> None:
    spec = ResourceSpec(
        "sequenceState",
        "sequenceStates",
        relationships=(RelationshipSpec("sequence_step", "sequenceStep", "sequenceStep"),),
    )
    assert listing(spec, include="sequence_step") == [("include", "sequenceStep")]


def test_empty_include_list_sends_nothing() -> None:
    assert listing(TASK, include=[]) == []


INCLUDE_ERRORS: list[tuple[ResourceSpec, str, str]] = [
    (TASK, "account", "task has no relationship 'account'; valid choices: owner, prospect"),
    (
        TASK,
        "prospect.nothing",
        "include 'prospect.nothing': prospect has no relationship 'nothing'; valid choices: "
        "account, mailings, owner, stage",
    ),
    (PROSPECT, "stage.creator", "cannot check 'creator', unknown type"),
    (TASK, "prospect.", "include 'prospect.': prospect has no relationship ''"),
]


@pytest.mark.parametrize(("spec", "include", "message"), INCLUDE_ERRORS)
def test_bad_include_raises_query_error(spec: ResourceSpec, include: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        listing(spec, include=include)


# --- fields ------------------------------------------------------------------------------------

FIELDS: list[tuple[Any, list[tuple[str, str]]]] = [
    ({FakeProspect: ["click_count", "open_count"]}, [("fields[prospect]", "clickCount,openCount")]),
    ({"prospect": ["clickCount"]}, [("fields[prospect]", "clickCount")]),
    ({PROSPECT: "click_count,reply_count"}, [("fields[prospect]", "clickCount,replyCount")]),
    ({"prospect": ["account", "first_name"]}, [("fields[prospect]", "account,firstName")]),
    ({"sequence_state": ["state"]}, [("fields[sequenceState]", "state")]),
    (
        {"user": "email", FakeProspect: ["owner", "owner"]},
        [("fields[prospect]", "owner"), ("fields[user]", "email")],
    ),
]


@pytest.mark.parametrize(("fields", "expected"), FIELDS)
def test_fields(fields: Any, expected: list[tuple[str, str]]) -> None:
    assert listing(PROSPECT, fields=fields) == expected
    assert build_get_params(PROSPECT, fields=fields, specs=SPECS) == expected


FIELDS_ERRORS: list[tuple[Any, str]] = [
    (
        {"prospect": ["click_count", "clicks"]},
        "prospect has no attribute or relationship 'clicks'; valid choices: account, click_count, "
        "custom1, custom10, date_of_birth, emails, first_name, linked_in_url, mailings, open_count",
    ),
    ({"nothing": ["a"]}, "fields: unknown resource type 'nothing'; valid choices: account, "),
    ({"prospect": []}, "fields[prospect] names no fields"),
    ({"prospect": "a,,b"}, "empty name"),
    ({"prospect": ["first_name"], FakeProspect: ["title"]}, "given more than once"),
    ({"prospect": 5}, "expects a str or a list of str"),
]


@pytest.mark.parametrize(("fields", "message"), FIELDS_ERRORS)
def test_bad_fields_raise_query_error(fields: Any, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        listing(PROSPECT, fields=fields)


def test_camel_name_accepts_either_case() -> None:
    assert camel_name(PROSPECT, "linked_in_url") == "linkedInUrl"
    assert camel_name(PROSPECT, "linkedInUrl") == "linkedInUrl"
    assert camel_name(PROSPECT, "account") == "account"


# --- page size and count -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 50, 1000])
def test_page_size_within_bounds(size: int) -> None:
    assert listing(page_size=size) == [("page[size]", str(size))]


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (0, "between 1 and 1000, got 0"),
        (1001, "between 1 and 1000, got 1001"),
        (-5, "between 1 and 1000"),
        (True, "must be an int, got True"),
        (50.0, "must be an int, got 50.0"),
        ("50", "must be an int, got '50'"),
    ],
)
def test_page_size_out_of_bounds(size: Any, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        listing(page_size=size)


@pytest.mark.parametrize(
    ("count", "expected"), [(True, [("count", "true")]), (False, [("count", "false")]), (None, [])]
)
def test_count_passes_through(count: bool | None, expected: list[tuple[str, str]]) -> None:
    assert listing(count=count) == expected


def test_count_must_be_a_bool() -> None:
    with pytest.raises(QueryError, match="count must be a bool"):
        listing(count=1)


def test_everything_together_in_rails_order() -> None:
    params = listing(
        PROSPECT,
        filter={"updated_at": since(JAN_1), "owner": 1},
        sort="-updated_at",
        include=["account"],
        fields={"account": ["name"], FakeProspect: ["first_name"]},
        page_size=1000,
        count=False,
    )
    assert params == [
        ("count", "false"),
        ("fields[account]", "name"),
        ("fields[prospect]", "firstName"),
        ("filter[owner][id]", "1"),
        ("filter[updatedAt]", "2024-01-01T00:00:00.000Z..inf"),
        ("include", "account"),
        ("page[size]", "1000"),
        ("sort", "-updatedAt"),
    ]
    assert rails_order(reversed(params)) == params


def test_nothing_asked_sends_nothing() -> None:
    assert listing(filter={}, fields={}) == []
    assert build_get_params(PROSPECT, specs=SPECS) == []


# --- the source document's requests ------------------------------------------------------------


def query_of(url: str) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)


def test_source_document_requests_with_hand_specs() -> None:
    tasks = listing(TASK, filter={"state": "incomplete", "owner": {"id": 1}}, include="prospect")
    assert sorted(tasks) == sorted(
        query_of("/tasks?filter[state]=incomplete&filter[owner][id]=1&include=prospect")
    )
    assert listing(EVENT, sort="-updatedAt") == query_of("/events?sort=-updatedAt")
    prospects = listing(PROSPECT, fields={"prospect": ["click_count", "open_count", "reply_count"]})
    assert prospects == query_of("/prospects?fields[prospect]=clickCount,openCount,replyCount")
    batch = "f98711fe-8a03-48b9-91d3-0f7994e999cc"
    assert listing(COMPLIANCE, filter={"batch_compliance_request": batch}) == query_of(
        f"/complianceRequests?filter[batchComplianceRequest]={batch}"
    )


# --- format_datetime and round trips -----------------------------------------------------------


def test_format_datetime_examples() -> None:
    assert format_datetime(dt.datetime(2024, 7, 26, 6, 27, 17)) == "2024-07-26T06:27:17.000Z"
    assert (
        format_datetime(dt.datetime(2024, 7, 26, 6, 27, 17, 999999)) == "2024-07-26T06:27:17.999Z"
    )
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert format_datetime(dt.datetime(2024, 1, 1, 3, tzinfo=tokyo)) == "2023-12-31T18:00:00.000Z"
    assert format_datetime(dt.date(2024, 1, 2)) == "2024-01-02"
    assert format_datetime(dt.date(33, 1, 2)) == "0033-01-02"


def test_format_datetime_out_of_range_in_utc_is_a_query_error() -> None:
    ahead = dt.timezone(dt.timedelta(hours=5))
    with pytest.raises(QueryError, match="out of range"):
        format_datetime(dt.datetime.min.replace(tzinfo=ahead))


API_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@given(
    st.datetimes(
        min_value=dt.datetime(2, 1, 1),
        max_value=dt.datetime(9998, 12, 31),
        timezones=st.one_of(st.none(), st.timezones()),
    )
)
def test_datetimes_of_any_zone_round_trip_to_the_same_instant(value: dt.datetime) -> None:
    text = format_datetime(value)
    assert API_DATETIME.fullmatch(text)
    aware = value if value.utcoffset() is not None else value.replace(tzinfo=dt.UTC)
    expected = aware.astimezone(dt.UTC)
    expected = expected.replace(microsecond=expected.microsecond // 1000 * 1000)
    assert dt.datetime.fromisoformat(text) == expected
    # and the same text is what a filter sends
    assert filtered(PROSPECT, {"updated_at": since(value)}) == [
        ("filter[updatedAt]", text + "..inf")
    ]


@given(st.lists(st.integers(), min_size=1))
def test_any_list_of_ints_renders_as_a_comma_list_that_parses_back(ids: list[int]) -> None:
    params = filtered(PROSPECT, {"id": ids})
    assert len(params) == 1
    key, value = params[0]
    assert key == "filter[id]"
    assert [int(part) for part in value.split(",")] == ids


def has_separator(text: str) -> bool:
    return "," in text or ".." in text


#: any text with a literal "," or ".." somewhere in it
texts_with_separator = st.tuples(st.text(), st.sampled_from([",", ".."]), st.text()).map("".join)


@given(st.lists(st.text()), texts_with_separator, st.lists(st.text()))
def test_strings_with_separators_force_the_new_syntax_intact(
    before: list[str], separated: str, after: list[str]
) -> None:
    titles = [*before, separated, *after]
    params = filtered(PROSPECT, {"title": titles, "id": [1, 2]})
    assert ("newFilterSyntax", "true") in params
    assert [v for k, v in params if k == "filter[title][]"] == titles
    assert [v for k, v in params if k == "filter[id][]"] == ["1", "2"]


@given(texts_with_separator)
def test_a_scalar_with_separators_forces_the_new_syntax_intact(title: str) -> None:
    assert filtered(PROSPECT, {"title": title}) == [
        ("filter[title]", title),
        ("newFilterSyntax", "true"),
    ]


@given(st.lists(st.text().filter(lambda t: not has_separator(t)), min_size=1))
def test_strings_without_separators_stay_legacy(titles: list[str]) -> None:
    params = filtered(PROSPECT, {"title": titles})
    assert params == [("filter[title]", ",".join(titles))]


# --- against the real, generated specs ---------------------------------------------------------


def real(type_: str, **kwargs: Any) -> list[tuple[str, str]]:
    return build_list_params(ALL_SPECS[type_], specs=ALL_SPECS, **kwargs)


def test_source_document_requests_with_the_real_specs() -> None:
    tasks = real("task", filter={"state": "incomplete", "owner": {"id": 1}}, include=["prospect"])
    assert tasks == [
        ("filter[owner][id]", "1"),
        ("filter[state]", "incomplete"),
        ("include", "prospect"),
    ]
    assert real("event", sort="-updatedAt") == [("sort", "-updatedAt")]
    assert real("event", sort="-updated_at") == [("sort", "-updatedAt")]
    fields = {Prospect: ["click_count", "open_count", "reply_count"]}
    assert real("prospect", fields=fields) == [
        ("fields[prospect]", "clickCount,openCount,replyCount")
    ]
    batch = "f98711fe-8a03-48b9-91d3-0f7994e999cc"
    assert real("complianceRequest", filter={"batchComplianceRequest": batch}) == [
        ("filter[batchComplianceRequest]", batch)
    ]


def test_real_models_as_relationship_values_and_fields_keys() -> None:
    params = real(
        "prospect",
        filter={"account": Account(id=4), "owner": [User(id=1), Ref("user", 2)]},
        include="account.owner",
        fields={Account: ["name"], "user": ["email"]},
    )
    assert params == [
        ("fields[account]", "name"),
        ("fields[user]", "email"),
        ("filter[account][id]", "4"),
        ("filter[owner][id]", "1,2"),
        ("include", "account.owner"),
    ]


def test_real_spec_errors_list_snake_case_choices() -> None:
    with pytest.raises(QueryError, match=r"owner\.lastName; valid choices: email, first_name, id$"):
        real("task", filter={"owner": {"lastName": "x"}})
    with pytest.raises(QueryError, match=r"valid choices: .*\bevent_at\b.*\bupdated_at\b"):
        real("event", sort="request_city")


@pytest.mark.parametrize("type_", sorted(ALL_SPECS))
def test_every_real_spec_accepts_its_own_names(type_: str) -> None:
    spec = ALL_SPECS[type_]
    filters: dict[str, object] = {a.name: IS_NULL for a in spec.attributes if a.filterable}
    expected = len(filters)
    for relationship in spec.relationships:
        if relationship.filterable and relationship.filter_attributes:
            filters[relationship.name] = dict.fromkeys(relationship.filter_attributes, NOT_NULL)
            expected += len(relationship.filter_attributes)
    assert len(real(type_, filter=filters)) == expected
    sortable = [a.name for a in spec.attributes if a.sortable]
    if sortable:
        assert real(type_, sort=[f"-{n}" for n in sortable])[0][1].count(",") == len(sortable) - 1
    names = [a.name for a in spec.attributes] + [r.name for r in spec.relationships]
    assert real(type_, fields={type_: names})[0][1].split(",") == [
        camel_name(spec, n) for n in names
    ]
    for relationship in spec.relationships:
        assert real(type_, include=relationship.name) == [("include", relationship.wire)]
