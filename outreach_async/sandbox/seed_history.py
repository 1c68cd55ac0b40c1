"""The third part of the organisation's seed: engagement, history and settings.

Templates on the sequence mailings, recipients, favorites (with the accounts' side), mail
aliases, Kaia recordings of opportunities' meetings; audit logs, finished batches with their
items, done compliance requests; the org settings, an inactive webhook and an import.
"""

from __future__ import annotations

import json
from typing import Any

from .seed_core import ANCHOR_MS, DAY_MS, Seeding
from .seed_words import AUDIT_EVENTS
from .times import format_epoch_ms

__all__ = ["seed_engagement", "seed_history", "seed_settings"]


# -- engagement: templates on mailings, recipients, favorites, aliases, recordings -------------


def seed_engagement(seeding: Seeding) -> None:
    rng, users = seeding.rng, seeding.ids["user"]
    templates = seeding.ids.get("template", [])
    mailings = seeding.store.table("mailing").records
    for id_ in seeding.ids.get("mailing", []):
        if templates and mailings[id_]["attributes"]["mailingType"] == "sequence":
            mailings[id_]["relationships"]["template"] = rng.choice(templates)
    prospects, records = seeding.ids.get("prospect", []), seeding.store.table("prospect").records
    for _ in range(seeding.plan.recipients if prospects else 0):
        prospect = rng.choice(prospects)
        email = records[prospect]["attributes"]["emails"][0]
        attributes = {"value": email, "recipientType": "to", "primary": True}
        seeding.add("recipient", attributes, {"prospect": prospect})
    accounts = seeding.ids.get("account", [])
    for i in range(seeding.plan.favorites if accounts else 0):
        account = rng.choice(accounts)
        attributes = {"targetType": "account", "targetId": account}
        user = users[i % len(users)]
        favorite = seeding.add(
            "favorite", attributes, {"user": user, "creator": user, "target": account}
        )
        seeding.link("account", account, "favorites", favorite)
    mailboxes = seeding.ids.get("mailbox", [1])
    for i in range(seeding.plan.mail_aliases):
        mailbox = mailboxes[i % len(mailboxes)]
        email = str(seeding.record("mailbox", mailbox)["attributes"]["email"])
        alias = email.replace("@", f"+alias{i + 1}@")
        seeding.add("mailAlias", {"email": alias, "canSend": True}, {"mailbox": mailbox})
    _recordings(seeding)


def _recordings(seeding: Seeding) -> None:
    rng, opportunities = seeding.rng, seeding.ids.get("opportunity", [])
    for i in range(seeding.plan.kaia_recordings if opportunities else 0):
        opportunity = seeding.record("opportunity", rng.choice(opportunities))
        start = ANCHOR_MS + rng.randrange(365) * DAY_MS
        attributes = {
            "title": f"Discovery call {i + 1}",
            "provider": "zoom",
            "format": "video",
            "state": "processed",
            "startTime": format_epoch_ms(start),
            "endTime": format_epoch_ms(start + 30 * 60_000),
            "participantCount": 2,
            "mediaDurationSeconds": "1800",
            "instanceId": f"kaia-{i + 1}",
        }
        relationships = {
            "account": opportunity["relationships"]["account"],
            "opportunity": opportunity["id"],
            "owner": opportunity["relationships"]["owner"],
        }
        seeding.add("kaiaRecording", attributes, relationships)


# -- history: audit logs, finished batches and compliance requests -----------------------------


def seed_history(seeding: Seeding) -> None:
    rng = seeding.rng
    for i in range(seeding.plan.audit_logs):
        event, action = AUDIT_EVENTS[i % len(AUDIT_EVENTS)]
        created, _ = seeding.stamps()
        attributes = {
            "eventName": event,
            "action": action,
            "result": "success",
            "timestamp": created,
            "requestId": f"req-{i + 1:06d}",
            "orgId": "sandbox",
            "agent": {"type": "user", "id": 1},
            "changes": [],
        }
        seeding.add("auditLog", attributes, {})
    prospects = seeding.ids.get("prospect", [])
    for _ in range(seeding.plan.batches if prospects else 0):
        targets = rng.sample(prospects, min(len(prospects), rng.randrange(1, 21)))
        _finished_batch(seeding, targets)
    for i in range(seeding.plan.compliance_requests):
        request: dict[str, Any] = {
            "request_type": "Delete",
            "object_type": "Prospect",
            "state": "done",
            "requesterId": 1,
            "requester_email": "admin@example.com",
            "request_object_email": f"forgotten.{i + 1}@prospect.example.com",
            "pii": {"email": f"forgotten.{i + 1}@prospect.example.com"},
            "uuid": f"00000000-0000-4000-8000-{i + 1:012d}",
        }
        seeding.add("complianceRequest", request, {"requester": 1})


def _finished_batch(seeding: Seeding, targets: list[int]) -> None:
    created, finished = seeding.stamps()
    attributes = {
        "action": "prospectsAddTags",
        "state": "finished",
        "payload": {"tags": ["seeded"]},
        "total": len(targets),
        "pending": 0,
        "failures": 0,
        "confirmCount": len(targets),
        "confirmedCountRequired": False,
        "startedAt": created,
        "finishedAt": finished,
        "createdAt": created,
    }
    batch = seeding.add("batch", attributes, {"creator": 1})
    for prospect in targets:
        item = {"batchId": batch, "state": "finished", "failed": False}
        item["data"] = json.dumps({"type": "prospect", "id": prospect})
        seeding.add("batchItem", item, {"batch": batch})


# -- settings: the org's settings, a webhook that never fires, an import ----------------------


def seed_settings(seeding: Seeding) -> None:
    exclusions = {"contactExclusions": "", "prospectEmailExclusions": "", "sendExclusions": ""}
    seeding.add("orgSetting", exclusions, {})
    webhook = {
        "url": "https://hooks.example.com/outreach",
        "resource": "*",
        "action": "*",
        "active": False,  # never delivers: a seeded sandbox sends nothing anywhere
        "payloadVersion": 2,
        "disabledReason": "Disabled by its owner",
    }
    seeding.add("webhook", webhook, {"authorizer": 1, "creator": 1})
    seeding.add(
        "import",
        {"fileName": "prospects.csv", "importType": "prospect", "state": "finished", "total": 0},
        {"creator": 1},
    )
