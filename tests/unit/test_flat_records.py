"""RecordFlattener: the public wire-to-record path, from a wire resource and from a model."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach_async import Prospect, Ref
from outreach_async._converter import structure_resource
from outreach_async.export import RecordEncoder
from outreach_async.models import RecordFlattener
from tests.wire_strategies import relationship_objects

SPEC = Prospect.__resource_spec__
RESOURCE = {
    "type": "prospect",
    "id": "18",
    "attributes": {"firstName": "Sally", "updatedAt": "2024-07-26T06:27:17.000Z", "zzNew": 1},
    "relationships": {
        "account": {"data": {"type": "account", "id": 3}},
        "owner": {"data": None},
        "calls": {"links": {"related": "https://api.outreach.io/api/v2/calls?x=1"}},
        "sequenceStates": {"data": [{"type": "sequenceState", "id": 4}], "meta": {"count": 1}},
        "zzWidget": {"data": {"type": "widget", "id": "9"}},
    },
    "links": {"self": "https://api.outreach.io/api/v2/prospects/18"},
}
RECORD = {
    "type": "prospect",
    "id": 18,
    "firstName": "Sally",
    "updatedAt": "2024-07-26T06:27:17.000Z",
    "zzNew": 1,
    "account": 3,
    "owner": None,
    "sequenceStates": [4],
    "zzWidget": 9,
}


def test_a_wire_resource_becomes_one_flat_record() -> None:
    record = RecordFlattener(SPEC).from_wire(RESOURCE)
    assert record == RECORD  # links-only relationships are left out, unknown ones kept
    assert list(record)[:2] == ["type", "id"]


def test_a_decoded_model_flattens_as_its_wire_resource() -> None:
    flattener = RecordFlattener(SPEC)
    model = structure_resource(copy.deepcopy(RESOURCE), Prospect)
    assert flattener.from_model(model) == RECORD
    model.first_name = "Sal"  # changed: what it holds now
    assert flattener.from_model(model) == {**RECORD, "firstName": "Sal"}


def test_fields_limit_the_record() -> None:
    flattener = RecordFlattener(SPEC, ["firstName", "account"])
    expected = {"type": "prospect", "id": 18, "firstName": "Sally", "account": 3}
    assert flattener.from_wire(RESOURCE) == expected
    assert flattener.from_model(structure_resource(copy.deepcopy(RESOURCE), Prospect)) == expected


def test_a_model_built_by_hand_writes_times_in_the_apis_form() -> None:
    when = dt.datetime(2024, 7, 26, 8, 27, 17, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    model = Prospect(id=1, available_at=when, account=Ref("account", 2))
    assert RecordFlattener(SPEC).from_model(model) == {
        "type": "prospect",
        "id": 1,
        "availableAt": "2024-07-26T06:27:17.123Z",
        "account": 2,
    }


# ---------------------------------------------------------------- the fast path equals the model's

_ATTRIBUTES = [a.wire for a in SPEC.attributes]
_RELATIONSHIPS = [r.wire for r in SPEC.relationships]
_NAMES = st.sampled_from(_ATTRIBUTES) | st.from_regex(r"zz[A-Za-z]{1,6}", fullmatch=True)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(max_size=8)
    | st.just("2024-07-26T06:27:17.000Z")
)
_VALUES = _SCALARS | st.lists(_SCALARS, max_size=3) | st.dictionaries(st.text(max_size=4), _SCALARS)
_IDS = st.integers(1, 10**9) | st.integers(1, 10**9).map(str)
_RELATIONSHIP = relationship_objects(_IDS)
_RESOURCES = st.fixed_dictionaries(
    {"type": st.just("prospect"), "id": _IDS},
    optional={
        "attributes": st.dictionaries(_NAMES, _VALUES, max_size=12),
        "relationships": st.dictionaries(
            # an unknown relationship never shares its name with an attribute (no API does)
            st.sampled_from(_RELATIONSHIPS) | st.from_regex(r"zr[A-Za-z]{1,6}", fullmatch=True),
            _RELATIONSHIP,
            max_size=6,
        ),
        "links": st.just({"self": "https://api.outreach.io/api/v2/prospects/1"}),
    },
)
_FIELDS = st.none() | st.lists(st.sampled_from(_ATTRIBUTES + _RELATIONSHIPS), max_size=8)


@given(resource=_RESOURCES, fields=_FIELDS)
@settings(max_examples=300, deadline=None)
def test_the_wire_path_writes_what_the_model_path_writes(
    resource: dict[str, Any], fields: list[str] | None
) -> None:
    """The export flattens resource objects as sent (``from_wire``, ``encode_wire``); the
    records and lines are those of the models decoded from them (``from_model``, ``encode``)."""
    flattener = RecordFlattener(SPEC, fields)
    model = structure_resource(copy.deepcopy(resource), Prospect)
    record = flattener.from_wire(resource)
    assert record == flattener.from_model(model)
    assert list(record)[:2] == ["type", "id"]
    jsonl, csv_ = RecordEncoder(SPEC, fields), RecordEncoder(SPEC, fields, "csv")
    assert orjson.loads(jsonl.encode_wire([resource])) == orjson.loads(jsonl.encode([model]))
    assert csv_.encode_wire([resource]) == csv_.encode([model])


def test_with_fields_an_attribute_the_server_added_is_dropped_in_place() -> None:
    """The export asks for its cursor beside ``fields``; it is not written, and an attribute
    named like ``id`` never takes the record's id."""
    resource = {
        "type": "prospect",
        "id": 7,
        "attributes": {"firstName": "Al", "updatedAt": "2024-07-26T06:27:17.000Z", "id": "x"},
    }
    assert RecordFlattener(SPEC, ["firstName"]).from_wire(resource) == {
        "type": "prospect",
        "id": 7,
        "firstName": "Al",
    }
    assert list(RecordFlattener(SPEC).from_wire(resource))[:2] == ["type", "id"]
    assert RecordFlattener(SPEC).from_wire(resource)["id"] == 7
