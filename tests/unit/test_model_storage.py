"""The models' storage contract, pure: reads and == leave the storage as it came, subclasses'
defaults, evolve copies that remember their origin, typed ids and stamps."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import pickle

import attrs
import orjson
import pytest

from outreach_async import UNSET, FieldNotLoadedError, Prospect, ToMany, ToOne
from outreach_async._converter import decode_collection, resource_to_wire, structure_resource
from outreach_async._relationships import to_many_handle, to_one_handle
from outreach_async.models._base import ON_SETATTR
from outreach_async.models._handles import (
    LazyToMany,
    LazyToOne,
    lazy_handle,
    lazy_to_many,
    lazy_to_one,
)

RAW = {
    "type": "prospect",
    "id": 7,
    "attributes": {
        "firstName": "Sally",
        "title": "CEO",
        "createdAt": "2024-01-02T03:04:05.000Z",
        "updatedAt": "2024-02-03T04:05:06.000Z",
        "availableAt": "2024-03-04T05:06:07.000Z",
    },
    "relationships": {
        "account": {"data": {"type": "account", "id": 3}},
        "owner": {"data": None},
    },
}


def decoded() -> Prospect:
    return structure_resource(copy.deepcopy(RAW), Prospect)


def test_equality_reads_nothing_through_the_fields() -> None:
    one, two = decoded(), decoded()
    before = dict(vars(one))
    assert one == two
    assert vars(one) == before  # no handle cached, no datetime converted in place
    assert "account" not in vars(one)
    assert vars(one)["availableAt"] == "2024-03-04T05:06:07.000Z"


def test_equality_sees_values_not_their_form() -> None:
    one, two = decoded(), decoded()
    assert isinstance(two.account, ToOne)  # one handle built, one still raw
    assert one == two
    two.available_at = dt.datetime(2024, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    assert one == two  # the same instant, as text or as a datetime
    two.title = "CTO"
    assert one != two


def test_reading_a_datetime_leaves_the_wire_form_stored() -> None:
    prospect = decoded()
    assert prospect.available_at == dt.datetime(2024, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    assert vars(prospect)["availableAt"] == "2024-03-04T05:06:07.000Z"


def test_typed_stamps_and_ids() -> None:
    prospect = decoded()
    assert prospect.id == 7
    assert prospect.updated_at.year == 2024
    assert prospect.created_at == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with pytest.raises(AttributeError, match="read-only"):
        prospect.updated_at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)  # type: ignore[assignment]
    draft = Prospect(first_name="Sally")
    with pytest.raises(FieldNotLoadedError, match="no id"):
        _ = draft.id
    with pytest.raises(FieldNotLoadedError, match="created_at"):
        _ = draft.created_at
    assert Prospect(id=5).id == 5


def test_evolve_copies_remember_what_the_server_holds() -> None:
    prospect = decoded()
    renamed = attrs.evolve(prospect, first_name="X")
    assert renamed.changed_fields() == ["first_name"]
    assert resource_to_wire(renamed, renamed.changed_fields(), for_write=True) == {
        "type": "prospect",
        "id": 7,
        "attributes": {"firstName": "X"},
    }
    assert renamed.updated_at == prospect.updated_at
    assert prospect.changed_fields() == []
    # a copy of a draft is a draft: every set field counts
    draft = attrs.evolve(Prospect(title="CEO"), first_name="Y")
    assert draft.changed_fields() == ["first_name", "title"]


def test_assigning_the_decoded_value_again_is_no_change() -> None:
    prospect = decoded()
    prospect.title = "CEO"
    prospect.available_at = dt.datetime(2024, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    assert prospect.changed_fields() == []
    prospect.account = ToOne("account", 4)
    assert prospect.changed_fields() == ["account"]


@attrs.define(slots=False, kw_only=True, repr=False, eq=False, on_setattr=ON_SETATTR)
class TaggedProspect(Prospect):
    """A user subclass with fields of its own."""

    crm_source: str = "crm"
    notes: list[str] = attrs.Factory(list)


def test_a_subclass_with_defaults_decodes_reprs_and_compares() -> None:
    one = structure_resource(copy.deepcopy(RAW), TaggedProspect)
    two = structure_resource(copy.deepcopy(RAW), TaggedProspect)
    assert (one.crm_source, one.notes) == ("crm", [])
    assert one.notes is not two.notes  # a factory runs per instance
    assert "crm_source='crm'" in repr(one)
    assert "first_name='Sally'" in repr(one)
    assert one == two
    two.crm_source = "web"
    assert one != two
    assert "crm_source" not in resource_to_wire(one).get("attributes", {})


def test_repr_shows_what_is_set_and_builds_no_handle() -> None:
    prospect = decoded()
    text = repr(prospect)
    assert text.startswith("Prospect(id=7, ")
    assert "ToOne('account', 3)" in text
    assert "owner" not in text  # null relationships are noise
    assert "account" not in vars(prospect)
    assert repr(Prospect(title=None)) == "Prospect(id=None)"


def test_models_pickle_with_their_storage() -> None:
    prospect = decoded()
    back = pickle.loads(pickle.dumps(prospect))
    assert back == prospect
    assert back.updated_at == prospect.updated_at
    assert back.last_name is UNSET


TO_ONE_SHAPES = [
    {"data": {"type": "user", "id": 3}, "meta": {"complete": True}},
    {"data": {"type": "sequenceStep", "id": "4"}},  # polymorphic, string id
    {"data": None},
    {"links": {"related": "https://api.outreach.io/api/v2/users/3"}},
    {"meta": {"note": "meta only"}},
]
TO_MANY_SHAPES = [
    {"data": [{"type": "task", "id": 1}, {"type": "task", "id": "2"}], "meta": {"count": 2}},
    {"data": [], "links": {"related": "https://api.outreach.io/api/v2/tasks?x=1"}},
    {"links": {"related": "https://api.outreach.io/api/v2/tasks?x=1"}},
    {"meta": {"count": 3}},
]


@pytest.mark.parametrize("raw", TO_ONE_SHAPES)
def test_lazy_to_one_handles_read_as_eager_ones(raw: dict[str, object]) -> None:
    lazy, eager = (
        lazy_to_one({"owner": raw}, ("owner", "user"), None),
        to_one_handle("user", raw, None),
    )
    assert isinstance(lazy, ToOne)
    fields = ("type", "id", "meta", "related", "is_null")
    assert [getattr(lazy, f) for f in fields] == [getattr(eager, f) for f in fields]
    assert lazy == eager
    assert pickle.loads(pickle.dumps(lazy)) == eager
    lazy.id = 9  # assigned values are kept
    assert lazy.id == 9


@pytest.mark.parametrize("raw", TO_MANY_SHAPES)
def test_lazy_to_many_handles_read_as_eager_ones(raw: dict[str, object]) -> None:
    lazy = lazy_to_many({"tasks": raw}, ("tasks", "task"), None)
    eager = to_many_handle("task", raw, None)
    assert isinstance(lazy, ToMany)
    fields = ("type", "ids", "meta", "related", "count")
    assert [getattr(lazy, f) for f in fields] == [getattr(eager, f) for f in fields]
    assert lazy == eager
    assert pickle.loads(pickle.dumps(lazy)) == eager


def with_relationships(**relationships: object) -> dict[str, object]:
    raw = copy.deepcopy(RAW)
    raw["relationships"] = relationships
    return raw


@pytest.mark.parametrize("one", TO_ONE_SHAPES)
@pytest.mark.parametrize("many", TO_MANY_SHAPES)
@pytest.mark.parametrize("pickled", [False, True], ids=["decoded", "unpickled"])
def test_relationship_fields_read_as_eager_handles(
    one: dict[str, object], many: dict[str, object], pickled: bool
) -> None:
    (prospect,) = decoded_page(with_relationships(owner=one, tasks=many))
    if pickled:  # no response context: the field's other path
        prospect = pickle.loads(pickle.dumps(prospect))
    owner, tasks = prospect.owner, prospect.tasks
    eager_one, eager_many = to_one_handle("user", one, None), to_many_handle("task", many, None)
    assert isinstance(owner, ToOne)
    assert isinstance(tasks, ToMany)
    one_fields = ("type", "id", "meta", "related", "is_null")
    assert [getattr(owner, f) for f in one_fields] == [getattr(eager_one, f) for f in one_fields]
    many_fields = ("type", "ids", "meta", "related", "count")
    assert [getattr(tasks, f) for f in many_fields] == [getattr(eager_many, f) for f in many_fields]
    assert prospect.owner is owner  # built once, then cached
    assert prospect.account is UNSET  # not in the response


def set_slots(handle: object) -> dict[str, object]:
    """What construction put in a handle's slots, read without filling the lazy ones."""
    found: dict[str, object] = {}
    for cls in type(handle).__mro__:
        for name in cls.__dict__.get("__slots__", ()):
            with contextlib.suppress(AttributeError):  # an unset slot
                found[name] = cls.__dict__[name].__get__(handle, cls)
    return found


