"""What Outreach's server does around a create or an update, per resource type.

Generic rules for every type: counters (read-only ``...Count`` integers) start at 0; ``creator``
and ``updater`` are the acting user; content objects get the acting user as ``owner`` when none is
given (the snippet answer in common patterns shows ``owner`` user 1 though none was sent).

Per-type rules, each from the facts or the common-patterns document:

* prospect: a duplicate email is 422 "Contacts email hash has already been taken." on create and
  ``validationDuplicateValueError`` on update; a domain excluded in org settings is 422
  "Contacts contact is using an excluded email address." (facts §7, §11.10); ``externalSource``
  defaults to ``outreach-api`` (§8.1); ``name`` follows first and last name.
* user: ``meta.sendInvite`` (default true) is recorded in ``store.invites``; ``email`` cannot be
  changed through the API (§8.1); a duplicate email is 422.
* sequenceState: needs an unlocked sequence and no enrollment of the prospect already in progress
  (§7); starts ``active`` on the sequence's first step (common patterns' answer).
* sequenceStep: numbered after the sequence's last step; the sequence's step count follows.
* task: API-created tasks are ``manual`` and ``incomplete`` (§8.1); the prospect and account
  follow the subject.
* call: a ``task`` relationship with ``meta: {"complete": true}`` completes that task; without it
  the task is not affected (common patterns, "Log External Calls").
* webhook: ``resource`` and ``action`` default to ``*``, ``active`` to true; the URL must be HTTPS
  (§9), except on loopback, where the sandbox's own tests and demos receive.
* complianceRequest: only ``Delete`` of a ``Prospect``; the batch starts ``pending`` and advances
  to ``running`` then ``done`` on successive reads, deleting the prospect when done.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from .errors import ApiError, validation_error
from .operations import Operations
from .query import Record
from .writes import WriteDocument

__all__ = [
    "COMPLIANCE_STATES",
    "advance_compliance_request",
    "after_create",
    "complete_task",
    "prepare_create",
    "prepare_update",
]

Fields: TypeAlias = dict[str, Any]
CreateRule: TypeAlias = Callable[[Operations, Fields, Fields, WriteDocument, "int | None"], None]
AfterRule: TypeAlias = Callable[[Operations, Record, WriteDocument, "int | None"], None]
UpdateRule: TypeAlias = Callable[[Operations, Record, Fields, Fields], None]

_OWNED_CONTENT = frozenset({"snippet", "template", "sequence", "ruleset"})
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
COMPLIANCE_STATES = ("pending", "running", "done")
_DUPLICATE_EMAIL = "Contacts email hash has already been taken."


# -- entry points ------------------------------------------------------------------------------


def prepare_create(
    backend: Operations, type_: str, document: WriteDocument, user_id: int | None
) -> tuple[Fields, Fields]:
    """The attributes and relationships to insert for a checked create document."""
    attributes, relationships = dict(document.attributes), dict(document.relationships)
    spec = backend.spec(type_)
    for attribute in spec.attributes:
        if attribute.read_only and attribute.kind == "integer" and attribute.wire.endswith("Count"):
            attributes.setdefault(attribute.wire, 0)
    for name in ("creator", "updater") + (("owner",) if type_ in _OWNED_CONTENT else ()):
        relationship = spec.relationship_by_wire.get(name)
        if relationship is not None and relationship.target == "user" and user_id is not None:
            relationships.setdefault(name, user_id)
    rule = _CREATE_RULES.get(type_)
    if rule is not None:
        rule(backend, attributes, relationships, document, user_id)
    return attributes, relationships


def after_create(
    backend: Operations, type_: str, record: Record, document: WriteDocument, user_id: int | None
) -> None:
    """Side effects of a create on other records (and on what tests assert)."""
    rule = _AFTER_CREATE_RULES.get(type_)
    if rule is not None:
        rule(backend, record, document, user_id)


def prepare_update(
    backend: Operations, type_: str, record: Record, document: WriteDocument, user_id: int | None
) -> tuple[Fields, Fields]:
    """The attributes and relationships to change for a checked PATCH document."""
    attributes, relationships = dict(document.attributes), dict(document.relationships)
    updater = backend.spec(type_).relationship_by_wire.get("updater")
    if updater is not None and user_id is not None and (attributes or relationships):
        relationships["updater"] = user_id
    rule = _UPDATE_RULES.get(type_)
    if rule is not None:
        rule(backend, record, attributes, relationships)
    return attributes, relationships


# -- helpers -------------------------------------------------------------------------------


def _full_name(attributes: Mapping[str, Any]) -> str | None:
    parts = [attributes.get("firstName"), attributes.get("lastName")]
    return " ".join(p for p in parts if p) or None


def _refresh_name(record: Record | None, attributes: Fields) -> None:
    if "firstName" in attributes or "lastName" in attributes:
        merged = {**(record["attributes"] if record else {}), **attributes}
        attributes["name"] = _full_name(merged)


def _emails(value: Any) -> list[str]:
    return [e for e in value if isinstance(e, str)] if isinstance(value, list) else []


def _excluded_domains(backend: Operations) -> list[str]:
    settings = backend.store.get("orgSetting", 1) if "orgSetting" in backend.store.tables else None
    raw = (settings or {}).get("attributes", {}).get("prospectEmailExclusions") or ""
    return [d.lower().lstrip("@") for d in re.split(r"[\s,;]+", raw) if d]


def _check_prospect_emails(
    backend: Operations, emails: list[str], own_id: int | None, error_id: str, detail: str
) -> None:
    pointer = "/data/attributes/emails"
    excluded = _excluded_domains(backend)
    for email in emails:
        domain = email.rpartition("@")[2].lower()
        if any(domain == d or domain.endswith("." + d) for d in excluded):
            raise validation_error("Contacts contact is using an excluded email address.", pointer)
        if backend.store.find_by_value("prospect", "emails", email) - {own_id}:
            raise validation_error(detail, pointer, error_id=error_id)


# -- prospects and users ---------------------------------------------------------------------


def _create_prospect(
    backend: Operations,
    attributes: Fields,
    relationships: Fields,
    doc: WriteDocument,
    user: int | None,
) -> None:
    emails = _emails(attributes.get("emails"))
    _check_prospect_emails(backend, emails, None, "validationError", _DUPLICATE_EMAIL)
    attributes.setdefault("externalSource", "outreach-api")
    _refresh_name(None, attributes)


def _update_prospect(
    backend: Operations, record: Record, attributes: Fields, relationships: Fields
) -> None:
    if "emails" in attributes:
        _check_prospect_emails(
            backend,
            _emails(attributes["emails"]),
            record["id"],
            "validationDuplicateValueError",
            "A Contact with this email_hash already exists.",
        )
    _refresh_name(record, attributes)


def _create_user(
    backend: Operations,
    attributes: Fields,
    relationships: Fields,
    doc: WriteDocument,
    user: int | None,
) -> None:
    if backend.store.find_by_value("user", "email", str(attributes["email"])):
        raise validation_error("Email has already been taken.", "/data/attributes/email")
    attributes.setdefault("locked", False)
    attributes["userGuid"] = str(uuid.uuid4())
    _refresh_name(None, attributes)


def _after_create_user(
    backend: Operations, record: Record, doc: WriteDocument, user: int | None
) -> None:
    # "By default all new users will receive an email invitation" (common patterns).
    backend.store.invites[record["id"]] = doc.meta.get("sendInvite", True) is not False


def _update_user(
    backend: Operations, record: Record, attributes: Fields, relationships: Fields
) -> None:
    if "email" in attributes:
        raise ApiError(
            400,
            "permittedParams.unknownAttribute",
            "Unpermitted Parameter",
            "A user's email cannot be updated through the API.",
            pointer="/data/attributes/email",
        )
    _refresh_name(record, attributes)


def _create_account(
    backend: Operations,
    attributes: Fields,
    relationships: Fields,
    doc: WriteDocument,
    user: int | None,
) -> None:
    attributes.setdefault("named", True)


# -- sequences --------------------------------------------------------------------------------


def _create_sequence(
    backend: Operations,
    attributes: Fields,
    relationships: Fields,
    doc: WriteDocument,
    user: int | None,
) -> None:
    attributes.update(enabled=False, locked=False)


def _steps_of(backend: Operations, sequence_id: int) -> list[Record]:
    table = backend.store.table("sequenceStep").records
    steps = [table[i] for i in backend.store.referencing("sequenceStep", "sequence", sequence_id)]
    return sorted(steps, key=lambda s: (s["attributes"].get("order") or 0, s["id"]))


def _create_sequence_step(
    backend: Operations,
    attributes: Fields,
    relationships: Fields,
    doc: WriteDocument,
    user: int | None,
) -> None:
    steps = _steps_of(backend, relationships["sequence"])
    order = max((s["attributes"].get("order") or 0 for s in steps), default=0) + 1
    attributes.setdefault("order", order)
    step_type = str(attributes.get("stepType", "")).replace("_", " ")
    attributes["displayName"] = f"Step #{attributes['order']} ({step_type})"


def _after_create_sequence_step(
    backend: Operations, record: Record, doc: WriteDocument, user: int | None
) -> None:
    sequence_id = record["relationships"]["sequence"]
    count = len(backend.store.referencing("sequenceStep", "sequence", sequence_id))
    backend.change("sequence", sequence_id, {"sequenceStepCount": count})


def _create_sequence_state(
    backend: Operations,
    attributes: Fields,
    relationships: Fields,
    doc: WriteDocument,
    user: int | None,
) -> None:
    sequence = backend.require("sequence", relationships["sequence"])
    prospect = backend.require("prospect", relationships["prospect"])
    if sequence["attributes"].get("locked"):
        raise validation_error("Sequence is locked.", "/data/relationships/sequence")
    for state_id in backend.store.referencing("sequenceState", "prospect", prospect["id"]):
        other = backend.store.table("sequenceState").records[state_id]
        same = other["relationships"].get("sequence") == sequence["id"]
        if same and other["attributes"].get("state") in ("active", "paused", "pending"):
            name = sequence["attributes"].get("name") or sequence["id"]
            raise validation_error(
                f"Sequence '{name}' is already in progress for this person.",
                "/data/relationships/prospect",
            )
    now = backend.store.clock.now()
    attributes.update(state="active", stateChangedAt=now, activeAt=now)
    steps = _steps_of(backend, sequence["id"])
    relationships["sequenceStep"] = steps[0]["id"] if steps else None
    relationships["account"] = prospect["relationships"].get("account")
    mailbox = backend.store.get("mailbox", relationships["mailbox"])
    relationships["user"] = (mailbox or {}).get("relationships", {}).get("user") or user


# -- tasks, calls, mailings -------------------------------------------------------------------


def _create_task(
    backend: Operations,
    attributes: Fields,
    relationships: Fields,
    doc: WriteDocument,
    user: int | None,
) -> None:
    now = backend.store.clock.now()
    attributes.update(state="incomplete", completed=False, taskType="manual", stateChangedAt=now)
    attributes.setdefault("dueAt", now)
    attributes.setdefault("scheduledAt", attributes["dueAt"])
    if user is not None:
        relationships.setdefault("owner", user)
    subject = relationships.get("subject")
    if isinstance(subject, int):  # a prospect (the spec's target); accounts are stored typed
        prospect = backend.store.get("prospect", subject)
        relationships["prospect"] = subject
        relationships["account"] = (prospect or {}).get("relationships", {}).get("account")
    elif isinstance(subject, dict) and subject["type"] == "account":
        relationships["account"] = subject["id"]


def complete_task(
    backend: Operations, task_id: int, user: int | None, extra: Mapping[str, Any] | None = None
) -> Record:
    """Mark a task complete (422 if it already is) and publish ``task.completed``."""
    task = backend.require("task", task_id)
    if task["attributes"].get("state") == "complete":
        raise validation_error("Task is already complete.", "/data/attributes/state")
    now = backend.store.clock.now()
    attributes = {"state": "complete", "completed": True, "completedAt": now, "stateChangedAt": now}
    attributes.update(extra or {})
    return backend.change("task", task_id, attributes, {"completer": user}, event="completed")


def _create_call(
    backend: Operations,
    attributes: Fields,
    relationships: Fields,
    doc: WriteDocument,
    user: int | None,
) -> None:
    attributes.setdefault("state", "completed")
    attributes["stateChangedAt"] = backend.store.clock.now()
    attributes["uid"] = str(uuid.uuid4())
    if user is not None:
        relationships.setdefault("user", user)
    task_id = relationships.get("task")
    if task_id is not None and relationships.get("prospect") is None:
        task = backend.require("task", task_id)
        relationships["prospect"] = task["relationships"].get("prospect")


def _after_create_call(
    backend: Operations, record: Record, doc: WriteDocument, user: int | None
) -> None:
    task_id = record["relationships"].get("task")
    if task_id is None or doc.relationship_meta.get("task", {}).get("complete") is not True:
        return  # "the task itself will not be affected" (common patterns)
    task = backend.require("task", task_id)
    if task["attributes"].get("state") != "complete":
        complete_task(backend, task_id, user)
    backend.change("task", task_id, relationships={"call": record["id"]})


def _create_mailing(
    backend: Operations,
    attributes: Fields,
    relationships: Fields,
    doc: WriteDocument,
    user: int | None,
) -> None:
    attributes.setdefault("mailingType", "single")
    attributes["state"] = "scheduled" if attributes.get("scheduledAt") else "drafted"
    attributes["stateChangedAt"] = backend.store.clock.now()
    mailbox = backend.store.get("mailbox", relationships.get("mailbox") or 0)
    if mailbox is not None:
        attributes["mailboxAddress"] = mailbox["attributes"].get("email")
        relationships["user"] = mailbox["relationships"].get("user")


# -- webhooks and compliance ------------------------------------------------------------------


def _create_webhook(
    backend: Operations,
    attributes: Fields,
    relationships: Fields,
    doc: WriteDocument,
    user: int | None,
) -> None:
    url = urlsplit(str(attributes["url"]))
    if url.scheme != "https" and not (url.scheme == "http" and url.hostname in _LOOPBACK_HOSTS):
        raise validation_error("Url must be an HTTPS URL.", "/data/attributes/url")
    attributes.setdefault("resource", "*")
    attributes.setdefault("action", "*")
    attributes.setdefault("active", True)
    attributes.setdefault("secret", None)
    attributes.setdefault("payloadVersion", 1)
    if user is not None:
        relationships.setdefault("authorizer", user)


def _create_compliance_request(
    backend: Operations,
    attributes: Fields,
    relationships: Fields,
    doc: WriteDocument,
    user: int | None,
) -> None:
    for name, allowed in (("request_type", "Delete"), ("object_type", "Prospect")):
        if attributes[name] != allowed:
            raise validation_error(f"{name} must be '{allowed}'.", f"/data/attributes/{name}")
    batch = str(uuid.uuid4())
    email = str(attributes["request_object_email"])
    requester = backend.store.find_by_value("user", "email", str(attributes["requester_email"]))
    prospects = sorted(backend.store.find_by_value("prospect", "emails", email))
    attributes.update(
        batchComplianceRequestUuid=batch,
        batchComplianceRequest=batch,
        batch_compliance_request_id=batch,
        uuid=str(uuid.uuid4()),
        state="pending",
        requesterId=min(requester) if requester else user,
        requestObjectId=str(prospects[0]) if prospects else None,
        pii={"email": email},
    )
    relationships["requester"] = attributes["requesterId"]


def advance_compliance_request(backend: Operations, record: Record) -> None:
    """One step of pending -> running -> done; when done, the prospect is deleted."""
    state = record["attributes"].get("state")
    if state not in COMPLIANCE_STATES[:-1]:
        return
    following = COMPLIANCE_STATES[COMPLIANCE_STATES.index(state) + 1]
    backend.change("complianceRequest", record["id"], {"state": following})
    if following == "done":
        email = str((record["attributes"].get("pii") or {}).get("email", ""))
        for prospect_id in sorted(backend.store.find_by_value("prospect", "emails", email)):
            backend.delete("prospect", prospect_id)


_CREATE_RULES: dict[str, CreateRule] = {
    "account": _create_account,
    "call": _create_call,
    "complianceRequest": _create_compliance_request,
    "mailing": _create_mailing,
    "prospect": _create_prospect,
    "sequence": _create_sequence,
    "sequenceState": _create_sequence_state,
    "sequenceStep": _create_sequence_step,
    "task": _create_task,
    "user": _create_user,
    "webhook": _create_webhook,
}
_AFTER_CREATE_RULES: dict[str, AfterRule] = {
    "call": _after_create_call,
    "sequenceStep": _after_create_sequence_step,
    "user": _after_create_user,
}
_UPDATE_RULES: dict[str, UpdateRule] = {
    "prospect": _update_prospect,
    "user": _update_user,
}
