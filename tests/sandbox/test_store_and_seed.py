"""The store (timestamps, indexes) and the seed data (deterministic, consistent, fast)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach_async.models import ALL_SPECS
from outreach_async.sandbox.schema import Schema
from outreach_async.sandbox.seed import SeedPlan, seed_store
from outreach_async.sandbox.store import Store
from outreach_async.sandbox.times import MonotonicClock

SCHEMA = Schema(ALL_SPECS.values())


def _store(clock: MonotonicClock | None = None) -> Store:
    return Store(SCHEMA.by_type.values(), clock)


# -- timestamps -------------------------------------------------------------------------------


def test_inserts_get_equal_created_and_updated_timestamps_and_the_next_id() -> None:
    store = _store(MonotonicClock(lambda: 1_700_000_000.1234))
    first = store.insert("account", {"name": "A"})
    second = store.insert("account", {"name": "B"})
    assert (first["id"], second["id"]) == (1, 2)
    assert first["attributes"]["createdAt"] == first["attributes"]["updatedAt"]
    assert first["attributes"]["createdAt"] == "2023-11-14T22:13:20.123Z"
    # a frozen wall clock still yields distinct, increasing stamps
    assert second["attributes"]["createdAt"] == "2023-11-14T22:13:20.124Z"


def test_updated_at_moves_only_when_a_value_changes() -> None:
    store = _store(MonotonicClock(lambda: 1_700_000_000.0))
    record = store.insert("prospect", {"firstName": "Sally"})
    stamp = record["attributes"]["updatedAt"]

    assert store.update("prospect", 1, {"firstName": "Sally"}) == {}
    assert record["attributes"]["updatedAt"] == stamp
    before = store.update("prospect", 1, {"lastName": "Smith"}, {"owner": 1})
    assert before == {"lastName": None, "owner": None, "updatedAt": stamp}
    assert record["attributes"]["updatedAt"] > stamp
    assert record["attributes"]["createdAt"] == stamp


def test_events_have_no_writes_but_keep_updated_at_in_their_spec() -> None:
    # The source document sorts events on updatedAt though the OpenAPI omits it (API.md).
    assert "updatedAt" in ALL_SPECS["event"].attribute_by_wire


# -- indexes against brute force -------------------------------------------------------------

operations = st.lists(
    st.tuples(
        st.sampled_from(("insert", "update", "delete")),
        st.integers(1, 12),
        st.none() | st.integers(1, 4),
        st.sampled_from(("a@x.com", "B@x.com", "b@X.com", "c@x.com")),
    ),
    max_size=40,
)


@given(operations)
def test_indexes_stay_right_through_any_writes(ops: list[tuple[str, int, int | None, str]]) -> None:
    store = _store()
    store.table("task").reverse_index("prospect")  # built before the writes: kept up to date
    store.table("prospect").value_index("emails")
    for op, id_, target, email in ops:
        if op == "insert":
            store.insert("task", {}, {"prospect": target})
            store.insert("prospect", {"emails": [email]})
        elif op == "update" and store.get("task", id_) is not None:
            store.update("task", id_, relationships={"prospect": target})
            store.update("prospect", id_, {"emails": [email, "z@x.com"]})
        elif op == "delete":
            store.delete("task", id_)
            store.delete("prospect", id_)
    for target in range(1, 5):
        expected = sorted(
            r["id"] for r in store.table("task") if r["relationships"].get("prospect") == target
        )
        assert store.referencing("task", "prospect", target) == expected
    for email in ("a@x.com", "b@x.com", "z@x.com"):
        holders = {
            r["id"]
            for r in store.table("prospect")
            if email in [e.lower() for e in r["attributes"]["emails"]]
        }
        assert store.find_by_value("prospect", "emails", email.upper()) == holders


# -- seeding ---------------------------------------------------------------------------------


def _tables(store: Store) -> dict[str, dict[int, Any]]:
    return {type_: dict(table.records) for type_, table in store.tables.items() if len(table)}


def test_the_same_seed_gives_the_same_records_and_another_seed_others() -> None:
    first, second, other = _store(), _store(), _store()
    seed_store(first, 300, random_seed=1)
    seed_store(second, 300, random_seed=1)
    seed_store(other, 300, random_seed=2)
    assert _tables(first) == _tables(second)
    assert _tables(first)["prospect"] != _tables(other)["prospect"]


def test_seed_counts_follow_the_plan() -> None:
    store = _store()
    plan = seed_store(store, 2000)
    assert plan == SeedPlan.from_size(2000)
    counts = {t: len(table) for t, table in store.tables.items()}
    assert counts["prospect"] == 2000
    assert counts["account"] == plan.accounts == 100
    assert counts["user"] == plan.users + 1  # the acting user comes on top
    assert counts["mailbox"] == plan.users + 1
    assert counts["sequenceStep"] == plan.sequences * plan.steps_per_sequence
    for type_, expected in [
        ("sequenceState", plan.sequence_states),
        ("task", plan.tasks),
        ("call", plan.calls),
        ("mailing", plan.mailings),
        ("event", plan.events),
    ]:
        assert counts[type_] == expected > 0


def test_seeded_emails_are_unique_and_no_prospect_is_enrolled_twice() -> None:
    # That every relationship resolves, for every type, is tests/sandbox/test_seed.py's.
    store = _store()
    seed_store(store, 1500, random_seed=9)
    emails = [e for p in store.table("prospect") for e in p["attributes"]["emails"]]
    assert len(emails) == len(set(emails)) == 1500
    states = store.table("sequenceState")
    pairs = [(s["relationships"]["prospect"], s["relationships"]["sequence"]) for s in states]
    assert len(pairs) == len(set(pairs))  # no prospect enrolled twice in a sequence


def test_every_store_has_the_acting_user_and_mailbox() -> None:
    store = _store()
    seed_store(store, 0)
    assert store.get("user", 1)["attributes"]["email"] == "admin@example.com"  # type: ignore[index]
    assert store.get("mailbox", 1)["relationships"]["user"] == 1  # type: ignore[index]
    assert sum(len(t) for t in store.tables.values()) == 2


@pytest.mark.slow
def test_a_hundred_thousand_prospects_seed_with_their_related_records() -> None:
    # How fast is a benchmark's business (benchmarks/bench_sandbox.py), not a test's.
    store = _store()
    seed_store(store, 100_000)
    total = sum(len(t) for t in store.tables.values())
    assert store.count("prospect") == 100_000
    assert total > 340_000  # every collection type around them (the proportions in seed.py)
