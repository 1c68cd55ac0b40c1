"""The second seeding pass: the organisation around the prospects, so every collection has records.

Org structure (profiles, roles with their hierarchy, duties, teams with their users), sales
process (opportunity stages, rulesets on the sequences, task purposes and dispositions), content
(templates used by the email steps through sequence templates, snippets, content categories with
their memberships and owning teams), opportunities with their prospects and roles, the prospects'
email addresses and phone numbers, notes, products and purchases; then :mod:`.seed_history`
(engagement, history, settings). Runs after :mod:`.seed_activity` with its own RNG.

Relationships hold together: every id points at a seeded record, and both sides of a stored
to-many pair agree (``opportunity.prospects`` / ``prospect.opportunities``, ``team.users`` /
``user.teams``, ``contentCategory.teams`` / ``team.contentCategories``, ``role.childRoles`` /
``role.parentRole``, ``sequence.contentCategoryMemberships`` / ``membership.content``,
``account.favorites`` / ``favorite.target``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .seed_core import ANCHOR_MS, DAY_MS, Seeding, make_record
from .seed_history import seed_engagement, seed_history, seed_settings
from .seed_words import (
    CONTENT_CATEGORIES,
    DUTIES,
    FORECAST,
    LEAD_SOURCES,
    NOTE_TYPES,
    OPPORTUNITY_STAGES,
    PHONE_TYPES,
    PRODUCTS,
    PROFILES,
    ROLES,
    RULESETS,
    TASK_DISPOSITIONS,
    TASK_PURPOSES,
    TEAM_NAMES,
    TEMPLATE_SUBJECTS,
)
from .times import format_epoch_ms

__all__ = ["seed_org"]

_EMAIL_STEPS = frozenset({"auto_email", "manual_email"})


def seed_org(seeding: Seeding) -> None:
    """Run the pass over what :func:`.seed_activity.seed_activity` made (``seeding.ids``)."""
    _reference(seeding)
    _people(seeding)
    _content(seeding)
    _opportunities(seeding)
    _contacts(seeding)
    _notes_and_purchases(seeding)
    seed_engagement(seeding)
    seed_history(seeding)
    seed_settings(seeding)


def _limited(rows: Sequence[Any], seeding: Seeding) -> Sequence[Any]:
    return rows[: seeding.plan.reference_limit]


# -- reference data ----------------------------------------------------------------------------


def _reference(seeding: Seeding) -> None:
    stages = _limited(OPPORTUNITY_STAGES, seeding)
    seeding.named(
        "opportunityStage",
        (
            {"name": name, "order": i + 1, "isClosed": closed, "color": "#10b981"}
            for i, (name, closed, _) in enumerate(stages)
        ),
    )
    seeding.named(
        "duty", ({"symbolicName": s, "dutyType": t} for s, t in _limited(DUTIES, seeding))
    )
    for i, (name, task_type) in enumerate(_limited(TASK_PURPOSES, seeding)):
        seeding.add("taskPurpose", {"name": name, "order": i + 1, "taskType": task_type}, {})
    for i, (name, task_type) in enumerate(_limited(TASK_DISPOSITIONS, seeding)):
        row = {"name": name, "order": i + 1, "taskType": task_type, "value": name.lower()}
        seeding.add("taskDisposition", row, {})
    stage_ids = seeding.ids["stage"]
    for name in _limited(RULESETS, seeding):
        attributes = {
            "name": name,
            "permitDuplicateProspects": "onlyIfActive",
            "sequenceExclusivity": "all_sequences" if name == "Strict" else "none",
            "includeUnsubscribeLinks": True,
            "autoResumeOotoProspects": False,
        }
        relationships = {
            "owner": 1,
            "startedStage": stage_ids[min(1, len(stage_ids) - 1)],
            "repliedStage": stage_ids[-1],
            "callTaskPriority": seeding.ids["taskPriority"][0],
        }
        seeding.add("ruleset", attributes, relationships)
    rulesets = seeding.ids["ruleset"]
    for i, sequence in enumerate(seeding.ids.get("sequence", [])):
        seeding.relate("sequence", sequence, ruleset=rulesets[i % len(rulesets)])


# -- people: profiles, roles, teams ------------------------------------------------------------


def _people(seeding: Seeding) -> None:
    profiles = [
        seeding.add("profile", {"name": name, "isAdmin": admin, "specialId": name.lower()}, {})
        for name, admin in _limited(PROFILES, seeding)
    ]
    roles: list[int] = []
    for name in _limited(ROLES, seeding):
        parent = roles[-1] if roles else None
        external = name.lower().replace(" ", "-")
        roles.append(seeding.add("role", {"name": name, "externalId": external}, {}))
        seeding.relate("role", roles[-1], parentRole=parent)
        if parent is not None:
            seeding.link("role", parent, "childRoles", roles[-1])
    mailbox_of = {
        seeding.record("mailbox", m)["relationships"]["user"]: m
        for m in seeding.store.table("mailbox").records
    }
    users = seeding.ids["user"]
    for i, user in enumerate(users):
        profile = profiles[0] if user == 1 else profiles[1 + i % (len(profiles) - 1)]
        role = roles[0] if user == 1 else roles[1 + i % (len(roles) - 1)]
        seeding.relate("user", user, profile=profile, role=role, mailbox=mailbox_of.get(user))
        seeding.record("user", user)["relationships"].setdefault("teams", [])
    for i in range(seeding.plan.teams):
        name = TEAM_NAMES[i % len(TEAM_NAMES)] + ("" if i < len(TEAM_NAMES) else f" {i + 1}")
        team = seeding.add("team", {"name": name, "color": "#6366f1"}, {"creator": 1})
        seeding.record("team", team)["relationships"].update(users=[], contentCategories=[])
    teams = seeding.ids.get("team", [])
    for i, user in enumerate(users):
        if teams:  # the acting user leads the first team; the others are spread evenly
            _join(seeding, user, teams[0 if user == 1 else i % len(teams)])


def _join(seeding: Seeding, user: int, team: int) -> None:
    seeding.link("team", team, "users", user)
    seeding.link("user", user, "teams", team)


# -- content: templates, sequence templates, snippets, categories -----------------------------


def _content(seeding: Seeding) -> None:
    rng, users = seeding.rng, seeding.ids["user"]
    email_steps = _email_steps(seeding)
    for i in range(len(email_steps) + seeding.plan.templates):
        subject = TEMPLATE_SUBJECTS[i % len(TEMPLATE_SUBJECTS)].format(company="{{account.name}}")
        attributes = {
            "name": f"Template {i + 1}: {subject}",
            "subject": subject,
            "bodyHtml": "<p>Hi {{first_name}},</p><p>Seeded template.</p>",
            "shareType": "shared",
            "archived": False,
            "trackLinks": True,
            "trackOpens": True,
            "tags": [],
        }
        seeding.add("template", attributes, {"owner": rng.choice(users)})
    templates = seeding.ids.get("template", [])
    for step, template in zip(email_steps, templates, strict=False):
        relationships = {"sequenceStep": step, "template": template, "creator": 1}
        seeding.add("sequenceTemplate", {"enabled": True, "isReply": False}, relationships)
    for i in range(seeding.plan.snippets):
        attributes = {
            "name": f"Snippet {i + 1}",
            "bodyHtml": "<p>Happy to share a case study.</p>",
            "shareType": "shared",
            "tags": [],
        }
        seeding.add("snippet", attributes, {"owner": rng.choice(users)})
    _categories(seeding)


def _email_steps(seeding: Seeding) -> list[int]:
    """The email steps, which get templates; the first step becomes one if there is none."""
    records = seeding.store.table("sequenceStep").records
    steps = seeding.ids.get("sequenceStep", [])
    email = [i for i in steps if records[i]["attributes"]["stepType"] in _EMAIL_STEPS]
    if steps and not email:
        first = records[steps[0]]["attributes"]
        first.update(stepType="auto_email", displayName=f"Step #{first['order']} (auto_email)")
        email = [steps[0]]
    return email


def _categories(seeding: Seeding) -> None:
    teams = seeding.ids.get("team", [])
    for i, name in enumerate(_limited(CONTENT_CATEGORIES, seeding)):
        attributes = {
            "name": name,
            "color": "#f59e0b",
            "allowSequences": True,
            "allowTemplates": True,
            "allowSnippets": True,
        }
        category = seeding.add("contentCategory", attributes, {"creator": 1, "teams": []})
        if teams:
            team = teams[i % len(teams)]
            seeding.add(
                "contentCategoryOwnership", {}, {"contentCategory": category, "owner": team}
            )
            seeding.link("contentCategory", category, "teams", team)
            seeding.link("team", team, "contentCategories", category)
    categories = seeding.ids.get("contentCategory", [])
    for i, sequence in enumerate(seeding.ids.get("sequence", [])):
        category = categories[i % len(categories)]
        relationships = {"content": sequence, "contentCategory": category, "creator": 1}
        membership = seeding.add("contentCategoryMembership", {}, relationships)
        seeding.link("sequence", sequence, "contentCategoryMemberships", membership)


# -- opportunities -----------------------------------------------------------------------------


def _opportunities(seeding: Seeding) -> None:
    rng, users = seeding.rng, seeding.ids["user"]
    by_account: dict[int, list[int]] = {}
    for prospect in seeding.store.table("prospect").records.values():
        account = prospect["relationships"].get("account")
        if account is not None:
            by_account.setdefault(account, []).append(prospect["id"])
    accounts = seeding.ids.get("account", [])
    stages = seeding.ids["opportunityStage"]
    for i in range(seeding.plan.opportunities if accounts else 0):
        account = accounts[i % len(accounts)]
        stage_index = rng.randrange(len(stages))
        _, closed, probability = OPPORTUNITY_STAGES[stage_index]
        close = ANCHOR_MS + rng.randrange(540) * DAY_MS
        amount = rng.randrange(5, 500) * 1000
        attributes = {
            "name": f"{seeding.record('account', account)['attributes']['name']} - Deal {i + 1}",
            "amount": amount,
            "amountPrecise": f"{amount}.00",
            "currencyType": "USD",
            "closeDate": format_epoch_ms(close),
            "probability": probability,
            "forecastCategory": FORECAST[-2] if closed else rng.choice(FORECAST[:3]),
            "leadSource": rng.choice(LEAD_SOURCES),
            "opportunityType": rng.choice(("New Business", "Expansion", "Renewal")),
            "nextStep": None if closed else "Schedule the next meeting",
            "tags": [],
        }
        relationships = {
            "account": account,
            "owner": rng.choice(users),
            "creator": 1,
            "opportunityStage": stages[stage_index],
            "stage": stages[stage_index],
            "prospects": [],
        }
        opportunity = seeding.add("opportunity", attributes, relationships)
        _involve(seeding, opportunity, by_account.get(account, []))


def _involve(seeding: Seeding, opportunity: int, candidates: list[int]) -> None:
    """Up to three of the account's prospects, each with a role; the first is primary."""
    rng = seeding.rng
    chosen = rng.sample(candidates, min(len(candidates), rng.randrange(1, 4)))
    for n, prospect in enumerate(chosen):
        seeding.link("opportunity", opportunity, "prospects", prospect)
        seeding.link("prospect", prospect, "opportunities", opportunity)
        role = {"role": "Decision Maker" if n == 0 else "Influencer", "primary": n == 0}
        seeding.add(
            "opportunityProspectRole", role, {"opportunity": opportunity, "prospect": prospect}
        )
    if chosen:
        seeding.relate("opportunity", opportunity, primaryProspect=chosen[0])


