"""Bulk actions: ``POST /batches/actions/<name>``, the batch they start, and its lifecycle.

What it imitates (facts §8 "Bulk (batches) endpoints", DOC-BULK):

* the action targets the records a collection GET with the same filter would return, the
  filter given in the new filter syntax under ``actionParams[filter][...]``; **with no filter it
  targets every record** of the type; a ``data.attributes.ids`` list narrows it further;
* ``data.attributes`` carries the inputs; the answer is the ``batch`` (200), which holds one
  ``batchItem`` per target record;
* unless ``actionParams[skipConfirmation]=true``, the batch waits for
  ``POST /batches/{id}/actions/confirm?actionParams[confirmedCount]=N`` with N equal to its
  ``confirmCount`` (``confirmedCountRequired``); a wrong count is 422;
* a running batch advances as it is read (as compliance requests do): each read processes about
  a third of its items, so a poller sees ``pending`` fall and then ``finishedAt``;
  ``cancel`` stops a batch that has not finished (422 otherwise).

Outreach does not document the state names; the sandbox's are :data:`AWAITING_CONFIRMATION`,
:data:`PROCESSING`, :data:`FINISHED` and :data:`CANCELED`. Actions that change records here:
``*AddTags``, ``*RemoveTags``, ``*BulkModify`` (``fieldName``/``fieldValue``, ``field``/``value``
or ``{attribute: value}``), ``*AssignOwner`` (``ownerId``) and ``*DestroyAll``; the others
finish their items without a change. Custom objects are not served (501).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from .errors import ApiError, validation_error
from .filter_params import parse_filters
from .operations import Operations
from .query import Record

__all__ = [
    "AWAITING_CONFIRMATION",
    "BATCH_ACTIONS",
    "CANCELED",
    "FINISHED",
    "PROCESSING",
    "advance_batch",
    "start_batch",
]

AWAITING_CONFIRMATION = "pending_confirmation"
PROCESSING = "processing"
FINISHED = "finished"
CANCELED = "canceled"
#: each read of a processing batch handles this share of its items (so three reads finish it)
_STEPS = 3
_FILTER_PREFIX = "actionParams[filter]"
#: the target type by the action name's prefix (``accountAddTags`` is singular in the API)
_TARGETS = (("prospects", "prospect"), ("accounts", "account"), ("account", "account"))

Effect: TypeAlias = Callable[[Operations, str, int, Mapping[str, Any]], None]
Check: TypeAlias = Callable[[Operations, str, Mapping[str, Any]], None]
MemberAction: TypeAlias = Callable[[Operations, int, Mapping[str, str], "int | None"], None]


# -- starting ----------------------------------------------------------------------------------


def start_batch(
    backend: Operations,
    name: str,
    query: Sequence[tuple[str, str]],
    body: Any,
    user: int | None,
) -> Record:
    """Run ``POST /batches/actions/{name}``: check it, create the batch and its items."""
    spec = backend.spec("batch")
    action = spec.action_by_name.get(name)
    if action is None or not action.collection:
        raise ApiError(404, "routeNotFound", "Route Not Found", f"No batch action '{name}'.")
    target = _target_type(name)
    attributes = _body_attributes(body)
    _checks(name)(backend, target, attributes)
    targets = _target_ids(backend, target, query, attributes)
    skip = _skip_confirmation(query)
    now = backend.store.clock.now()
    batch = backend.store.insert(
        "batch",
        {
            "action": name,
            "state": PROCESSING if skip else AWAITING_CONFIRMATION,
            "payload": dict(attributes),
            "total": len(targets),
            "pending": len(targets),
            "failures": 0,
            "confirmCount": len(targets),
            "confirmedCountRequired": not skip,
            "startedAt": now if skip else None,
        },
        {"creator": user},
    )
    for id_ in targets:
        item = {"batchId": batch["id"], "state": "pending", "failed": False}
        item["data"] = json.dumps({"type": target, "id": id_})
        backend.store.insert("batchItem", item, {"batch": batch["id"]})
    return batch


def _target_type(name: str) -> str:
    for prefix, type_ in _TARGETS:
        if name.startswith(prefix) and name[len(prefix) : len(prefix) + 1].isupper():
            return type_
    raise ApiError(501, "notImplemented", "Not Implemented", f"The sandbox does not run '{name}'.")


def _body_attributes(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    data = body.get("data") if isinstance(body, dict) else None
    attributes = data.get("attributes", {}) if isinstance(data, dict) else None
    if not isinstance(attributes, dict):
        raise validation_error("The body must be {'data': {'attributes': {...}}}.", "/data")
    return attributes


def _skip_confirmation(query: Sequence[tuple[str, str]]) -> bool:
    value = dict(query).get("actionParams[skipConfirmation]", "false").lower()
    if value not in ("true", "false"):
        raise ApiError(
            400,
            None,
            "Bad Request",
            f"'{value}' is not true or false.",
            parameter="actionParams[skipConfirmation]",
        )
    return value == "true"


def _target_ids(
    backend: Operations,
    target: str,
    query: Sequence[tuple[str, str]],
    attributes: Mapping[str, Any],
) -> list[int]:
    """The ids a collection GET with the same filter finds (all of them without a filter)."""
    pairs = [("filter" + k[len(_FILTER_PREFIX) :], v) for k, v in query if _is_filter(k)]
    spec = backend.spec(target)
    try:
        filters = parse_filters(pairs, spec, backend.schema.spec, new_syntax=True)
    except ApiError as error:
        if error.parameter is not None:
            error.parameter = _FILTER_PREFIX + error.parameter[len("filter") :]
        raise
    ids = [record["id"] for record in backend.runner.rows(target, filters, ())]
    only = attributes.get("ids")
    if only is None:
        return ids
    if not isinstance(only, list) or not all(isinstance(i, int) for i in only):
        raise validation_error("ids must be a list of integers.", "/data/attributes/ids")
    wanted = set(only)
    return [i for i in ids if i in wanted]


def _is_filter(key: str) -> bool:
    return key.startswith(_FILTER_PREFIX + "[")


# -- the actions' inputs and effects -----------------------------------------------------------


def _tags(attributes: Mapping[str, Any]) -> list[str]:
    tags = attributes.get("tags")
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
        raise validation_error("tags must be a non-empty list of strings.", "/data/attributes/tags")
    return tags


def _modifications(
    backend: Operations, target: str, attributes: Mapping[str, Any]
) -> dict[str, Any]:
    """``fieldName``/``fieldValue``, ``field``/``value``, or the attributes themselves."""
    for name_key, value_key in (("fieldName", "fieldValue"), ("field", "value")):
        if name_key in attributes:
            changes = {str(attributes[name_key]): attributes.get(value_key)}
            break
    else:
        changes = {k: v for k, v in attributes.items() if k != "ids"}
    spec = backend.spec(target)
    for wire in changes:
        attribute = spec.attribute_by_wire.get(wire)
        if attribute is None or attribute.read_only:
            raise validation_error(
                f"'{wire}' is not a writable attribute of '{target}'.", f"/data/attributes/{wire}"
            )
    if not changes:
        raise validation_error("Name at least one field to modify.", "/data/attributes")
    return changes


def _owner(backend: Operations, attributes: Mapping[str, Any]) -> int:
    owner = attributes.get("ownerId")
    if not isinstance(owner, int) or backend.store.get("user", owner) is None:
        raise validation_error("ownerId must name an existing user.", "/data/attributes/ownerId")
    return owner


def _add_tags(backend: Operations, type_: str, id_: int, attributes: Mapping[str, Any]) -> None:
    tags = list(backend.require(type_, id_)["attributes"].get("tags") or [])
    tags += [t for t in _tags(attributes) if t not in tags]
    backend.change(type_, id_, {"tags": tags})


def _remove_tags(backend: Operations, type_: str, id_: int, attributes: Mapping[str, Any]) -> None:
    gone = set(_tags(attributes))
    tags = backend.require(type_, id_)["attributes"].get("tags") or []
    backend.change(type_, id_, {"tags": [t for t in tags if t not in gone]})


def _bulk_modify(backend: Operations, type_: str, id_: int, attributes: Mapping[str, Any]) -> None:
    backend.change(type_, id_, _modifications(backend, type_, attributes))


def _assign_owner(backend: Operations, type_: str, id_: int, attributes: Mapping[str, Any]) -> None:
    backend.change(type_, id_, relationships={"owner": _owner(backend, attributes)})


def _destroy(backend: Operations, type_: str, id_: int, attributes: Mapping[str, Any]) -> None:
    backend.delete(type_, id_)


def _touch(backend: Operations, type_: str, id_: int, attributes: Mapping[str, Any]) -> None:
    backend.require(type_, id_)  # an item whose record is gone fails


def _check_tags(backend: Operations, target: str, attributes: Mapping[str, Any]) -> None:
    _tags(attributes)


def _check_modifications(backend: Operations, target: str, attributes: Mapping[str, Any]) -> None:
    _modifications(backend, target, attributes)


def _check_owner(backend: Operations, target: str, attributes: Mapping[str, Any]) -> None:
    _owner(backend, attributes)


def _check_nothing(backend: Operations, target: str, attributes: Mapping[str, Any]) -> None:
    return None


#: by the action name's suffix: (what the inputs must be, what each item does)
_KINDS: dict[str, tuple[Check, Effect]] = {
    "AddTags": (_check_tags, _add_tags),
    "RemoveTags": (_check_tags, _remove_tags),
    "BulkModify": (_check_modifications, _bulk_modify),
    "AssignOwner": (_check_owner, _assign_owner),
    "DestroyAll": (_check_nothing, _destroy),
}
_NO_CHANGE: tuple[Check, Effect] = (_check_nothing, _touch)


def _kind(name: str) -> tuple[Check, Effect]:
    return next((kind for suffix, kind in _KINDS.items() if name.endswith(suffix)), _NO_CHANGE)


def _checks(name: str) -> Check:
    return _kind(name)[0]


# -- advancing on reads ------------------------------------------------------------------------


def _items(backend: Operations, batch_id: int, state: str) -> list[Record]:
    ids = backend.store.referencing("batchItem", "batch", batch_id)
    records = (backend.store.get("batchItem", i) for i in ids)
    return [r for r in records if r is not None and r["attributes"].get("state") == state]


def advance_batch(backend: Operations, batch: Record) -> None:
    """One step of a processing batch: about a third of its items, then ``finished``."""
    attributes = batch["attributes"]
    if attributes.get("state") != PROCESSING:
        return
    pending = _items(backend, batch["id"], "pending")
    step = max(1, math.ceil((attributes.get("total") or 0) / _STEPS))
    effect = _kind(str(attributes.get("action")))[1]
    failures = int(attributes.get("failures") or 0)
    for item in pending[:step]:
        failures += not _process(backend, item, effect, attributes.get("payload") or {})
    left = len(pending) - min(step, len(pending))
    changes: dict[str, Any] = {"pending": left, "failures": failures}
    if left == 0:
        total = attributes.get("total") or 0
        changes.update(
            state=FINISHED,
            finishedAt=backend.store.clock.now(),
            summary={"total": total, "succeeded": total - failures, "failed": failures},
        )
    backend.change("batch", batch["id"], changes)


def _process(backend: Operations, item: Record, effect: Effect, inputs: Mapping[str, Any]) -> bool:
    """Apply the action to one item's record; False when it failed (recorded on the item)."""
    data = json.loads(item["attributes"]["data"])
    try:
        effect(backend, data["type"], data["id"], inputs)
    except ApiError as error:
        info = {"state": "failed", "failed": True, "info": error.detail}
        backend.store.update("batchItem", item["id"], info)
        return False
    backend.store.update("batchItem", item["id"], {"state": "finished"})
    return True


