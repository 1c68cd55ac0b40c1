"""Deterministic, realistic seed data: a whole organisation, fast enough for 100,000 prospects.

Every sandbox has the acting user (id 1, ``admin@example.com``, the requester in the common
patterns' compliance example) and that user's mailbox (id 1, the mailbox the common patterns
enroll prospects with). ``seed=N`` adds ``N`` prospects and, around them, records of every
collection type the API serves, in the proportions of a mid-size sales org (N = 10,000, the
``sandbox serve`` default, in brackets)::

    prospects                N            one email address each; a phone number for 1 in 3
    accounts                 N/20   (500) prospect notes N/20, account notes 1 per 4 accounts
    opportunities            N/50   (200) on accounts, 1-3 of the account's prospects each,
                                          with a prospect role per prospect; Kaia recordings
                                          for 1 opportunity in 4
    users (+ the acting one) N/2000, 4..200   (5) each with a mailbox, a profile, a role, a team
    teams                    users/6, 2..30   (2) content categories owned by them (5)
    sequences                N/5000, 2..50    (2) 3 steps each, a ruleset, a content category;
                                          a template per email step (sequence templates)
    templates beyond steps   N/1000, 2..200 (10) snippets 2 per user, 2..200 (10)
    sequence states          N/10           one per enrolled prospect
    tasks, mailings, events  N/4 each       calls N/10; sequence mailings use the templates
    recipients               N/50           favorites 3 per user, mail aliases 1 per 4 users
    products                 N/2000, 3..50  purchases 1 per 4 accounts
    audit logs               N/200          finished batches users/5, 1..20 (1-20 items each);
                                          compliance requests N/20000, at least 1 (done)
    reference data           fixed          6 stages, 5 personas, 7 opportunity stages, 3 task
                                          priorities, purposes and dispositions, 3 call
                                          dispositions and purposes, 3 profiles, 4 roles,
                                          8 duties, 2 rulesets, the org settings, 1 import
                                          and 1 webhook (inactive: it never delivers)

``seed=SeedProfile.minimal`` gives one or two records of every type, for tests that need
little. The same ``random_seed`` gives the same records, ids and timestamps on every run;
seeded history spans 2024.
"""

from __future__ import annotations

import gc
import random

from .seed_activity import seed_activity
from .seed_core import Seeding, make_record
from .seed_org import seed_org
from .seed_plan import SeedPlan, SeedProfile
from .store import Store
from .times import format_epoch_ms

__all__ = ["SeedPlan", "SeedProfile", "seed_base", "seed_store"]

_BASE_STAMP = format_epoch_ms(1_704_067_200_000)  # fixed, so that equal seeds give equal stores


def seed_base(store: Store) -> None:
    """The acting user (id 1) and that user's mailbox (id 1), if the store lacks them."""
    if store.get("user", 1) is None:
        attributes = {
            "email": "admin@example.com",
            "firstName": "Sandbox",
            "lastName": "Admin",
            "name": "Sandbox Admin",
            "username": "admin",
            "locked": False,
            "title": "Administrator",
            "createdAt": _BASE_STAMP,
            "updatedAt": _BASE_STAMP,
        }
        store.table("user").add(make_record(1, attributes, {}))
    if store.get("mailbox", 1) is None:
        attributes = {
            "email": "admin@example.com",
            "userId": 1,
            "sendDisabled": False,
            "createdAt": _BASE_STAMP,
            "updatedAt": _BASE_STAMP,
        }
        store.table("mailbox").add(make_record(1, attributes, {"user": 1}))


def seed_store(
    store: Store, seed: int | SeedProfile | SeedPlan | None, random_seed: int = 0
) -> SeedPlan:
    """Fill ``store`` with the base records and the plan ``seed`` names; returns the plan."""
    plan = SeedPlan.for_seed(seed)
    seed_base(store)
    if plan.is_empty:
        return plan
    # Hundreds of thousands of new dicts would trigger full collections that walk them all
    # again and again; none of them can be garbage, so the collector waits until the end.
    collecting = gc.isenabled()
    gc.disable()
    try:
        activity = Seeding(store, plan, random.Random(random_seed))
        seed_activity(activity)
        # The organisation draws from an RNG of its own, so adding to it never changes the
        # prospects, tasks and events a random seed has always given.
        organisation = Seeding(store, plan, random.Random(f"{random_seed}/org"))
        organisation.ids = activity.ids
        seed_org(organisation)
    finally:
        if collecting:
            gc.enable()
    return plan
