"""The generated models against Outreach's specs, and the generator against its committed output."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest

import outreach_async.models as models
from outreach_async._relationships import ToMany, ToOne
from outreach_async._schema import ActionSpec, RelationshipSpec, ResourceSpec
from outreach_async._types import UNSET, Ref
from outreach_async.models import (
    ALL_SPECS,
    MODELS,
    Call,
    ComplianceRequest,
    Event,
    Prospect,
    Resource,
    Task,
    model_for_type,
)
from outreach_async.models._base import ServerStamp

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "outreach_async" / "models"
GENERATOR = REPO_ROOT / "tools" / "generate_models.py"
SPEC_DIR = Path(os.environ.get("OUTREACH_SPEC_DIR", REPO_ROOT / ".." / "shared" / "reference"))
HYPER_SCHEMA = SPEC_DIR / "outreach-hyper-schema.json"

needs_specs = pytest.mark.skipif(
    not HYPER_SCHEMA.exists(), reason=f"Outreach specs not found in {SPEC_DIR}"
)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_models", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_models"] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return load_generator()


def spec(type_: str) -> ResourceSpec:
    return ALL_SPECS[type_]


def relationship(type_: str, name: str) -> RelationshipSpec:
    found = spec(type_).relationship(name)
    assert found is not None, f"{type_} has no relationship {name}"
    return found


def action(type_: str, name: str) -> ActionSpec:
    return spec(type_).action_by_name[name]


def own_fields(cls: type[Resource]) -> list[attrs.Attribute[Any]]:
    return [f for f in attrs.fields(cls) if f.name not in ("_id", "extra", "meta", "_origin")]


# -- coverage of the API ---------------------------------------------------------------------


@needs_specs
def test_every_hyper_schema_type_has_a_registered_model() -> None:
    hyper_types = set(json.loads(HYPER_SCHEMA.read_text(encoding="utf-8"))["definitions"])
    assert len(hyper_types) == 50
    assert set(MODELS) >= hyper_types
    assert set(ALL_SPECS) == hyper_types
    for type_ in hyper_types:
        assert model_for_type(type_) is MODELS[type_]


def test_all_specs_are_the_models_specs_and_every_model_is_exported() -> None:
    for type_, cls in MODELS.items():
        assert ALL_SPECS[type_] is cls.__resource_spec__
        assert cls.__resource_spec__.type == type_
        assert getattr(models, cls.__name__) is cls
        assert cls.__name__ in models.__all__
    assert models.__all__ == sorted(models.__all__)
    assert {"ALL_SPECS", "MODELS", "Resource", "model_for_type"} <= set(models.__all__)


def test_class_names_are_the_pascal_case_of_the_type() -> None:
    assert MODELS["sequenceState"].__name__ == "SequenceState"
    assert MODELS["orgSetting"].__name__ == "OrgSetting"
    assert MODELS["import"].__name__ == "Import"
    for type_, cls in MODELS.items():
        assert cls.__name__ == type_[0].upper() + type_[1:]


@pytest.mark.parametrize("type_", sorted(ALL_SPECS))
def test_fields_match_the_spec_and_default_to_unset(type_: str) -> None:
    cls = MODELS[type_]
    resource_spec = cls.__resource_spec__
    stamps = [a.name for a in resource_spec.attributes if a.wire in ("createdAt", "updatedAt")]
    expected = [a.name for a in resource_spec.attributes if a.name not in stamps] + [
        r.name for r in resource_spec.relationships
    ]
    fields = own_fields(cls)
    assert [f.name for f in fields] == expected
    # the server stamps are typed datetimes, not constructor arguments
    assert all(isinstance(getattr(cls, name), ServerStamp) for name in stamps)
    assert all(f.default is UNSET for f in fields)
    fresh = cls()  # every field of a model built with nothing reads UNSET
    assert all(getattr(fresh, f.name) is UNSET for f in fields)
    wires = [a.wire for a in resource_spec.attributes] + [
        r.wire for r in resource_spec.relationships
    ]
    assert len(set(wires)) == len(wires)


def test_relationship_targets_are_our_types_where_the_spec_names_one() -> None:
    unknown = {
        (type_, r.name, r.target)
        for type_, resource_spec in ALL_SPECS.items()
        for r in resource_spec.relationships
        if r.target not in ALL_SPECS
    }
    # types the API has but the hyper-schema does not describe are kept by name
    assert ("prospect", "default_plugin_mapping", "pluginMapping") in unknown
    assert ("event", "plugin", "plugin") in unknown
    assert all(target[0].islower() and target.isalnum() for _, _, target in unknown)
    assert relationship("opportunity", "stage").target == "opportunityStage"
    assert relationship("mailing", "recipients").target == "recipient"


# -- spot checks against the spec ------------------------------------------------------------


def test_prospect_has_all_150_custom_fields() -> None:
    names = {a.name: a for a in spec("prospect").attributes}
    for n in range(1, 151):
        custom = names[f"custom{n}"]
        assert custom.wire == f"custom{n}"
        assert custom.kind == "string"
        assert not custom.read_only
    assert Prospect(custom150="x").custom150 == "x"


def test_prospect_attribute_flags_come_from_the_badges() -> None:
    first_name = spec("prospect").attribute("first_name")
    assert first_name is not None
    assert (first_name.wire, first_name.filterable, first_name.sortable) == (
        "firstName",
        True,
        True,
    )
    assert not first_name.read_only
    linked_in_slug = spec("prospect").attribute("linkedInSlug")
    assert linked_in_slug is not None
    assert linked_in_slug.name == "linked_in_slug"
    assert linked_in_slug.read_only
    address = spec("prospect").attribute("address_street2")
    assert address is not None
    assert address.wire == "addressStreet2"
    linked_in_url = spec("prospect").attribute("linked_in_url")
    assert linked_in_url is not None
    assert linked_in_url.wire == "linkedInUrl"


def test_attribute_kinds() -> None:
    prospect = spec("prospect")
    kinds = {a.wire: (a.kind, a.item_kind) for a in prospect.attributes}
    assert kinds["createdAt"] == ("datetime", "any")
    assert kinds["dateOfBirth"] == ("date", "any")
    assert kinds["emails"] == ("array", "string")
    assert kinds["engagedScore"][0] == "number"
    assert kinds["clickCount"][0] == "integer"
    assert kinds["optedOut"][0] == "boolean"
    assert kinds["contactHistogram"] == ("array", "array")  # 12 x [inbound, outbound]
    assert spec("event").attribute("payload") is not None
    assert spec("event").attribute_by_wire["payload"].kind == "object"


def test_created_and_updated_at_are_read_only_everywhere() -> None:
    for resource_spec in ALL_SPECS.values():
        for wire in ("createdAt", "updatedAt"):
            found = resource_spec.attribute_by_wire.get(wire)
            assert found is None or found.read_only, (resource_spec.type, wire)


def test_python_keywords_get_a_trailing_underscore() -> None:
    from_ = spec("call").attribute("from_")
    assert from_ is not None
    assert from_.wire == "from"
    assert from_.filterable
    assert Call(from_="+1 555").from_ == "+1 555"


def test_operations_follow_the_openapi_paths() -> None:
    assert spec("call").operations == {"list", "create", "get", "delete"}  # no PATCH
    assert spec("prospect").operations == {"list", "create", "get", "update", "delete"}
    assert spec("event").operations == {"list", "get"}
    assert spec("mailing").operations == {"list", "create", "get"}
    assert spec("sequenceState").operations == {"list", "create", "get", "delete"}
    assert spec("user").operations == {"list", "create", "get", "update"}
    assert spec("orgSetting").operations == {"get", "update"}
    assert spec("import").operations == {"get"}
    assert spec("complianceRequest").operations == {"list", "create", "get"}


def test_events_are_read_only_and_sortable_on_updated_at() -> None:
    event = spec("event")
    updated_at = event.attribute("updated_at")
    assert updated_at is not None
    assert (updated_at.wire, updated_at.kind) == ("updatedAt", "datetime")
    assert updated_at.read_only
    assert updated_at.sortable
    assert updated_at.filterable
    assert event.watermark == "updatedAt"
    assert all(a.read_only for a in event.attributes)
    assert all(r.read_only for r in event.relationships)
    assert Event.__resource_spec__ is event


def test_sequence_state_actions() -> None:
    names = {a.name for a in spec("sequenceState").actions}
    assert names == {"finish", "pause", "resume"}
    for name in names:
        found = action("sequenceState", name)
        assert found.idempotent
        assert not found.collection
        assert found.params == ()


def test_task_actions_carry_their_params() -> None:
    mark_complete = action("task", "markComplete")
    assert mark_complete.params == ("completionAction", "completionNote")
    assert mark_complete.required == ()
    assert mark_complete.idempotent
    log = action("task", "logMeetInPerson")
    assert set(log.params) == {"completionNote", "taskDispositionId", "taskPurposeId"}
    assert log.required == ("taskDispositionId",)
    assert not log.idempotent
    assert action("task", "reschedule").required == ("dueAt",)
    assert not action("task", "advance").idempotent  # a retry would advance twice


def test_collection_actions_of_batches_and_imports() -> None:
    add_tags = action("batch", "prospectsAddTags")
    assert add_tags.collection
    assert not add_tags.idempotent
    assert add_tags.params == ("filter", "skipConfirmation")
    cancel = action("batch", "cancel")
    assert cancel.idempotent
    assert not cancel.collection
    assert action("batch", "confirm").params == ("confirmedCount",)
    assert action("batch", "customObjectBulkDelete").required == ("objectName",)
    validate = action("import", "validateUpload")
    assert validate.collection
    assert validate.required == ("hash", "storageKey")
    assert action("sequence", "activate").idempotent
    assert not action("mailbox", "testSend").idempotent


def test_relationship_cardinality_links_only_and_filters() -> None:
    account = relationship("prospect", "account")
    assert (account.target, account.to_many, account.links_only) == ("account", False, False)
    assert account.filter_attributes == ("id", "customId", "name", "named", "updatedAt")
    calls = relationship("prospect", "calls")
    assert (calls.target, calls.to_many, calls.links_only) == ("call", True, True)
    assert calls.read_only
    assert not calls.filterable
    active = relationship("prospect", "activeSequenceStates")
    assert active.to_many
    assert not active.links_only
    assert active.filter_attributes == ("id", "state")
    assert relationship("prospect", "creator").read_only
    # "You can use any filterable attribute of sequence": id plus those attributes
    sequence = relationship("sequenceState", "sequence")
    assert sequence.filter_attributes[0] == "id"
    assert "name" in sequence.filter_attributes
    # a to-one rendered links-only, and links-only relationships the hyper-schema lacks
    assert relationship("kaiaRecording", "owner").links_only
    batches = relationship("account", "batches")
    assert (batches.target, batches.to_many, batches.links_only) == ("batch", True, True)


def test_polymorphic_relationships_default_to_a_sensible_target() -> None:
    assert relationship("task", "subject").target == "prospect"
    assert relationship("task", "creator").target == "user"
    assert relationship("call", "associated_id").target == "account"
    assert Task(subject=7).subject == ToOne("prospect", 7)
    assert Task(subject=Ref("account", 5)).subject == ToOne("account", 5)


def test_compliance_requests_are_written_snake_case() -> None:
    compliance = spec("complianceRequest")
    wires = {a.name: a.wire for a in compliance.attributes}
    assert wires["requester_email"] == "requester_email"
    assert wires["request_type"] == "request_type"
    assert wires["object_type"] == "object_type"
    assert wires["request_object_email"] == "request_object_email"
    assert wires["batch_compliance_request_id"] == "batch_compliance_request_id"
    batch_filter = compliance.attribute("batchComplianceRequest")
    assert batch_filter is not None
    assert batch_filter.filterable
    assert ComplianceRequest(requester_email="a@b.c").requester_email == "a@b.c"


def test_watermarks() -> None:
    assert spec("prospect").watermark == "updatedAt"
    assert spec("accountNote").watermark == "createdAt"
    assert spec("auditLog").watermark == "timestamp"
    assert spec("duty").watermark is None
    for resource_spec in ALL_SPECS.values():
        if resource_spec.watermark is not None:
            found = resource_spec.attribute_by_wire[resource_spec.watermark]
            assert found.kind == "datetime"


def test_unwritable_types_have_only_read_only_fields() -> None:
    for resource_spec in ALL_SPECS.values():
        if not {"create", "update"} & resource_spec.operations:
            assert all(a.read_only for a in resource_spec.attributes), resource_spec.type


# -- relationship fields convert what users assign ---------------------------------------------


def test_relationship_fields_convert_ids_refs_and_models() -> None:
    prospect = Prospect(account=3, owner=Ref("user", 1), calls=[4, Ref("call", 5)])
    assert prospect.account == ToOne("account", 3)
    assert prospect.owner == ToOne("user", 1)
    assert isinstance(prospect.calls, ToMany)
    assert prospect.calls.ids == [4, 5]
    assert Prospect(account=None).account == ToOne("account", None)
    assert Prospect().account is UNSET
    owner = MODELS["user"](id=9)
    assert Prospect(owner=owner).owner == ToOne("user", 9)
    with pytest.raises(TypeError):
        Prospect(calls="not a list")  # type: ignore[arg-type]


def test_assignment_converts_too() -> None:
    prospect = Prospect()
    prospect.account = 12  # type: ignore[assignment]
    assert prospect.account == ToOne("account", 12)


# -- the generator -----------------------------------------------------------------------------


def test_snake_case_names(generator: ModuleType) -> None:
    assert generator.python_name("linkedInUrl") == "linked_in_url"
    assert generator.python_name("addressStreet2") == "address_street2"
    assert generator.python_name("custom12") == "custom12"
    assert generator.python_name("from") == "from_"
    assert generator.python_name("requester_email") == "requester_email"
    assert generator.class_name("import") == "Import"


def test_filter_attribute_sentences(generator: ModuleType) -> None:
    parse = generator.filter_attributes
    assert parse("You can use attributes id, customId and name to filter x") == (
        "id",
        "customId",
        "name",
    )
    assert parse("You can use only the attribute id to filter x by y") == ("id",)
    assert parse("Relationship calls cannot be used as a filter.") == ()
    assert parse("") == ("id",)


def test_generator_rejects_reserved_and_clashing_names(generator: ModuleType) -> None:
    attribute = generator.Attribute(name="meta", wire="meta", kind="string", annotation="str")
    clash = generator.ResourceType(
        type="thing",
        class_name="Thing",
        module="things",
        path="things",
        description="",
        attributes=(attribute,),
        relationships=(),
        operations=(),
        actions=(),
        watermark=None,
    )
    with pytest.raises(ValueError, match="clashes"):
        generator.check_names(clash, {"thing"})


@needs_specs
def test_generator_is_deterministic(generator: ModuleType) -> None:
    assert generator.generate(SPEC_DIR) == generator.generate(SPEC_DIR)


def find_ruff() -> str | None:
    sibling = Path(sys.executable).with_name("ruff")
    return str(sibling) if sibling.exists() else shutil.which("ruff")


@needs_specs
def test_generator_reproduces_the_committed_models(tmp_path: Path) -> None:
    ruff = find_ruff()
    if ruff is None:
        pytest.skip("ruff is not installed")
    out = tmp_path / "outreach_async" / "models"
    run = [sys.executable, str(GENERATOR), "--spec-dir", str(SPEC_DIR), "--out", str(out)]
    subprocess.run(run, check=True, capture_output=True)
    config = str(REPO_ROOT / "pyproject.toml")
    subprocess.run([ruff, "format", "--config", config, str(out)], check=True, capture_output=True)
    generated = sorted(p.name for p in out.iterdir())
    assert "__init__.py" in generated
    assert "prospects.py" in generated
    for name in generated:
        committed = (MODELS_DIR / name).read_bytes()
        assert (out / name).read_bytes() == committed, f"{name} differs: run `nox -s generate`"


def test_client_generator_reproduces_the_committed_repository_attributes(tmp_path: Path) -> None:
    ruff = find_ruff()
    if ruff is None:
        pytest.skip("ruff is not installed")
    out = tmp_path / "_repositories.py"
    tool = REPO_ROOT / "tools" / "generate_client.py"
    subprocess.run([sys.executable, str(tool), "--out", str(out)], check=True, capture_output=True)
    config = str(REPO_ROOT / "pyproject.toml")
    fix_imports = [ruff, "check", "--config", config, "--fix", "--select", "I", str(out)]
    subprocess.run(fix_imports, check=True, capture_output=True)
    subprocess.run([ruff, "format", "--config", config, str(out)], check=True, capture_output=True)
    committed = (REPO_ROOT / "outreach_async" / "_repositories.py").read_bytes()
    assert out.read_bytes() == committed, "_repositories.py differs: run `nox -s generate`"


def test_the_generator_knows_the_searchable_types(generator: ModuleType) -> None:
    from outreach_async._filters import SEARCHABLE_TYPES

    assert generator.SEARCHABLE_TYPES == SEARCHABLE_TYPES
