"""The seeded organisation: every collection type has records, every relationship resolves, both
sides of a pair agree, the same random seed gives the same org, and the minimal profile gives one
or two of everything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from outreach_async.models import ALL_SPECS
from outreach_async.sandbox import Sandbox, SeedProfile
from outreach_async.sandbox.cli import build_parser, config_from_args
from outreach_async.sandbox.schema import WRITE_ONLY, Schema
from outreach_async.sandbox.seed import SeedPlan, seed_store
from outreach_async.sandbox.store import Store

from .conftest import Api

SCHEMA = Schema(ALL_SPECS.values())
LISTED = sorted(spec.type for spec in ALL_SPECS.values() if "list" in spec.operations)
#: served types with no collection GET, each seeded with one record (id 1)
GET_ONLY = ("orgSetting", "import")
#: the one type with neither list nor get (POST /kaiaVoiceImports only): nothing to seed
CREATE_ONLY = ("kaiaVoiceImport",)
#: stored to-many pairs the seed keeps in step: (type, relationship, other type, inverse);
#: a to-one inverse holds one id, a to-many one a list
PAIRS = (
    ("opportunity", "prospects", "prospect", "opportunities"),
    ("team", "users", "user", "teams"),
    ("team", "contentCategories", "contentCategory", "teams"),
    ("role", "childRoles", "role", "parentRole"),
    ("sequence", "contentCategoryMemberships", "contentCategoryMembership", "content"),
    ("account", "favorites", "favorite", "target"),
)


def _seeded(seed: int | SeedProfile, random_seed: int = 0) -> Store:
    store = Store(SCHEMA.by_type.values())
    seed_store(store, seed, random_seed)
    return store


def _default_seed() -> int | SeedProfile | None:
    """What ``outreach-async sandbox serve`` seeds when told nothing."""
    return config_from_args(build_parser().parse_args([])).seed


def test_the_served_types_are_all_accounted_for() -> None:
    every = set(LISTED) | set(GET_ONLY) | set(CREATE_ONLY)
    assert every == set(ALL_SPECS)


@pytest.fixture(params=["default", "minimal"])
async def seeded_sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    seed = _default_seed() if request.param == "default" else SeedProfile.minimal
    async with Sandbox(seed=seed) as sandbox:
        yield sandbox


async def test_every_collection_endpoint_returns_records(seeded_sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {seeded_sandbox.token}"}
    empty = []
    async with aiohttp.ClientSession(headers=headers) as session:
        for type_ in LISTED:
            url = f"{seeded_sandbox.base_url}/{ALL_SPECS[type_].path}"
            async with session.get(url, params={"page[size]": "1"}) as response:
                assert response.status == 200, (type_, await response.text())
                body = await response.json(content_type=None)
            if not body["data"]:
                empty.append(type_)
        for type_ in GET_ONLY:
            url = f"{seeded_sandbox.base_url}/{ALL_SPECS[type_].path}/1"
            async with session.get(url) as response:
                assert response.status == 200, (type_, await response.text())
    assert empty == []


def test_the_default_seed_is_ten_thousand_prospects() -> None:
    # The connectors' proof (benchmarks/connectors) runs against this seed.
    assert _default_seed() == 10_000


# -- relationships -----------------------------------------------------------------------------


def _targets(store: Store, type_: str, name: str, value: Any) -> list[tuple[str, int]]:
    plan = SCHEMA.plan(type_, name)
    assert plan is not None, (type_, name)
    assert plan.storage in ("to_one", "stored"), (type_, name)
    if isinstance(value, dict):  # polymorphic: stored with its type
        return [(value["type"], value["id"])]
    if isinstance(value, list):
        assert plan.storage == "stored", (type_, name)
        return [(plan.target, v) for v in value]
    return [] if value is None else [(plan.target, value)]


@pytest.mark.parametrize("seed", [3000, SeedProfile.minimal])
def test_every_seeded_relationship_points_at_a_seeded_record(seed: int | SeedProfile) -> None:
    store = _seeded(seed)
    checked = 0
    for type_, table in store.tables.items():
        for record in table:
            for name, value in record["relationships"].items():
                for target_type, target_id in _targets(store, type_, name, value):
                    assert store.get(target_type, target_id) is not None, (type_, name, target_id)
                    checked += 1
    assert checked > 0


@pytest.mark.parametrize("seed", [3000, SeedProfile.minimal])
def test_both_sides_of_a_stored_pair_agree(seed: int | SeedProfile) -> None:
    store = _seeded(seed)
    for type_, name, other, inverse in PAIRS:
        forward = {
            (r["id"], t) for r in store.table(type_) for t in r["relationships"].get(name) or ()
        }
        backward = set()
        for record in store.table(other):
            value = record["relationships"].get(inverse)
            for target in value if isinstance(value, list) else [value]:
                if target is not None:
                    backward.add((target, record["id"]))
        assert forward, (type_, name)
        assert forward == backward, (type_, name)


def test_the_seed_holds_the_relationships_the_issue_names() -> None:
    store = _seeded(3000)
    opportunity = next(iter(store.table("opportunity")))["relationships"]
    assert opportunity["opportunityStage"]
    assert opportunity["owner"]
    assert opportunity["prospects"]
    step_templates = [r["relationships"] for r in store.table("sequenceTemplate")]
    assert all(t["sequenceStep"] and t["template"] for t in step_templates)
    email_steps = [
        s["id"]
        for s in store.table("sequenceStep")
        if s["attributes"]["stepType"] in ("auto_email", "manual_email")
    ]
    assert sorted(t["sequenceStep"] for t in step_templates) == email_steps
    assert all(len(t["relationships"]["users"]) > 0 for t in store.table("team"))
    assert all(u["relationships"]["teams"] for u in store.table("user"))
    sequences = store.table("sequence")
    assert all(s["relationships"]["contentCategoryMemberships"] for s in sequences)
    mailings = [m for m in store.table("mailing") if m["attributes"]["mailingType"] == "sequence"]
    assert all(store.get("template", m["relationships"]["template"]) for m in mailings)


@pytest.mark.parametrize("seed", [3000, SeedProfile.minimal])
def test_seeded_attributes_are_the_api_s_own(seed: int | SeedProfile) -> None:
    store = _seeded(seed)
    for type_, table in store.tables.items():
        known = set(ALL_SPECS[type_].attribute_by_wire)
        for record in table:
            assert set(record["attributes"]) <= known, (type_, set(record["attributes"]) - known)


# -- size, proportions, determinism ------------------------------------------------------------

#: SeedPlan fields that count the records of one type exactly
COUNTED = {
    "accounts": "account",
    "sequence_states": "sequenceState",
    "tasks": "task",
    "calls": "call",
    "mailings": "mailing",
    "events": "event",
    "teams": "team",
    "opportunities": "opportunity",
    "email_addresses": "emailAddress",
    "phone_numbers": "phoneNumber",
    "prospect_notes": "prospectNote",
    "account_notes": "accountNote",
    "products": "product",
    "purchases": "purchase",
    "snippets": "snippet",
    "recipients": "recipient",
    "favorites": "favorite",
    "mail_aliases": "mailAlias",
    "kaia_recordings": "kaiaRecording",
    "audit_logs": "auditLog",
    "batches": "batch",
    "compliance_requests": "complianceRequest",
}


@pytest.mark.parametrize("seed", [10_000, SeedProfile.minimal])
def test_counts_follow_the_plan(seed: int | SeedProfile) -> None:
    store = _seeded(seed)
    plan = SeedPlan.for_seed(seed)
    for field, type_ in COUNTED.items():
        assert store.count(type_) == getattr(plan, field) > 0, field
    assert store.count("user") == store.count("mailbox") == plan.users + 1
    steps = plan.sequences * plan.steps_per_sequence
    assert store.count("sequenceStep") == steps
    assert 0 < store.count("sequenceTemplate") <= steps
    assert store.count("template") == store.count("sequenceTemplate") + plan.templates


def test_ten_thousand_prospects_make_a_mid_size_org() -> None:
    # The README's table ("The sandbox") quotes these.
    store = _seeded(10_000)
    counts = {t: store.count(t) for t in ALL_SPECS}
    assert counts["prospect"] == counts["emailAddress"] == 10_000
    assert counts["phoneNumber"] == 10_000 // 3
    assert (counts["account"], counts["opportunity"]) == (500, 200)
    assert counts["task"] == counts["mailing"] == counts["event"] == 2500
    assert counts["call"] == counts["sequenceState"] == 1000
    assert (counts["user"], counts["team"], counts["sequence"]) == (5 + 1, 2, 2)
    email_steps = counts["sequenceTemplate"]
    assert (counts["template"] - email_steps, counts["snippet"]) == (10, 10)
    reference = ("stage", "persona", "opportunityStage", "taskPriority", "duty", "profile")
    assert all(3 <= counts[t] <= 8 for t in reference)


def test_the_minimal_profile_gives_one_or_two_of_everything() -> None:
    store = _seeded(SeedProfile.minimal)
    counts = {t: store.count(t) for t in ALL_SPECS if t not in CREATE_ONLY}
    assert {t: n for t, n in counts.items() if not 1 <= n <= 2} == {}


def test_the_same_random_seed_gives_the_same_org_and_another_seed_another() -> None:
    first, second, other = _seeded(2000, 1), _seeded(2000, 1), _seeded(2000, 2)
    for type_ in ALL_SPECS:
        assert first.table(type_).records == second.table(type_).records, type_
    for type_ in ("prospect", "opportunity", "opportunityProspectRole", "favorite", "template"):
        assert first.table(type_).records != other.table(type_).records, type_


def test_a_reference_limit_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="reference_limit"):
        SeedPlan(reference_limit=1)


# -- the option ------------------------------------------------------------------------------


def test_serve_takes_a_seed_profile_and_refuses_it_with_a_seed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(["--seed-profile", "minimal"])
    assert config_from_args(args).seed is SeedProfile.minimal
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--seed", "5", "--seed-profile", "minimal"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.outreach_sandbox(seed=SeedProfile.minimal)
async def test_the_fixture_takes_the_minimal_profile(outreach_sandbox: Sandbox) -> None:
    assert outreach_sandbox.store.count("prospect") == 2
    assert outreach_sandbox.store.count("opportunity") == 1


# -- write-only attributes ---------------------------------------------------------------------


@pytest.mark.outreach_sandbox(seed=None)
async def test_write_only_attributes_are_taken_but_never_read_back(api: Api) -> None:
    secrets = {"password": "hunter2", "smtpPassword": "s3cret", "sendgridApiKey": "SG.key"}
    created = await api.create(
        "mailbox", "/mailboxes", attributes={"email": "rep@example.com", **secrets}
    )
    read = (await api.get(f"/mailboxes/{created['id']}")).data
    listed = (await api.get("/mailboxes")).data
    for attributes in [created["attributes"], read["attributes"]] + [
        m["attributes"] for m in listed
    ]:
        assert set(attributes).isdisjoint(WRITE_ONLY["mailbox"])
    assert read["attributes"]["email"] == "rep@example.com"
    stored = api.sandbox.store.get("mailbox", created["id"])
    assert stored is not None
    assert stored["attributes"]["password"] == "hunter2"