@pytest.mark.parametrize("pickled", [False, True], ids=["decoded", "unpickled"])
def test_relationship_fields_build_what_lazy_handle_builds(pickled: bool) -> None:
    # LazyRelationship's getter inlines lazy_handle: the two must not drift apart
    (prospect,) = decoded_page(with_relationships(owner={"data": None}, tasks={"data": []}))
    if pickled:
        prospect = pickle.loads(pickle.dumps(prospect))
    relationships = prospect.__dict__["_outreach_relationships"]
    context = prospect.__dict__.get("_outreach_context")
    owner, tasks = prospect.owner, prospect.tasks
    assert type(owner) is LazyToOne
    assert type(tasks) is LazyToMany
    built_one = lazy_handle(LazyToOne, relationships, ("owner", "user"), context)
    built_many = lazy_handle(LazyToMany, relationships, ("tasks", "task"), context)
    assert set_slots(owner) == set_slots(built_one)
    assert set_slots(tasks) == set_slots(built_many)


def test_relationship_fields_read_unset_without_a_relationship_object() -> None:
    (prospect,) = decoded_page(with_relationships(owner=None, account={"data": None}))
    assert prospect.owner is UNSET  # a null where an object belongs carries nothing
    assert prospect.account == ToOne("account", None)
    assert Prospect(first_name="Sally").owner is UNSET  # built by hand