# -- member actions: confirm and cancel --------------------------------------------------------


def _state_error(verb: str, state: Any) -> ApiError:
    return validation_error(
        f"Cannot {verb} a batch whose state is '{state}'.", "/data/attributes/state"
    )


def _confirm(backend: Operations, id_: int, params: Mapping[str, str], user: int | None) -> None:
    attributes = backend.require("batch", id_)["attributes"]
    if attributes.get("state") != AWAITING_CONFIRMATION:
        raise _state_error("confirm", attributes.get("state"))
    expected = attributes.get("confirmCount")
    given = params.get("confirmedCount")
    if attributes.get("confirmedCountRequired") and given != str(expected):
        raise validation_error(
            f"The confirmed count ({given}) does not match the batch's count ({expected}).",
            "/actionParams/confirmedCount",
        )
    now = backend.store.clock.now()
    backend.change("batch", id_, {"state": PROCESSING, "confirmedAt": now, "startedAt": now})


def _cancel(backend: Operations, id_: int, params: Mapping[str, str], user: int | None) -> None:
    attributes = backend.require("batch", id_)["attributes"]
    if attributes.get("state") not in (AWAITING_CONFIRMATION, PROCESSING):
        raise _state_error("cancel", attributes.get("state"))
    for item in _items(backend, id_, "pending"):
        backend.store.update("batchItem", item["id"], {"state": CANCELED})
    now = backend.store.clock.now()
    backend.change("batch", id_, {"state": CANCELED, "canceledAt": now})


#: the batch member actions, merged into :data:`.actions.ACTIONS`
BATCH_ACTIONS: dict[tuple[str, str], MemberAction] = {
    ("batch", "confirm"): _confirm,
    ("batch", "cancel"): _cancel,
}