# -- the prospects' contact records ------------------------------------------------------------


def _contacts(seeding: Seeding) -> None:
    # One email address per prospect: the largest table after prospects, so it is written
    # straight into its table, stamped with its prospect's timestamps (made with the prospect).
    prospects, records = seeding.ids.get("prospect", []), seeding.store.table("prospect").records
    table = seeding.store.table("emailAddress")
    ids = seeding.ids.setdefault("emailAddress", [])
    for prospect in prospects[: seeding.plan.email_addresses]:
        source = records[prospect]["attributes"]
        attributes = {
            "email": source["emails"][0],
            "emailType": "work",
            "order": 0,
            "status": "valid",
            "createdAt": source["createdAt"],
            "updatedAt": source["updatedAt"],
        }
        id_ = table.next_id
        table.add(make_record(id_, attributes, {"prospect": prospect}))
        ids.append(id_)
    wanted = seeding.plan.phone_numbers
    stride = max(len(prospects) // max(wanted, 1), 1)
    for i in range(min(wanted, len(prospects))):
        prospect = prospects[i * stride]
        number = f"+1555{prospect % 10_000_000:07d}"
        phone_type = PHONE_TYPES[i % len(PHONE_TYPES)]
        source = records[prospect]["attributes"]
        attributes = {
            "number": number,
            "rawNumber": number,
            "countryCode": "US",
            "phoneType": phone_type,
            "order": 0,
            "status": "valid",
            "createdAt": source["createdAt"],
            "updatedAt": source["updatedAt"],
        }
        seeding.add("phoneNumber", attributes, {"prospect": prospect})
        source[f"{phone_type}Phones"] = [number]


# -- notes, products, purchases ----------------------------------------------------------------


def _notes(seeding: Seeding, type_: str, about: str, count: int, message: str) -> None:
    """``count`` notes on random records of type ``about`` (none when there are none)."""
    targets = seeding.ids.get(about, [])
    for _ in range(count if targets else 0):
        note = {"message": message, "noteType": seeding.rng.choice(NOTE_TYPES), "pinned": False}
        seeding.add(type_, note, {about: seeding.rng.choice(targets), "creator": 1})


def _notes_and_purchases(seeding: Seeding) -> None:
    rng, accounts = seeding.rng, seeding.ids.get("account", [])
    _notes(seeding, "prospectNote", "prospect", seeding.plan.prospect_notes, "Spoke about goals.")
    _notes(seeding, "accountNote", "account", seeding.plan.account_notes, "Quarterly review.")
    for i in range(seeding.plan.products):
        name = PRODUCTS[i % len(PRODUCTS)] + ("" if i < len(PRODUCTS) else f" {i + 1}")
        attributes = {
            "name": name,
            "code": f"SKU-{i + 1:04d}",
            "productFamily": "Software",
            "unitOfMeasure": "seat",
            "status": True,
            "deleted": False,
        }
        seeding.add("product", attributes, {"owner": 1, "creator": 1})
    products = seeding.ids.get("product", [])
    for _ in range(seeding.plan.purchases if accounts and products else 0):
        quantity = float(rng.randrange(1, 200))
        attributes = {
            "currency": "USD",
            "totalQuantity": quantity,
            "totalValue": quantity * 1200.0,
            "status": True,
            "source": "crm",
        }
        relationships = {
            "account": rng.choice(accounts),
            "product": rng.choice(products),
            "owner": 1,
        }
        seeding.add("purchase", attributes, relationships)
