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

import enum
import gc
import random

import attrs

from .seed_activity import seed_activity
from .seed_core import Seeding, make_record
from .seed_org import seed_org
from .store import Store
from .times import format_epoch_ms

__all__ = ["SeedPlan", "SeedProfile", "seed_base", "seed_store"]

_BASE_STAMP = format_epoch_ms(1_704_067_200_000)  # fixed, so that equal seeds give equal stores


class SeedProfile(enum.Enum):
    """Named seeds: ``Sandbox(seed=SeedProfile.minimal)``, ``sandbox serve --seed-profile``."""

    #: one or two records of every collection type (two prospects), for tests that need little
    minimal = "minimal"


def _clamp(value: int, low: int, high: int) -> int:
    return min(max(value, low), high)


@attrs.frozen(kw_only=True)
class SeedPlan:
    """How many records of each seeded type (the acting user and mailbox come on top).

    :meth:`from_size` and :meth:`minimal` make the two plans the sandbox uses; the types not
    named here (stages, personas, ...) are reference data, all of their rows unless
    ``reference_limit`` keeps the first few.
    """

    prospects: int = 0
    accounts: int = 0
    users: int = 0
    sequences: int = 0
    steps_per_sequence: int = 3
    sequence_states: int = 0
    tasks: int = 0
    calls: int = 0
    mailings: int = 0
    events: int = 0
    teams: int = 0
    opportunities: int = 0
    email_addresses: int = 0
    phone_numbers: int = 0
    prospect_notes: int = 0
    account_notes: int = 0
    products: int = 0
    purchases: int = 0
    #: templates on top of the one each email step gets
    templates: int = 0
    snippets: int = 0
    recipients: int = 0
    favorites: int = 0
    mail_aliases: int = 0
    kaia_recordings: int = 0
    audit_logs: int = 0
    batches: int = 0
    compliance_requests: int = 0
    #: reference rows of each kind (stages, profiles, ...): None for all, else at least 2
    reference_limit: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(2))
    )

    @classmethod
    def from_size(cls, prospects: int) -> SeedPlan:
        """A mid-size org around ``prospects`` prospects (the proportions in the module doc)."""
        n = max(prospects, 0)
        if not n:
            return cls()
        users = _clamp(n // 2000, 4, 200)
        accounts = max(1, n // 20)
        opportunities = max(1, n // 50)
        return cls(
            prospects=n,
            accounts=accounts,
            users=users,
            sequences=_clamp(n // 5000, 2, 50),
            sequence_states=n // 10,
            tasks=n // 4,
            calls=n // 10,
            mailings=n // 4,
            events=n // 4,
            teams=_clamp(users // 6, 2, 30),
            opportunities=opportunities,
            email_addresses=n,
            phone_numbers=n // 3,
            prospect_notes=n // 20,
            account_notes=max(1, accounts // 4),
            products=_clamp(n // 2000, 3, 50),
            purchases=max(1, accounts // 4),
            templates=_clamp(n // 1000, 2, 200),
            snippets=_clamp(users * 2, 2, 200),
            recipients=max(1, n // 50),
            favorites=users * 3,
            mail_aliases=max(1, users // 4),
            kaia_recordings=max(1, opportunities // 4),
            audit_logs=max(2, n // 200),
            batches=_clamp(users // 5, 1, 20),
            compliance_requests=max(1, n // 20_000),
        )

    @classmethod
    def minimal(cls) -> SeedPlan:
        """One or two records of every collection type."""
        return cls(
            prospects=2,
            accounts=1,
            users=1,
            sequences=1,
            steps_per_sequence=2,
            sequence_states=1,
            tasks=2,
            calls=1,
            mailings=2,
            events=2,
            teams=1,
            opportunities=1,
            email_addresses=2,
            phone_numbers=1,
            prospect_notes=1,
            account_notes=1,
            products=1,
            purchases=1,
            templates=1,
            snippets=1,
            recipients=1,
            favorites=1,
            mail_aliases=1,
            kaia_recordings=1,
            audit_logs=1,
            batches=1,
            compliance_requests=1,
            reference_limit=2,
        )

    @classmethod
    def for_seed(cls, seed: int | SeedProfile | SeedPlan | None) -> SeedPlan:
        """The plan a sandbox's ``seed`` option names (None: an empty org)."""
        if isinstance(seed, SeedPlan):
            return seed
        if isinstance(seed, SeedProfile):
            return cls.minimal()
        return cls.from_size(seed or 0)

    @property
    def is_empty(self) -> bool:
        """True when the plan seeds nothing beyond the acting user and mailbox."""
        return self.prospects <= 0


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
