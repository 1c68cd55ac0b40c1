"""Deterministic, realistic seed data, built fast enough for 100,000 prospects in a few seconds.

Records are written as raw wire-form dicts straight into the tables (no per-record validation):
the generator is the only writer and builds them right. The same ``random_seed`` gives the same
records, ids and timestamps on every run, so tests and benchmarks can rely on them.

Every sandbox has the acting user (id 1, ``admin@example.com``, the requester in the common
patterns' compliance example) and that user's mailbox (id 1, the mailbox the common patterns
enroll prospects with). A seed of ``n`` adds ``n`` prospects and, in proportion, accounts, users
and their mailboxes, stages, personas, sequences with their steps, sequence states, tasks, calls,
mailings and events (which carry ``updatedAt``, as the common patterns' events example does).
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable
from typing import Any

import attrs

from .query import Record
from .store import Store
from .times import format_epoch_ms

__all__ = ["SeedPlan", "seed_base", "seed_store"]

_ANCHOR_MS = 1_704_067_200_000  # 2024-01-01T00:00:00.000Z: seeded history starts here
_YEAR_MS = 365 * 24 * 3600 * 1000
_DAY_MS = 24 * 3600 * 1000

_FIRST = (
    "Sally",
    "Katie",
    "Omar",
    "Priya",
    "Liam",
    "Noah",
    "Emma",
    "Ava",
    "Mia",
    "Lucas",
    "Ethan",
    "Zoe",
    "Chloe",
    "Mateo",
    "Aria",
    "Leo",
    "Nora",
    "Ivy",
    "Hugo",
    "Maya",
    "Elena",
    "Kai",
    "Jonas",
    "Sofia",
    "Amir",
    "Lena",
    "Theo",
    "Yuki",
    "Rosa",
    "Felix",
)
_LAST = (
    "Smith",
    "Jones",
    "Patel",
    "Garcia",
    "Kim",
    "Nguyen",
    "Brown",
    "Silva",
    "Rossi",
    "Müller",
    "Dubois",
    "Cohen",
    "Tanaka",
    "Ali",
    "Novak",
    "Larsen",
    "Okafor",
    "Singh",
    "Haddad",
    "Moreau",
    "Weber",
    "Costa",
    "Ivanova",
    "Schmidt",
    "Lopez",
    "Chen",
)
_TITLES = (
    "CEO",
    "CTO",
    "CFO",
    "VP Sales",
    "Head of Marketing",
    "Account Executive",
    "Engineering Manager",
    "Sales Director",
    "Operations Lead",
    "Product Manager",
)
_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Wonka",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Aperture",
    "Gringotts",
    "Monarch",
    "Oscorp",
    "Massive",
    "Dynamic",
    "Pied",
    "Piper",
)
_SUFFIXES = ("Inc", "Labs", "Group", "Systems", "Partners", "Co")
_INDUSTRIES = ("Software", "Finance", "Healthcare", "Retail", "Manufacturing", "Education")
_TAGS = ("vip", "inbound", "webinar", "conference", "partner", "churn-risk", "expansion")
_STAGES = ("Cold", "Approaching", "Replied", "Interested", "Not Interested", "Unresponsive")
_PERSONAS = ("Executive", "Decision Maker", "Champion", "Influencer", "End User")
_STEP_TYPES = ("auto_email", "call", "manual_email", "task")
_TASK_ACTIONS = ("action_item", "call", "email", "in_person")
_EVENT_NAMES = (
    "prospect_created",
    "prospect_updated",
    "mailing_delivered",
    "mailing_opened",
    "call_completed",
    "task_completed",
    "sequence_state_finished",
)
_STATE_WEIGHTS = (("active", 50), ("paused", 10), ("finished", 30), ("pending", 5), ("bounced", 5))
_MAILING_STATES = ("delivered", "opened", "replied", "bounced", "scheduled", "drafted")


@attrs.frozen
class SeedPlan:
    """How many records of each seeded type (the acting user and mailbox come on top)."""

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

    @classmethod
    def from_size(cls, prospects: int) -> SeedPlan:
        """A realistic mix around ``prospects`` prospects."""
        n = max(prospects, 0)
        return cls(
            prospects=n,
            accounts=max(1, n // 20) if n else 0,
            users=min(max(4, n // 2000), 200) if n else 0,
            sequences=min(max(2, n // 5000), 50) if n else 0,
            sequence_states=n // 10,
            tasks=n // 4,
            calls=n // 10,
            mailings=n // 4,
            events=n // 4,
        )


class _Clock:
    """Seeded timestamps within the year after the anchor."""

    def __init__(self, rng: random.Random) -> None:
        self._randrange = rng.randrange

    def pair(self) -> tuple[str, str]:
        created = _ANCHOR_MS + self._randrange(_YEAR_MS)
        updated = created + self._randrange(30 * _DAY_MS)
        return format_epoch_ms(created), format_epoch_ms(updated)


def _record(id_: int, attributes: dict[str, Any], relationships: dict[str, Any]) -> Record:
    return {"id": id_, "attributes": attributes, "relationships": relationships}


def seed_base(store: Store) -> None:
    """The acting user (id 1) and that user's mailbox (id 1), if the store lacks them."""
    stamp = format_epoch_ms(_ANCHOR_MS)  # fixed, so that equal seeds give equal stores
    if store.get("user", 1) is None:
        attributes = {
            "email": "admin@example.com",
            "firstName": "Sandbox",
            "lastName": "Admin",
            "name": "Sandbox Admin",
            "username": "admin",
            "locked": False,
            "title": "Administrator",
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        store.table("user").add(_record(1, attributes, {}))
    if store.get("mailbox", 1) is None:
        attributes = {
            "email": "admin@example.com",
            "userId": 1,
            "sendDisabled": False,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        store.table("mailbox").add(_record(1, attributes, {"user": 1}))


def seed_store(store: Store, prospects: int, random_seed: int = 0) -> SeedPlan:
    """Fill ``store`` with the base records and a :meth:`SeedPlan.from_size` mix; returns it."""
    plan = SeedPlan.from_size(prospects)
    seed_base(store)
    if prospects <= 0:
        return plan
    # Hundreds of thousands of new dicts would trigger full collections that walk them all
    # again and again; none of them can be garbage, so the collector waits until the end.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _Seeder(store, plan, random.Random(random_seed)).run()
    finally:
        if collecting:
            gc.enable()
    return plan


class _Seeder:
    def __init__(self, store: Store, plan: SeedPlan, rng: random.Random) -> None:
        self.store = store
        self.plan = plan
        self.rng = rng
        self.clock = _Clock(rng)
        self.user_ids: list[int] = [1]
        self.ids: dict[str, list[int]] = {}

    def run(self) -> None:
        self._users()
        self._named("stage", _STAGES, lambda i, name: {"order": i + 1, "color": "#3b82f6"})
        self._named("persona", _PERSONAS, lambda i, name: {"description": f"{name} persona"})
        self._named("taskPriority", ("High", "Normal", "Low"), lambda i, n: {"weight": 3 - i})
        self._named(
            "callDisposition",
            ("Meeting Booked", "Left Voicemail", "No Answer"),
            lambda i, n: {"order": i + 1, "outcome": "Answered" if i == 0 else "Not Answered"},
        )
        self._named(
            "callPurpose", ("Prospecting", "Follow Up", "Demo"), lambda i, n: {"order": i + 1}
        )
        self._accounts()
        self._prospects()
        self._sequences()
        self._sequence_states()
        self._tasks()
        self._calls()
        self._mailings()
        self._events()

    def _add(self, type_: str, attributes: dict[str, Any], relationships: dict[str, Any]) -> int:
        table = self.store.table(type_)
        id_ = table.next_id
        created, updated = self.clock.pair()
        attributes.setdefault("createdAt", created)
        attributes.setdefault("updatedAt", updated)
        table.add(_record(id_, attributes, relationships))
        self.ids.setdefault(type_, []).append(id_)
        return id_

    def _named(
        self, type_: str, names: tuple[str, ...], extra: Callable[[int, str], dict[str, Any]]
    ) -> None:
        for i, name in enumerate(names):
            self._add(type_, {"name": name, **extra(i, name)}, {})

    def _users(self) -> None:
        rng = self.rng
        for i in range(self.plan.users):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            email = f"{first.lower()}.{last.lower()}{i}@sandbox.example.com"
            user = self._add(
                "user",
                {
                    "email": email,
                    "firstName": first,
                    "lastName": last,
                    "name": f"{first} {last}",
                    "username": email.split("@")[0],
                    "locked": False,
                    "title": rng.choice(_TITLES),
                },
                {},
            )
            self._add(
                "mailbox", {"email": email, "userId": user, "sendDisabled": False}, {"user": user}
            )
            self.user_ids.append(user)

    def _accounts(self) -> None:
        rng = self.rng
        for i in range(self.plan.accounts):
            name = f"{rng.choice(_WORDS)} {rng.choice(_SUFFIXES)} {i + 1}"
            domain = name.lower().replace(" ", "") + ".example.com"
            self._add(
                "account",
                {
                    "name": name,
                    "domain": domain,
                    "named": True,
                    "industry": rng.choice(_INDUSTRIES),
                    "numberOfEmployees": rng.randrange(5, 20_000),
                    "tags": rng.sample(_TAGS, rng.randrange(0, 3)),
                },
                {"owner": rng.choice(self.user_ids)},
            )

    def _prospects(self) -> None:
        rng, randrange, choice = self.rng, self.rng.randrange, self.rng.choice
        accounts, users = self.ids.get("account", []), self.user_ids
        stages, personas = self.ids["stage"], self.ids["persona"]
        table, pair = self.store.table("prospect"), self.clock.pair
        ids = self.ids.setdefault("prospect", [])
        for i in range(self.plan.prospects):
            first, last = choice(_FIRST), choice(_LAST)
            created, updated = pair()
            attributes = {
                "firstName": first,
                "lastName": last,
                "name": f"{first} {last}",
                "emails": [f"{first.lower()}.{last.lower()}.{i}@prospect.example.com"],
                "title": choice(_TITLES),
                "company": choice(_WORDS),
                "tags": [choice(_TAGS)] if randrange(3) == 0 else [],
                "openCount": randrange(12),
                "clickCount": randrange(5),
                "replyCount": randrange(3),
                "engagedScore": round(rng.random() * 100, 1),
                "externalSource": "outreach-api",
                "createdAt": created,
                "updatedAt": updated,
            }
            relationships = {
                "account": choice(accounts) if accounts else None,
                "owner": choice(users),
                "stage": choice(stages),
                "persona": choice(personas),
            }
            id_ = table.next_id
            table.add(_record(id_, attributes, relationships))
            ids.append(id_)

    def _sequences(self) -> None:
        rng = self.rng
        for i in range(self.plan.sequences):
            sequence = self._add(
                "sequence",
                {
                    "name": f"Sequence {i + 1}",
                    "enabled": True,
                    "locked": False,
                    "sequenceType": "interval",
                    "shareType": "shared",
                    "description": "Seeded",
                    "sequenceStepCount": self.plan.steps_per_sequence,
                },
                {"owner": rng.choice(self.user_ids)},
            )
            for order in range(1, self.plan.steps_per_sequence + 1):
                step_type = rng.choice(_STEP_TYPES)
                self._add(
                    "sequenceStep",
                    {
                        "order": order,
                        "stepType": step_type,
                        "interval": 1440 * order,
                        "displayName": f"Step #{order} ({step_type})",
                    },
                    {"sequence": sequence},
                )

    def _sequence_states(self) -> None:
        rng, prospects = self.rng, self.ids.get("prospect", [])
        sequences = self.ids.get("sequence", [])
        states = [s for s, w in _STATE_WEIGHTS for _ in range(w)]
        steps = self.store.table("sequenceStep").records
        for i in range(min(self.plan.sequence_states, len(prospects))):
            prospect = prospects[i * max(len(prospects) // max(self.plan.sequence_states, 1), 1)]
            sequence = rng.choice(sequences)
            step = next(s for s in steps.values() if s["relationships"]["sequence"] == sequence)
            mailbox = rng.choice(self.ids["mailbox"]) if "mailbox" in self.ids else 1
            account = self.store.table("prospect").records[prospect]["relationships"]["account"]
            self._add(
                "sequenceState",
                {
                    "state": rng.choice(states),
                    "openCount": rng.randrange(5),
                    "clickCount": rng.randrange(3),
                    "replyCount": 0,
                },
                {
                    "prospect": prospect,
                    "sequence": sequence,
                    "sequenceStep": step["id"],
                    "mailbox": mailbox,
                    "account": account,
                },
            )

    def _tasks(self) -> None:
        rng, prospects = self.rng, self.ids.get("prospect", [])
        records = self.store.table("prospect").records
        for _ in range(self.plan.tasks):
            prospect = rng.choice(prospects)
            done = rng.randrange(3) == 0
            created, _ = self.clock.pair()
            attributes = {
                "action": rng.choice(_TASK_ACTIONS),
                "taskType": "manual",
                "state": "complete" if done else "incomplete",
                "completed": done,
                "completedAt": created if done else None,
                "dueAt": created,
                "note": "Follow up" if rng.randrange(2) else None,
            }
            self._add(
                "task",
                attributes,
                {
                    "prospect": prospect,
                    "subject": prospect,
                    "owner": rng.choice(self.user_ids),
                    "account": records[prospect]["relationships"]["account"],
                    "taskPriority": rng.choice(self.ids["taskPriority"]),
                },
            )

    def _calls(self) -> None:
        rng, prospects = self.rng, self.ids.get("prospect", [])
        for _ in range(self.plan.calls):
            answered = rng.randrange(2) == 0
            self._add(
                "call",
                {
                    "direction": rng.choice(("inbound", "outbound")),
                    "outcome": "Answered" if answered else "Not Answered",
                    "state": "completed",
                    "note": "Seeded call",
                },
                {
                    "prospect": rng.choice(prospects),
                    "user": rng.choice(self.user_ids),
                    "callDisposition": rng.choice(self.ids["callDisposition"]),
                    "callPurpose": rng.choice(self.ids["callPurpose"]),
                },
            )

    def _mailings(self) -> None:
        rng, prospects = self.rng, self.ids.get("prospect", [])
        mailboxes = self.ids.get("mailbox", [1])
        for i in range(self.plan.mailings):
            state = rng.choice(_MAILING_STATES)
            self._add(
                "mailing",
                {
                    "subject": f"Quick question #{i + 1}",
                    "state": state,
                    "mailingType": rng.choice(("sequence", "single")),
                    "bodyHtml": "<p>Hello from the sandbox.</p>",
                    "openCount": rng.randrange(4),
                    "clickCount": rng.randrange(2),
                },
                {"prospect": rng.choice(prospects), "mailbox": rng.choice(mailboxes)},
            )

    def _events(self) -> None:
        rng, prospects = self.rng, self.ids.get("prospect", [])
        for _ in range(self.plan.events):
            created, _ = self.clock.pair()
            self._add(
                "event",
                {
                    "name": rng.choice(_EVENT_NAMES),
                    "eventAt": created,
                    "createdAt": created,
                    "updatedAt": created,
                    "payload": {},
                },
                {"prospect": rng.choice(prospects), "user": rng.choice(self.user_ids)},
            )