# -- attributes the spec does not know, sorted out of the storage when first needed


def stray(**attributes: object) -> dict[str, object]:
    """RAW with attributes this library does not know, and a relationship it does not know."""
    raw = copy.deepcopy(RAW)
    raw["attributes"].update(attributes)  # type: ignore[attr-defined]
    raw["relationships"]["brandNewRel"] = {"data": {"type": "widget", "id": 9}}  # type: ignore[index]
    return raw


def decoded_page(*resources: dict[str, object], cls: type[Prospect] = Prospect) -> list[Prospect]:
    body = orjson.dumps({"data": list(resources)})
    items, _document, _context = decode_collection(body, cls, lambda included: None)
    return items


def test_unknown_attributes_and_relationships_reach_extra_and_go_back_on_the_wire() -> None:
    (prospect,) = decoded_page(stray(brandNewField={"x": 1}, anotherOne=None))
    assert prospect.extra["brandNewField"] == {"x": 1}
    assert prospect.extra["anotherOne"] is None
    assert prospect.extra["brandNewRel"].id == 9
    assert "brandNewField" not in vars(prospect)  # moved out of the storage
    wire = resource_to_wire(prospect)
    assert wire["attributes"]["brandNewField"] == {"x": 1}
    assert wire["relationships"]["brandNewRel"] == {"data": {"type": "widget", "id": 9}}
    assert prospect.first_name == "Sally"


def test_an_unknown_attribute_named_like_a_relationship_field_never_stands_in_for_it() -> None:
    # "account" is a relationship field of the model; as an attribute the spec does not know it
    # belongs in extra, and reading the field gives the relationship's handle
    (prospect,) = decoded_page(stray(account="an attribute"))
    assert isinstance(prospect.account, ToOne)
    assert prospect.account.id == 3
    assert prospect.extra["account"] == "an attribute"
    (again,) = decoded_page(stray(account="an attribute"))
    assert again.extra == prospect.extra  # the other order: extra first, then the field
    assert again.account == prospect.account


def test_a_relationship_field_read_again_returns_its_handle_without_sorting_the_extras() -> None:
    (prospect,) = decoded_page(stray(brandNewField=1))
    account = prospect.account
    assert prospect.account is account
    assert "brandNewField" in vars(prospect)  # not sorted out: the cached handle is no stray
    assert prospect.extra["brandNewField"] == 1
    assert prospect.account is account


def test_equality_and_repr_see_the_extras_and_leave_the_storage_as_it_came() -> None:
    one, two = decoded_page(stray(brandNewField=1), stray(brandNewField=1))
    (other,) = decoded_page(stray(brandNewField=2))
    before = dict(vars(one))
    assert one == two
    assert one != other
    assert "extra={'brandNewField': 1, 'brandNewRel'" in repr(one)
    assert vars(one) == before


def test_names_a_stray_key_would_hide_are_sorted_out_at_decode() -> None:
    # a method, a reserved key and a subclass's own field: each an attribute the spec does not know
    (prospect,) = decoded_page(
        stray(changed_fields="x", meta="y", crm_source="z"), cls=TaggedProspect
    )
    assert isinstance(prospect, TaggedProspect)
    assert prospect.changed_fields() == []
    assert prospect.meta is UNSET
    assert prospect.crm_source == "crm"
    assert prospect.extra == {
        "changed_fields": "x",
        "meta": "y",
        "crm_source": "z",
        "brandNewRel": prospect.extra["brandNewRel"],
    }


def test_the_first_assignment_and_evolve_keep_the_extras() -> None:
    (prospect,) = decoded_page(stray(brandNewField=1))
    prospect.title = "CTO"
    assert prospect.changed_fields() == ["title"]
    assert prospect.extra["brandNewField"] == 1
    (original,) = decoded_page(stray(brandNewField=1))
    copied = attrs.evolve(original, first_name="X")
    assert copied.extra["brandNewField"] == 1
    assert copied.changed_fields() == ["first_name"]


def test_a_model_pickled_before_its_extras_were_sorted_out_keeps_them() -> None:
    (prospect,) = decoded_page(stray(brandNewField=1))
    restored = pickle.loads(pickle.dumps(prospect))
    assert restored.extra["brandNewField"] == 1
    assert restored.extra["brandNewRel"].id == 9
    assert restored == prospect


def test_assigning_extra_replaces_what_the_wire_sent() -> None:
    (prospect,) = decoded_page(stray(brandNewField=1))
    prospect.extra = {"mine": 2}
    assert resource_to_wire(prospect)["attributes"].get("brandNewField") is None
    assert resource_to_wire(prospect)["attributes"]["mine"] == 2
