"""The converter: wire <-> models for every resource type (hypothesis round trips) and the rules
that matter to users: UNSET vs None, aware datetimes, extras kept, handles, read-only never sent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach_async import _converter
from outreach_async._converter import (
    converter,
    resource_to_wire,
    structure_resource,
)
from outreach_async._relationships import ToMany, ToOne
from outreach_async._schema import AttributeSpec
from outreach_async._types import UNSET, Ref
from outreach_async._wire import format_datetime, parse_datetime
from outreach_async.models import MODELS, Account, Call, Event, Prospect, Resource
from outreach_async.models._base import SERVER_STAMPS

ms_datetimes = st.datetimes(
    min_value=dt.datetime(1990, 1, 1),
    max_value=dt.datetime(2100, 1, 1),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-8))]),
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
text = st.text(max_size=20)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text


def value_strategy(attribute: AttributeSpec) -> st.SearchStrategy[Any]:
    kinds: dict[str, st.SearchStrategy[Any]] = {
        "string": text,
        "integer": st.integers(-(2**53), 2**53),
        "number": st.floats(allow_nan=False, allow_infinity=False),
        "boolean": st.booleans(),
        "datetime": ms_datetimes,
        "date": st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)),
        "array": st.lists(text, max_size=3),
        "object": st.dictionaries(text, json_scalars, max_size=3),
        "any": json_scalars,
    }
    return st.none() | kinds[attribute.kind]


@st.composite
def models(draw: st.DrawFn, cls: type[Resource]) -> Resource:
    spec = cls.__resource_spec__
    values: dict[str, Any] = {"id": draw(st.integers(1, 2**31))}
    for attribute in spec.attributes:
        if attribute.wire not in SERVER_STAMPS and draw(st.booleans()):
            values[attribute.name] = draw(value_strategy(attribute))
    for rel in spec.relationships:
        if not draw(st.booleans()):
            continue
        if rel.to_many:
            values[rel.name] = ToMany(rel.target, draw(st.lists(st.integers(1, 10**6), max_size=3)))
        else:
            values[rel.name] = ToOne(rel.target, draw(st.none() | st.integers(1, 10**6)))
    model = cls(**values)
    model.extra.update(
        draw(
            st.dictionaries(
                st.from_regex(r"zz[a-z]{1,6}", fullmatch=True), json_scalars, max_size=2
            )
        )
    )
    return model


ALL_MODELS = sorted(MODELS.values(), key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", ALL_MODELS, ids=[c.__name__ for c in ALL_MODELS])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_round_trip_model_to_document_to_model(cls: type[Resource], data: st.DataObject) -> None:
    model = data.draw(models(cls))
    wire = orjson.loads(orjson.dumps({"data": resource_to_wire(model)}))["data"]
    back = structure_resource(wire, cls)
    assert back == model
    assert converter.structure(wire, cls) == model
    assert converter.unstructure(back) == wire


def test_fields_the_response_did_not_carry_read_as_unset_and_nulls_as_none() -> None:
    prospect = structure_resource(
        {"type": "prospect", "id": 7, "attributes": {"firstName": "Sally", "title": None}}, Prospect
    )
    assert prospect.first_name == "Sally"
    assert prospect.title is None
    assert prospect.last_name is UNSET
    assert prospect.account is UNSET
    assert prospect.id == 7


def test_datetimes_are_timezone_aware_whatever_the_wire_form() -> None:
    account = structure_resource(
        {
            "type": "account",
            "id": 1,
            "attributes": {
                "createdAt": "2017-01-01T00:00:00",
                "updatedAt": "2024-07-26T06:27:17.000Z",
            },
        },
        Account,
    )
    assert account.created_at == dt.datetime(2017, 1, 1, tzinfo=dt.UTC)
    assert isinstance(account.updated_at, dt.datetime)
    assert account.updated_at.tzinfo is not None
    assert format_datetime(account.updated_at) == "2024-07-26T06:27:17.000Z"


@given(ms_datetimes)
def test_datetime_wire_form_round_trips_at_millisecond_precision(value: dt.datetime) -> None:
    text_form = format_datetime(value)
    assert text_form.endswith("Z")
    assert len(text_form) == len("2024-07-26T06:27:17.000Z")
    assert parse_datetime(text_form) == value


def test_unknown_attributes_and_relationships_are_kept_and_written_back() -> None:
    raw = {
        "type": "prospect",
        "id": 3,
        "attributes": {"firstName": "A", "brandNewField": {"x": 1}},
        "relationships": {"brandNewRel": {"data": {"type": "widget", "id": 9}}},
    }
    prospect = structure_resource(raw, Prospect)
    assert prospect.extra["brandNewField"] == {"x": 1}
    assert prospect.extra["brandNewRel"].id == 9
    wire = resource_to_wire(prospect)
    assert wire["attributes"]["brandNewField"] == {"x": 1}
    assert wire["relationships"]["brandNewRel"] == {"data": {"type": "widget", "id": 9}}


def test_custom_fields_are_readable_and_writable() -> None:
    prospect = structure_resource(
        {"type": "prospect", "id": 1, "attributes": {"custom7": "gold"}}, Prospect
    )
    assert prospect.custom7 == "gold"
    prospect.custom150 = "x"
    assert resource_to_wire(prospect, ["custom150"], for_write=True)["attributes"] == {
        "custom150": "x"
    }


def test_relationships_with_data_links_only_or_meta_only_are_all_legal() -> None:
    raw = {
        "type": "prospect",
        "id": 1,
        "relationships": {
            "account": {"data": {"type": "account", "id": 5}},
            "owner": {"data": None},
            "calls": {
                "links": {
                    "related": "https://api.outreach.io/api/v2/calls?filter%5Bprospect%5D%5Bid%5D=1"
                }
            },
            "stage": {"meta": {"note": "meta only"}},
            "opportunities": {"data": [{"type": "opportunity", "id": 2}], "meta": {"count": 1}},
        },
    }
    prospect = structure_resource(raw, Prospect)
    assert isinstance(prospect.account, ToOne)
    assert (prospect.account.type, prospect.account.id) == ("account", 5)
    assert isinstance(prospect.owner, ToOne)
    assert prospect.owner.id is None
    assert isinstance(prospect.calls, ToMany)
    assert prospect.calls.ids is None
    assert prospect.calls.related is not None
    assert isinstance(prospect.stage, ToOne)
    assert prospect.stage.meta == {"note": "meta only"}
    assert isinstance(prospect.opportunities, ToMany)
    assert prospect.opportunities.ids == [2]
    assert prospect.opportunities.count == 1


def test_read_only_attributes_are_never_sent() -> None:
    prospect = Prospect(
        first_name="Sally",
        name="Sally Smith",
        click_count=3,
    )
    wire = resource_to_wire(prospect, for_write=True)
    assert wire["attributes"] == {"firstName": "Sally"}


def test_relationship_fields_accept_models_refs_ids_and_none() -> None:
    acme = Account(id=1, name="Acme")
    prospect = Prospect(account=acme, owner=Ref("user", 1))
    assert isinstance(prospect.account, ToOne)
    assert prospect.account.id == 1
    call = Call(task=Ref("task", 1, meta={"complete": True}), prospect=2, user=None)
    wire = resource_to_wire(call, for_write=True)["relationships"]
    assert wire["task"] == {"data": {"type": "task", "id": 1}, "meta": {"complete": True}}
    assert wire["prospect"] == {"data": {"type": "prospect", "id": 2}}
    assert wire["user"] == {"data": None}
    with pytest.raises(ValueError, match="created"):
        Prospect(account=Account(name="not yet created"))


def test_changed_fields_compares_with_the_decoded_values() -> None:
    prospect = structure_resource(
        {
            "type": "prospect",
            "id": 1,
            "attributes": {"firstName": "A", "lastName": "B", "tags": ["x"]},
        },
        Prospect,
    )
    assert prospect.changed_fields() == []
    prospect.last_name = "Smith"
    prospect.tags = ["x"]
    assert prospect.changed_fields() == ["last_name"]


def test_events_carry_updated_at() -> None:
    event = structure_resource(
        {
            "type": "event",
            "id": 1,
            "attributes": {"name": "prospect_updated", "updatedAt": "2017-01-01T00:00:00"},
        },
        Event,
    )
    assert event.updated_at == dt.datetime(2017, 1, 1, tzinfo=dt.UTC)


def test_a_malformed_datetime_is_kept_rather_than_losing_the_record() -> None:
    account = structure_resource(
        {"type": "account", "id": 1, "attributes": {"createdAt": "soon"}}, Account
    )
    assert account.created_at == "soon"


def test_string_ids_are_read_as_integers() -> None:
    assert structure_resource({"type": "account", "id": "12"}, Account).id == 12


def test_structure_picks_the_model_from_the_type() -> None:
    assert isinstance(structure_resource({"type": "call", "id": 1}), Call)
    assert _converter.structure_fn(Call) is _converter.structure_fn(Call)
