"""What a seed holds: :class:`SeedPlan` (how many records of each type) and :class:`SeedProfile`.

The proportions of :meth:`SeedPlan.from_size` are tabled in :mod:`.seed`.
"""

from __future__ import annotations

import enum

import attrs

__all__ = ["SeedPlan", "SeedProfile"]


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
