"""What mutation testing of ``_converter`` showed untested (issue 17): relationships this library
does not know, decoding a whole collection, what counts as changed, and the cattrs converter's
own hooks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import cattrs
import orjson
import pytest

from outreach_async._converter import (
    _is_resource,
    _make_structure_fn,
    decode_collection,
    make_converter,
    relationship_to_wire,
    resource_to_wire,
    structure_fn,
    structure_resource,
)
from outreach_async._exceptions import ResponseFormatError
from outreach_async._relationships import ToMany, ToOne
from outreach_async._types import UNSET
from outreach_async.models import Account, Prospect, Resource, User
from outreach_async.models._base import ON_SETATTR


class Included:
    """A handle context whose ``included`` answers from a dict (and records what was asked)."""

    def __init__(self, records: dict[tuple[str, int], Resource]) -> None:
        self.records = records

    def included(self, type_: str, id_: int) -> Resource | None:
        return self.records.get((type_, id_))

    async def fetch_one(self, type_: str, id_: int | None, related: str | None) -> Resource:
        raise AssertionError("everything asked for is included")


def prospect_with(relationships: dict[str, Any], context: Any = None) -> Prospect:
    raw = {"type": "prospect", "id": 3, "relationships": relationships}
    return structure_resource(raw, Prospect, context)


# -- relationships the models do not know ------------------------------------------------------


async def test_an_unknown_to_many_relationship_is_a_to_many_handle_of_its_type() -> None:
    widgets = {("widget", i): Account(id=i) for i in (1, 2)}
    prospect = prospect_with(
        {"gadgets": {"data": [{"type": "widget", "id": 1}, {"type": "widget", "id": 2}]}},
        Included(widgets),  # type: ignore[arg-type]
    )
    handle = prospect.extra["gadgets"]
    assert isinstance(handle, ToMany)
    assert (handle.type, handle.ids) == ("widget", [1, 2])
    assert [item async for item in handle] == [widgets["widget", 1], widgets["widget", 2]]


def test_an_unknown_to_many_relationship_without_items_or_types() -> None:
    prospect = prospect_with({"empty": {"data": []}, "untyped": {"data": [{"id": 4}]}})
    empty, untyped = prospect.extra["empty"], prospect.extra["untyped"]
    assert (type(empty), empty.type, empty.ids) == (ToMany, "", [])
    assert (type(untyped), untyped.type, untyped.ids) == (ToMany, "", [4])


async def test_an_unknown_to_one_relationship_is_a_to_one_handle_with_the_context() -> None:
    widget = Account(id=9)
    prospect = prospect_with(
        {"gadget": {"data": {"type": "widget", "id": 9}, "meta": {"m": 1}}},
        Included({("widget", 9): widget}),
    )
    handle = prospect.extra["gadget"]
    assert isinstance(handle, ToOne)
    assert (handle.type, handle.id, handle.meta) == ("widget", 9, {"m": 1})
    assert await handle.fetch() is widget


def test_an_unknown_to_one_relationship_that_is_null_or_untyped() -> None:
    prospect = prospect_with(
        {
            "nothing": {"data": None, "links": {"related": "https://x/r"}},
            "anon": {"data": {"id": 5}},
        }
    )
    nothing, anon = prospect.extra["nothing"], prospect.extra["anon"]
    assert (type(nothing), nothing.type, nothing.id, nothing.related) == (
        ToOne,
        "",
        None,
        "https://x/r",
    )
    assert (type(anon), anon.type, anon.id) == (ToOne, "", 5)


def test_a_to_many_handle_goes_back_on_the_wire_with_its_type() -> None:
    assert relationship_to_wire(ToMany("widget", [1, 2])) == {
        "data": [{"type": "widget", "id": 1}, {"type": "widget", "id": 2}]
    }
    assert relationship_to_wire(ToMany("widget", None)) == {"data": []}
    with pytest.raises(TypeError, match=r"^not a relationship handle: 3$"):
        relationship_to_wire(3)


# -- a whole collection ------------------------------------------------------------------------


def test_decode_collection_types_every_item_and_builds_the_context_once() -> None:
    body = orjson.dumps(
        {
            "data": [
                {"type": "account", "id": 1, "attributes": {"name": "A"}},
                {
                    "type": "account",
                    "id": 2,
                    "attributes": {"name": "B"},
                    "relationships": {"owner": {"data": {"type": "user", "id": 7}}},
                },
            ],
            "included": [{"type": "user", "id": 7}],
            "meta": {"count": 2},
        }
    )
    seen: list[list[dict[str, Any]]] = []

    def context_factory(included: list[dict[str, Any]]) -> Included:
        seen.append(included)
        return Included({("user", 7): Account(id=7)})

    items, document, context = decode_collection(body, Account, context_factory)
    assert [(a.id, a.name) for a in items] == [(1, "A"), (2, "B")]
    assert all(type(a) is Account for a in items)
    assert document.meta == {"count": 2}
    assert seen == [[{"type": "user", "id": 7}]]
    assert isinstance(context, Included)
    owner = items[1].owner
    assert isinstance(owner, ToOne)
    # the handles reach the response's identity map
    assert owner._context is context  # type: ignore[comparison-overlap]


def test_decode_collection_refuses_a_single_resource() -> None:
    body = b'{"data": {"type": "account", "id": 1}}'
    with pytest.raises(ResponseFormatError, match=r"^expected a collection of account$"):
        decode_collection(body, Account, lambda included: included)


# -- what changed since decoding ---------------------------------------------------------------


def decoded_prospect() -> Prospect:
    return structure_resource(
        {
            "type": "prospect",
            "id": 1,
            "attributes": {
                "firstName": "A",
                "availableAt": "2024-01-02T03:04:05.000Z",
                "dateOfBirth": "1990-05-06",
            },
            "relationships": {
                "account": {"data": {"type": "account", "id": 4}},
                "owner": {"data": {"type": "user", "id": 5}},
                "calls": {"data": [{"type": "call", "id": 8}]},
            },
        },
        Prospect,
    )


def test_a_model_built_by_hand_has_every_set_field_changed() -> None:
    assert Prospect(first_name="A", account=4).changed_fields() == ["first_name", "account"]


def test_dates_and_datetimes_assigned_their_decoded_value_are_unchanged() -> None:
    prospect = decoded_prospect()
    prospect.available_at = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    prospect.date_of_birth = dt.date(1990, 5, 6)
    assert prospect.changed_fields() == []
    prospect.date_of_birth = dt.date(1990, 5, 7)
    assert prospect.changed_fields() == ["date_of_birth"]


def test_relationships_read_or_reassigned_unchanged_are_not_changed() -> None:
    prospect = decoded_prospect()
    account, calls = prospect.account, prospect.calls  # read: handles now
    assert isinstance(account, ToOne)
    assert isinstance(calls, ToMany)
    assert (account.id, calls.ids) == (4, [8])
    prospect.owner = ToOne("user", 5)
    assert prospect.changed_fields() == []


def test_a_relationship_set_to_another_record_or_to_none_is_changed() -> None:
    prospect = decoded_prospect()
    prospect.first_name = "A"  # a snapshot now exists
    prospect.account = ToOne("account", 99)
    prospect.owner = ToOne("user", None)
    prospect.creator = ToOne("user", 1)  # not in the response at all
    assert prospect.changed_fields() == ["account", "creator", "owner"]


class Incomparable:
    def __ne__(self, other: object) -> bool:
        raise ValueError("cannot compare")

    __hash__ = None  # type: ignore[assignment]


def test_a_value_that_refuses_comparison_counts_as_changed() -> None:
    prospect = decoded_prospect()
    prospect.custom1 = Incomparable()  # type: ignore[assignment]
    assert prospect.changed_fields() == ["custom1"]


# -- the cattrs converter ----------------------------------------------------------------------


def test_a_fresh_converter_structures_and_unstructures_models_and_datetimes() -> None:
    conv = make_converter()
    raw = {"type": "account", "id": 1, "attributes": {"name": "A"}}
    account = conv.structure(raw, Account)
    assert (type(account), account.id, account.name) == (Account, 1, "A")
    assert conv.unstructure(account) == raw
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=dt.UTC)
    assert conv.unstructure(when) == "2024-01-02T03:04:05.006Z"
    assert conv.structure("2024-01-02T03:04:05.006Z", dt.datetime) == when
    assert conv.structure("2024-01-02T03:04:05", dt.datetime).tzinfo is dt.UTC


# -- the generated structuring function, built afresh (the cache hides a mutated builder) ------


def a_subclass() -> type[Prospect]:
    """A new user subclass on every call, so no structuring function is cached for it yet."""

    @attrs.define(slots=False, kw_only=True, repr=False, eq=False, on_setattr=ON_SETATTR)
    class Tagged(Prospect):
        required: str  # no default: left unset (and the fields after it still get theirs)
        crm_source: str = "crm"
        notes: list[str] = attrs.Factory(list)

    return Tagged


def test_a_fresh_structure_function_reads_every_part_of_a_resource() -> None:
    structure = _make_structure_fn(Prospect)
    attributes = {"firstName": "A", "brandNew": 1}
    raw = {
        "type": "prospect",
        "id": "12",
        "attributes": attributes,
        "relationships": {
            "account": {"data": {"type": "account", "id": 3}},
            "gadget": {"data": {"type": "widget", "id": 9}},
        },
        "meta": {"m": 1},
    }
    prospect = structure(raw, None)
    assert type(prospect) is Prospect
    assert (prospect.id, prospect.first_name, prospect.meta) == (12, "A", {"m": 1})
    assert prospect.extra["brandNew"] == 1
    assert prospect.extra["gadget"].id == 9
    account = prospect.account
    assert isinstance(account, ToOne)
    assert account.id == 3
    assert attributes == {"firstName": "A", "brandNew": 1}  # not owned: the caller's dict kept
    bare = structure({"type": "prospect", "id": 5}, None)
    assert isinstance(bare, Prospect)
    assert (bare.id, bare.extra, bare.meta, bare.first_name) == (5, {}, UNSET, UNSET)


def test_an_owned_document_is_adopted_not_copied() -> None:
    attributes = {"firstName": "A"}
    prospect = _make_structure_fn(Prospect)(
        {"type": "prospect", "id": 1, "attributes": attributes}, None, True
    )
    assert vars(prospect) is attributes


def test_a_subclass_gets_its_own_defaults_a_factory_per_instance() -> None:
    tagged = a_subclass()
    structure = structure_fn(tagged)
    assert structure_fn(tagged) is structure  # built once
    one = structure({"type": "prospect", "id": 1, "attributes": {"firstName": "A"}}, None)
    two = structure({"type": "prospect", "id": 2}, None)
    assert type(one) is tagged
    own: dict[str, Any] = vars(one)
    assert (own["crm_source"], own["notes"], one.first_name) == ("crm", [], "A")
    assert own["notes"] is not vars(two)["notes"]
    assert "required" not in vars(one)


def test_a_fresh_converter_structures_into_the_class_asked_for() -> None:
    tagged = a_subclass()
    conv = make_converter()
    assert type(conv.structure({"type": "prospect", "id": 1}, tagged)) is tagged
    assert conv.structure("5", int) == 5  # other types keep cattrs' own hooks


def test_a_model_instance_is_not_a_model_class() -> None:
    assert _is_resource(Prospect)
    assert not _is_resource(Prospect(id=1))


def test_a_decoded_collection_adopts_the_documents_attribute_objects() -> None:
    body = b'{"data": [{"type": "account", "id": 1, "attributes": {"name": "A"}}]}'
    items, document, _ = decode_collection(body, Account, lambda included: included)
    assert isinstance(document.data, list)
    assert vars(items[0]) is document.data[0]["attributes"]


def test_an_unknown_type_is_named_in_the_error() -> None:
    with pytest.raises(cattrs.StructureHandlerNotFoundError) as caught:
        structure_resource({"type": "nope", "id": 1})
    assert str(caught.value) == "no model for resource type 'nope'"
    assert caught.value.type_ is dict


def test_resource_to_wire_sends_read_only_fields_unless_writing_and_times_in_wire_form() -> None:
    account = structure_resource(
        {
            "type": "account",
            "id": 1,
            "attributes": {"name": "A", "createdAt": "2024-01-02T03:04:05.000Z"},
        },
        Account,
    )
    assert resource_to_wire(account)["attributes"]["createdAt"] == "2024-01-02T03:04:05.000Z"
    assert "createdAt" not in resource_to_wire(account, for_write=True)["attributes"]
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    wire = resource_to_wire(Prospect(id=1, available_at=when))
    assert wire["attributes"] == {"availableAt": "2024-01-02T03:04:05.000Z"}


async def test_a_fresh_structure_function_gives_relationships_the_context() -> None:
    owner = User(id=5)
    raw = {
        "type": "prospect",
        "id": 1,
        "relationships": {"owner": {"data": {"type": "user", "id": 5}}},
    }
    prospect = _make_structure_fn(Prospect)(raw, Included({("user", 5): owner}))
    assert isinstance(prospect, Prospect)
    handle = prospect.owner
    assert isinstance(handle, ToOne)
    assert await handle.fetch() is owner
