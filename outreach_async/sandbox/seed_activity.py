"""The first seeding pass: users, accounts, prospects, sequences and the activity around them.

Users with their mailboxes, stages, personas, task priorities, call dispositions and purposes,
accounts, prospects, sequences with their steps, sequence states, tasks, calls, mailings and
events (which carry ``updatedAt``, as the common patterns' events example does). It draws from
its RNG in a fixed order, so a random seed gives the same records from one release to the next;
the organisation around them (:mod:`.seed_org`) draws from an RNG of its own.
"""

from __future__ import annotations

from .seed_core import Seeding
from .seed_words import (
    EVENT_NAMES,
    FIRST,
    INDUSTRIES,
    LAST,
    MAILING_STATES,
    PERSONAS,
    STAGES,
    STATE_WEIGHTS,
    STEP_TYPES,
    SUFFIXES,
    TAGS,
    TASK_ACTIONS,
    TITLES,
    WORDS,
)

__all__ = ["seed_activity"]


def seed_activity(seeding: Seeding) -> None:
    """Run the pass (the acting user, id 1, must exist already)."""
    seeding.ids["user"] = [1]
    _users(seeding)
    _reference(seeding)
    _accounts(seeding)
    _prospects(seeding)
    _sequences(seeding)
    _sequence_states(seeding)
    _tasks(seeding)
    _calls(seeding)
    _mailings(seeding)
    _events(seeding)


def _reference(seeding: Seeding) -> None:
    limit = seeding.plan.reference_limit
    seeding.named(
        "stage", ({"name": n, "order": i + 1, "color": "#3b82f6"} for i, n in _first(STAGES, limit))
    )
    seeding.named(
        "persona", ({"name": n, "description": f"{n} persona"} for _, n in _first(PERSONAS, limit))
    )
    priorities = _first(("High", "Normal", "Low"), limit)
    seeding.named("taskPriority", ({"name": n, "weight": 3 - i} for i, n in priorities))
    dispositions = _first(("Meeting Booked", "Left Voicemail", "No Answer"), limit)
    seeding.named(
        "callDisposition",
        (
            {"name": n, "order": i + 1, "outcome": "Answered" if i == 0 else "Not Answered"}
            for i, n in dispositions
        ),
    )
    purposes = _first(("Prospecting", "Follow Up", "Demo"), limit)
    seeding.named("callPurpose", ({"name": n, "order": i + 1} for i, n in purposes))


def _first(names: tuple[str, ...], limit: int | None) -> list[tuple[int, str]]:
    return list(enumerate(names[:limit]))


def _users(seeding: Seeding) -> None:
    rng = seeding.rng
    for i in range(seeding.plan.users):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first.lower()}.{last.lower()}{i}@sandbox.example.com"
        attributes = {
            "email": email,
            "firstName": first,
            "lastName": last,
            "name": f"{first} {last}",
            "username": email.split("@")[0],
            "locked": False,
            "title": rng.choice(TITLES),
        }
        user = seeding.add("user", attributes, {})
        mailbox = {"email": email, "userId": user, "sendDisabled": False}
        seeding.add("mailbox", mailbox, {"user": user})


def _accounts(seeding: Seeding) -> None:
    rng, users = seeding.rng, seeding.ids["user"]
    for i in range(seeding.plan.accounts):
        name = f"{rng.choice(WORDS)} {rng.choice(SUFFIXES)} {i + 1}"
        domain = name.lower().replace(" ", "") + ".example.com"
        attributes = {
            "name": name,
            "domain": domain,
            "named": True,
            "industry": rng.choice(INDUSTRIES),
            "numberOfEmployees": rng.randrange(5, 20_000),
            "tags": rng.sample(TAGS, rng.randrange(0, 3)),
        }
        seeding.add("account", attributes, {"owner": rng.choice(users)})


