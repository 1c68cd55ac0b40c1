"""What mutation testing of ``export/_records`` showed untested (issue 17): CSV cells, string
ids, dates, records asked for some fields, handles someone read, relationships changed after
decoding, extras, and times whatever the machine's zone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from outreach_async import Account, Prospect, ToOne
from outreach_async._converter import structure_resource
from outreach_async.export import RecordEncoder, format_time
from tests.unit.zones import local_zone  # noqa: F401 (a fixture)

SPEC = Prospect.__resource_spec__


def decoded(attributes: dict[str, Any], relationships: dict[str, Any] | None = None) -> Prospect:
    raw = {"type": "prospect", "id": 1, "attributes": attributes}
    if relationships is not None:
        raw["relationships"] = relationships
    return structure_resource(raw, Prospect)


def every_attribute() -> dict[str, Any]:
    """More attributes than the encoder picks one by one: the copy-everything path."""
    return {a.wire: None for a in SPEC.attributes[:80]}


@pytest.mark.usefixtures("local_zone")
def test_format_time_is_utc_whatever_the_machine_zone() -> None:
    plus_one = dt.timezone(dt.timedelta(hours=1))
    assert format_time(dt.datetime(2024, 1, 2, 3, 4, 5, 6789, tzinfo=plus_one)) == (
        "2024-01-02T02:04:05.006Z"
    )
    assert format_time(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000Z"


def test_the_default_format_is_json_lines_one_record_a_line() -> None:
    encoder = RecordEncoder(Account.__resource_spec__)
    assert (encoder.format, encoder.header()) == ("jsonl", b"")
    lines = encoder.encode([Account(id=1, name="A"), Account(id=2, name="B")])
    assert lines == b'{"type":"account","id":1,"name":"A"}\n{"type":"account","id":2,"name":"B"}\n'


def test_csv_cells_for_false_true_none_and_lists() -> None:
    encoder = RecordEncoder(Account.__resource_spec__, ["name", "tags", "named"], fmt="csv")
    row = encoder.csv_row({"id": 1, "name": False, "tags": ["a", 2], "named": True})
    cells = dict(zip(encoder.columns, row, strict=True))
    assert cells == {"id": "1", "name": "false", "tags": '["a",2]', "named": "true"}
    assert encoder.csv_row({"id": 2}) == ["2", "", "", ""]


@pytest.mark.parametrize(("wire_id", "expected"), [("12", 12), ("x12", "x12"), (None, None)])
def test_relationship_ids_are_read_as_ints_when_they_can_be(wire_id: Any, expected: Any) -> None:
    prospect = decoded({}, {"owner": {"data": {"type": "user", "id": wire_id}}})
    assert RecordEncoder(SPEC, ["owner"]).flatten(prospect)["owner"] == expected


def test_dates_are_written_in_iso_form_on_both_paths() -> None:
    built = Prospect(id=1, date_of_birth=dt.date(1990, 5, 6))
    assert RecordEncoder(SPEC, ["dateOfBirth"]).flatten(built)["dateOfBirth"] == "1990-05-06"
    read = decoded({"dateOfBirth": "1990-05-06"})
    assert read.date_of_birth == dt.date(1990, 5, 6)  # read: a date in storage now
    assert RecordEncoder(SPEC, ["dateOfBirth"]).flatten(read)["dateOfBirth"] == "1990-05-06"


def test_some_fields_of_a_record_with_many_attributes_are_only_those() -> None:
    prospect = decoded({**every_attribute(), "firstName": "A", "brandNew": 1})
    record = RecordEncoder(SPEC, ["firstName"]).flatten(prospect)
    assert record == {"type": "prospect", "id": 1, "firstName": "A"}


def test_handles_someone_read_are_not_written_as_fields() -> None:
    relationships = {"activeSequenceStates": {"data": [{"type": "sequenceState", "id": 4}]}}
    prospect = decoded(every_attribute(), relationships)
    assert prospect.active_sequence_states is not None  # read: a handle in storage now
    record = RecordEncoder(SPEC).flatten(prospect)
    assert "active_sequence_states" not in record
    assert record["activeSequenceStates"] == [4]
    orjson.dumps(record)  # nothing left that JSON cannot hold


def test_an_unwanted_relationship_before_a_wanted_one() -> None:
    relationships = {
        "account": {"data": {"type": "account", "id": 3}},
        "owner": {"data": {"type": "user", "id": 5}},
    }
    record = RecordEncoder(SPEC, ["owner"]).flatten(decoded({}, relationships))
    assert record == {"type": "prospect", "id": 1, "owner": 5}


def test_a_relationship_changed_after_decoding_is_written_as_changed() -> None:
    prospect = decoded({}, {"owner": {"data": {"type": "user", "id": 5}}})
    prospect.owner = ToOne("user", 99)
    assert RecordEncoder(SPEC, ["owner"]).flatten(prospect)["owner"] == 99


def test_unknown_fields_are_kept_only_when_every_field_is_asked_for() -> None:
    prospect = decoded(
        {"firstName": "A", "brandNew": 1}, {"gadget": {"data": {"type": "widget", "id": 9}}}
    )
    everything = RecordEncoder(SPEC).flatten(prospect)
    assert (everything["brandNew"], everything["gadget"]) == (1, 9)
    some = RecordEncoder(SPEC, ["firstName"]).flatten(prospect)
    assert some == {"type": "prospect", "id": 1, "firstName": "A"}


def test_a_csv_cell_holding_a_time_is_in_wire_form_and_the_encoder_names_its_type() -> None:
    encoder = RecordEncoder(Account.__resource_spec__, ["createdAt"], fmt="csv")
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert encoder.csv_row({"id": 1, "createdAt": when}) == ["1", "2024-01-02T03:04:05.000Z"]
    assert encoder.type == "account"


def test_a_time_nested_in_a_csv_cell_is_in_wire_form_too() -> None:
    encoder = RecordEncoder(Account.__resource_spec__, ["tags"], fmt="csv")
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 600_000, tzinfo=dt.UTC)
    row = encoder.csv_row({"id": 1, "tags": [when, {"at": when}]})
    assert orjson.loads(row[1]) == ["2024-01-02T03:04:05.600Z", {"at": "2024-01-02T03:04:05.600Z"}]
