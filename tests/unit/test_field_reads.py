"""Reading a model's fields gives what the resource object holds, as the dict path reads it:
dates and datetimes parsed (``Z``, offsets, fractional seconds, no offset taken as UTC; a
malformed one as it came), null as ``None``, an attribute the response left out as ``UNSET``;
and every field kind's descriptor reads and writes the wire key of the storage."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import orjson
from hypothesis import given
from hypothesis import strategies as st

from outreach_async import UNSET, Prospect
from outreach_async._converter import decode_collection
from outreach_async._schema import AttributeSpec, ResourceSpec
from outreach_async._types import UnsetType
from outreach_async.models._base import MODELS, ON_SETATTR, Resource, register_model

SPEC = Prospect.__resource_spec__
STAMPS = {"createdAt", "updatedAt"}
ATTRIBUTES = [a for a in SPEC.attributes if a.wire not in STAMPS]

instants = st.datetimes(
    min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2100, 1, 1), timezones=st.just(None)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: dt.timedelta(minutes=m))


@st.composite
def wire_times(draw: st.DrawFn) -> str:
    """A timestamp as servers write them: Z, an offset or none; whole, milli or micro seconds."""
    instant = draw(instants)
    text = instant.isoformat(
        timespec=draw(st.sampled_from(["seconds", "milliseconds", "microseconds"]))
    )
    zone = draw(st.sampled_from(["Z", "offset", ""]))
    if zone == "offset":
        return text + dt.timezone(draw(offsets)).tzname(None)[3:]  # "+05:30"
    return text + zone


def expected(attribute: AttributeSpec, value: Any) -> Any:
    """What the dict path makes of a wire value (the oracle, written apart from the models)."""
    if not isinstance(value, str) or attribute.kind not in ("datetime", "date"):
        return value
    try:
        if attribute.kind == "date":
            return dt.date.fromisoformat(value[:10])
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value  # malformed: kept as it came rather than losing the record
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def wire_value(attribute: AttributeSpec) -> st.SearchStrategy[Any]:
    if attribute.kind == "datetime":
        return st.none() | wire_times() | st.text(max_size=3)
    if attribute.kind == "date":
        return st.none() | instants.map(lambda i: i.date().isoformat()) | st.text(max_size=3)
    return st.none() | st.text(max_size=5) | st.integers(-(2**53), 2**53) | st.booleans()


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """A prospect resource object holding some of the attributes (a sparse fieldset)."""
    chosen = draw(st.lists(st.sampled_from(ATTRIBUTES), unique_by=lambda a: a.wire, max_size=40))
    attributes = {a.wire: draw(wire_value(a)) for a in chosen}
    attributes |= {"createdAt": draw(wire_times()), "updatedAt": draw(wire_times())}
    return {"type": "prospect", "id": 1, "attributes": attributes}


@given(records())
def test_every_field_reads_what_the_dict_path_reads(record: dict[str, Any]) -> None:
    body = orjson.dumps({"data": [record]})
    (prospect,), _document, _context = decode_collection(body, Prospect, lambda included: None)
    stored = dict(vars(prospect))
    attributes = record["attributes"]
    for attribute in SPEC.attributes:
        value = getattr(prospect, attribute.name)
        if attribute.wire in attributes:
            assert value == expected(attribute, attributes[attribute.wire]), attribute.name
        else:
            assert value is UNSET, attribute.name
    assert vars(prospect) == stored  # reads leave the storage as it came


def test_fields_named_apart_from_their_wire_read_and_write_the_wire_key() -> None:
    prospect = Prospect(first_name="Sally")
    assert prospect.first_name == "Sally"
    assert prospect.last_name is UNSET
    prospect.last_name = "Ride"
    assert vars(prospect)["lastName"] == "Ride"
    assert prospect.last_name == "Ride"
    assert prospect.changed_fields() == ["first_name", "last_name"]


def test_a_wire_name_the_class_already_uses_is_still_read_from_the_storage() -> None:
    # the wire name "describe" is taken by a method: the field cannot read through it
    @attrs.define(slots=False, kw_only=True, repr=False, eq=False, on_setattr=ON_SETATTR)
    class Gadget(Resource):
        __resource_spec__ = ResourceSpec(
            type="testGadget",
            path="testGadgets",
            attributes=(
                AttributeSpec(name="shown_name", wire="shownName"),
                AttributeSpec(name="summary", wire="describe"),
            ),
        )
        shown_name: str | UnsetType = UNSET
        summary: str | UnsetType = UNSET

        def describe(self) -> str:
            return "a method"

    try:
        register_model(Gadget)
        assert Gadget.__dict__["describe"] is Gadget.describe  # left as it was
        assert "shownName" in Gadget.__dict__  # the free one reads by wire name
        assert (Gadget().shown_name, Gadget().summary) == (UNSET, UNSET)
        raw = {"type": "testGadget", "id": 2, "attributes": {"shownName": "g", "describe": "d"}}
        body = orjson.dumps({"data": [raw]})
        (decoded,), _document, _context = decode_collection(body, Gadget, lambda included: None)
        assert (decoded.shown_name, decoded.summary) == ("g", "d")
        sparse = orjson.dumps({"data": [{"type": "testGadget", "id": 3, "attributes": {}}]})
        (empty,), _document, _context = decode_collection(sparse, Gadget, lambda included: None)
        assert (empty.shown_name, empty.summary) == (UNSET, UNSET)
    finally:
        MODELS.pop("testGadget", None)


def test_meta_reads_what_the_resource_carried() -> None:
    resources = [
        {"type": "prospect", "id": 1, "meta": {"canWrite": True}},
        {"type": "prospect", "id": 2, "meta": None},
        {"type": "prospect", "id": 3},
    ]
    body = orjson.dumps({"data": resources})
    models, _document, _context = decode_collection(body, Prospect, lambda included: None)
    assert [m.meta for m in models] == [{"canWrite": True}, None, UNSET]
    assert Prospect().meta is UNSET
