"""RecordFlattener: the public wire-to-record path, from a wire resource and from a model."""

from __future__ import annotations

import copy
import datetime as dt

from outreach_async import Prospect, Ref
from outreach_async._converter import structure_resource
from outreach_async.models import RecordFlattener

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