def _prospects(seeding: Seeding) -> None:
    # The hot loop of a large seed: no helper calls per record beyond the RNG's.
    rng, randrange, choice = seeding.rng, seeding.rng.randrange, seeding.rng.choice
    accounts, users = seeding.ids.get("account", []), seeding.ids["user"]
    stages, personas = seeding.ids["stage"], seeding.ids["persona"]
    table, stamps = seeding.store.table("prospect"), seeding.stamps
    ids = seeding.ids.setdefault("prospect", [])
    for i in range(seeding.plan.prospects):
        first, last = choice(FIRST), choice(LAST)
        created, updated = stamps()
        attributes = {
            "firstName": first,
            "lastName": last,
            "name": f"{first} {last}",
            "emails": [f"{first.lower()}.{last.lower()}.{i}@prospect.example.com"],
            "title": choice(TITLES),
            "company": choice(WORDS),
            "tags": [choice(TAGS)] if randrange(3) == 0 else [],
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
        table.add({"id": id_, "attributes": attributes, "relationships": relationships})
        ids.append(id_)


def _sequences(seeding: Seeding) -> None:
    rng, plan = seeding.rng, seeding.plan
    for i in range(plan.sequences):
        attributes = {
            "name": f"Sequence {i + 1}",
            "enabled": True,
            "locked": False,
            "sequenceType": "interval",
            "shareType": "shared",
            "description": "Seeded",
            "sequenceStepCount": plan.steps_per_sequence,
        }
        sequence = seeding.add("sequence", attributes, {"owner": rng.choice(seeding.ids["user"])})
        for order in range(1, plan.steps_per_sequence + 1):
            step_type = rng.choice(STEP_TYPES)
            step = {
                "order": order,
                "stepType": step_type,
                "interval": 1440 * order,
                "displayName": f"Step #{order} ({step_type})",
            }
            seeding.add("sequenceStep", step, {"sequence": sequence})


def _sequence_states(seeding: Seeding) -> None:
    rng, prospects = seeding.rng, seeding.ids.get("prospect", [])
    sequences, wanted = seeding.ids.get("sequence", []), seeding.plan.sequence_states
    states = [s for s, w in STATE_WEIGHTS for _ in range(w)]
    steps = seeding.store.table("sequenceStep").records
    prospect_records = seeding.store.table("prospect").records
    stride = max(len(prospects) // max(wanted, 1), 1)
    for i in range(min(wanted, len(prospects))):
        prospect = prospects[i * stride]  # each prospect once: never enrolled twice
        sequence = rng.choice(sequences)
        step = next(s for s in steps.values() if s["relationships"]["sequence"] == sequence)
        mailbox = rng.choice(seeding.ids["mailbox"]) if "mailbox" in seeding.ids else 1
        attributes = {
            "state": rng.choice(states),
            "openCount": rng.randrange(5),
            "clickCount": rng.randrange(3),
            "replyCount": 0,
        }
        relationships = {
            "prospect": prospect,
            "sequence": sequence,
            "sequenceStep": step["id"],
            "mailbox": mailbox,
            "account": prospect_records[prospect]["relationships"]["account"],
        }
        seeding.add("sequenceState", attributes, relationships)


def _tasks(seeding: Seeding) -> None:
    rng, prospects = seeding.rng, seeding.ids.get("prospect", [])
    records = seeding.store.table("prospect").records
    for _ in range(seeding.plan.tasks):
        prospect = rng.choice(prospects)
        done = rng.randrange(3) == 0
        created, _ = seeding.stamps()
        attributes = {
            "action": rng.choice(TASK_ACTIONS),
            "taskType": "manual",
            "state": "complete" if done else "incomplete",
            "completed": done,
            "completedAt": created if done else None,
            "dueAt": created,
            "note": "Follow up" if rng.randrange(2) else None,
        }
        relationships = {
            "prospect": prospect,
            "subject": prospect,
            "owner": rng.choice(seeding.ids["user"]),
            "account": records[prospect]["relationships"]["account"],
            "taskPriority": rng.choice(seeding.ids["taskPriority"]),
        }
        seeding.add("task", attributes, relationships)


def _calls(seeding: Seeding) -> None:
    rng, prospects = seeding.rng, seeding.ids.get("prospect", [])
    for _ in range(seeding.plan.calls):
        answered = rng.randrange(2) == 0
        attributes = {
            "direction": rng.choice(("inbound", "outbound")),
            "outcome": "Answered" if answered else "Not Answered",
            "state": "completed",
            "note": "Seeded call",
        }
        relationships = {
            "prospect": rng.choice(prospects),
            "user": rng.choice(seeding.ids["user"]),
            "callDisposition": rng.choice(seeding.ids["callDisposition"]),
            "callPurpose": rng.choice(seeding.ids["callPurpose"]),
        }
        seeding.add("call", attributes, relationships)


def _mailings(seeding: Seeding) -> None:
    rng, prospects = seeding.rng, seeding.ids.get("prospect", [])
    mailboxes = seeding.ids.get("mailbox", [1])
    for i in range(seeding.plan.mailings):
        attributes = {
            "subject": f"Quick question #{i + 1}",
            "state": rng.choice(MAILING_STATES),
            "mailingType": rng.choice(("sequence", "single")),
            "bodyHtml": "<p>Hello from the sandbox.</p>",
            "openCount": rng.randrange(4),
            "clickCount": rng.randrange(2),
        }
        relationships = {"prospect": rng.choice(prospects), "mailbox": rng.choice(mailboxes)}
        seeding.add("mailing", attributes, relationships)


def _events(seeding: Seeding) -> None:
    rng, prospects = seeding.rng, seeding.ids.get("prospect", [])
    for _ in range(seeding.plan.events):
        created, _ = seeding.stamps()
        attributes = {
            "name": rng.choice(EVENT_NAMES),
            "eventAt": created,
            "createdAt": created,
            "updatedAt": created,
            "payload": {},
        }
        relationships = {"prospect": rng.choice(prospects), "user": rng.choice(seeding.ids["user"])}
        seeding.add("event", attributes, relationships)
