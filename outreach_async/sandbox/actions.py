"""Member actions (``POST /{path}/{id}/actions/{name}?actionParams[...]``) and their state rules.

Outreach answers 200 with the resource; 422 ``validationError`` when the resource's state does
not allow the action; 400 for unacceptable or missing action params (facts §6, §8, with no error
id, as the facts' error table shows for bad action params). The rules:

* sequenceState ``finish`` (any state but finished), ``pause`` (active only), ``resume`` (paused
  only); ``finish`` publishes ``sequenceState.finished`` (facts §9);
* sequence and sequenceTemplate ``activate`` / ``deactivate`` set ``enabled`` (read-only
  otherwise, §8.1);
* task ``markComplete`` (``completionAction`` ``finish_no_reply`` / ``finish_replied`` finishes
  the task's sequence state, anything else advances it), ``logMeetInPerson``, ``advance`` and
  ``deliver`` complete an open task and publish ``task.completed``; ``snooze`` (by default to one
  day after the later of now and the due date), ``reschedule``, ``reassignOwner``, ``updateNote``
  and ``updateOpportunityAssociation`` change one field;
* mailbox ``testSend`` / ``testSync`` stamp their success times; the EWS link actions are no-ops;
* batch ``confirm`` / ``cancel``: see :mod:`.batches`, which also runs the bulk actions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from .batches import BATCH_ACTIONS
from .errors import ApiError, validation_error
from .lifecycle import complete_task
from .operations import Operations
from .times import normalize_datetime

__all__ = ["ACTIONS", "parse_action_params", "run_action"]

Action: TypeAlias = Callable[[Operations, int, Mapping[str, str], "int | None"], None]

_OPEN_SEQUENCE_STATES = frozenset({"active", "paused", "pending", "failed", "bounced", "opted_out"})


def _bad_params(detail: str, name: str) -> ApiError:
    return ApiError(400, None, "Bad Request", detail, parameter=f"actionParams[{name}]")


def parse_action_params(query: Mapping[str, str]) -> dict[str, str]:
    """``actionParams[name]=value`` query parameters by name."""
    return {
        key[len("actionParams[") : -1]: value
        for key, value in query.items()
        if key.startswith("actionParams[") and key.endswith("]")
    }


def _check_params(
    allowed: tuple[str, ...], required: tuple[str, ...], params: Mapping[str, str]
) -> None:
    for name in params:
        if name not in allowed:
            raise _bad_params(f"'{name}' is not a parameter of this action.", name)
    for name in required:
        if not params.get(name):
            raise _bad_params(f"param is missing or the value is empty: {name}", name)


def _datetime_param(params: Mapping[str, str], name: str) -> str:
    try:
        return normalize_datetime(params[name])
    except ValueError:
        raise _bad_params(f"'{params[name]}' is not a valid datetime.", name) from None


def _state_error(type_: str, state: Any, action: str) -> ApiError:
    return validation_error(
        f"Cannot {action} a {type_} whose state is '{state}'.", "/data/attributes/state"
    )


# -- sequence states ---------------------------------------------------------------------------


def _move_state(allowed: frozenset[str], target: str, verb: str, event: str) -> Action:
    def act(backend: Operations, id_: int, params: Mapping[str, str], user: int | None) -> None:
        state = backend.require("sequenceState", id_)["attributes"].get("state")
        if state not in allowed:
            raise _state_error("sequence state", state, verb)
        changes: dict[str, Any] = {"state": target, "stateChangedAt": backend.store.clock.now()}
        changes["pauseReason"] = "manual" if target == "paused" else None
        backend.change("sequenceState", id_, changes, event=event)

    return act


def finish_sequence_state(backend: Operations, state_id: int) -> None:
    """Finish an unfinished sequence state (tasks completed with ``finish_*`` do this too)."""
    _move_state(_OPEN_SEQUENCE_STATES, "finished", "finish", "finished")(
        backend, state_id, {}, None
    )


# -- enabling sequences and sequence templates -------------------------------------------------


def _enable(type_: str, enabled: bool) -> Action:
    def act(backend: Operations, id_: int, params: Mapping[str, str], user: int | None) -> None:
        changes: dict[str, Any] = {"enabled": enabled}
        if enabled:
            changes["enabledAt"] = backend.store.clock.now()
        backend.change(type_, id_, changes)

    return act


# -- tasks -------------------------------------------------------------------------------------


def _open_task(backend: Operations, id_: int, verb: str) -> dict[str, Any]:
    task = backend.require("task", id_)
    if task["attributes"].get("state") == "complete":
        raise _state_error("task", "complete", verb)
    return task


def _advance_sequence_state(backend: Operations, state_id: int) -> None:
    state = backend.store.get("sequenceState", state_id)
    if state is None or state["attributes"].get("state") not in ("active", "pending"):
        return
    step = backend.store.get("sequenceStep", state["relationships"].get("sequenceStep") or 0)
    sequence_id = state["relationships"].get("sequence")
    order = (step or {}).get("attributes", {}).get("order") or 0
    later = [
        s
        for s in (backend.store.get("sequenceStep", i) for i in _step_ids(backend, sequence_id))
        if s is not None and (s["attributes"].get("order") or 0) > order
    ]
    if not later:
        finish_sequence_state(backend, state_id)
        return
    following = min(later, key=lambda s: (s["attributes"].get("order") or 0, s["id"]))
    step = {"sequenceStep": following["id"]}
    backend.change("sequenceState", state_id, relationships=step, event="advanced")


def _step_ids(backend: Operations, sequence_id: int | None) -> list[int]:
    if sequence_id is None:
        return []
    return backend.store.referencing("sequenceStep", "sequence", sequence_id)


def _mark_complete(
    backend: Operations, id_: int, params: Mapping[str, str], user: int | None
) -> None:
    task = _open_task(backend, id_, "complete")
    extra = {"note": params["completionNote"]} if params.get("completionNote") else None
    complete_task(backend, id_, user, extra)
    state_id = task["relationships"].get("sequenceState")
    if state_id is None:
        return
    if params.get("completionAction") in ("finish_no_reply", "finish_replied"):
        if backend.store.get("sequenceState", state_id) is not None:
            finish_sequence_state(backend, state_id)
    else:
        _advance_sequence_state(backend, state_id)


def _log_meet_in_person(
    backend: Operations, id_: int, params: Mapping[str, str], user: int | None
) -> None:
    _open_task(backend, id_, "log a meeting for")
    relationships: dict[str, Any] = {}
    pairs = (("taskDispositionId", "taskDisposition"), ("taskPurposeId", "taskPurpose"))
    for param, relationship in pairs:
        if params.get(param):
            relationships[relationship] = _existing_id(backend, relationship, params, param)
    backend.change("task", id_, relationships=relationships)
    extra = {"note": params["completionNote"]} if params.get("completionNote") else None
    complete_task(backend, id_, user, extra)


def _existing_id(backend: Operations, type_: str, params: Mapping[str, str], name: str) -> int:
    try:
        id_ = int(params[name])
    except ValueError:
        raise _bad_params(f"'{params[name]}' is not an id.", name) from None
    if backend.store.get(type_, id_) is None:
        raise validation_error(
            f"Could not find '{type_}' with ID '{id_}'.", f"/actionParams/{name}"
        )
    return id_


def _advance(backend: Operations, id_: int, params: Mapping[str, str], user: int | None) -> None:
    task = _open_task(backend, id_, "advance")
    state_id = task["relationships"].get("sequenceState")
    if state_id is None:
        raise validation_error(
            "Only sequence tasks can be advanced.", "/data/relationships/sequenceState"
        )
    complete_task(backend, id_, user)
    _advance_sequence_state(backend, state_id)


def _deliver(backend: Operations, id_: int, params: Mapping[str, str], user: int | None) -> None:
    task = _open_task(backend, id_, "deliver")
    if task["attributes"].get("action") != "email":
        raise validation_error("Only email tasks can be delivered.", "/data/attributes/action")
    complete_task(backend, id_, user)


def _snooze(backend: Operations, id_: int, params: Mapping[str, str], user: int | None) -> None:
    task = _open_task(backend, id_, "snooze")
    if params.get("dueAt"):
        due = _datetime_param(params, "dueAt")
    else:  # one day after the later of now and the due date (OAS snooze description)
        later = max(backend.store.clock.now(), task["attributes"].get("dueAt") or "")
        moved = dt.datetime.fromisoformat(later) + dt.timedelta(days=1)
        due = normalize_datetime(moved.isoformat())
    backend.change("task", id_, {"dueAt": due})


def _set_field(attribute: str, param: str, *, when_open: bool = True) -> Action:
    def act(backend: Operations, id_: int, params: Mapping[str, str], user: int | None) -> None:
        if when_open:
            _open_task(backend, id_, f"change the {attribute} of")
        value = _datetime_param(params, param) if attribute == "dueAt" else params[param]
        backend.change("task", id_, {attribute: value})

    return act


def _reassign_owner(
    backend: Operations, id_: int, params: Mapping[str, str], user: int | None
) -> None:
    _open_task(backend, id_, "reassign")
    owner = _existing_id(backend, "user", params, "ownerId")
    backend.change("task", id_, relationships={"owner": owner})


# -- mailboxes ---------------------------------------------------------------------------------


def _stamp(attribute: str) -> Action:
    def act(backend: Operations, id_: int, params: Mapping[str, str], user: int | None) -> None:
        backend.change("mailbox", id_, {attribute: backend.store.clock.now()})

    return act


def _no_op(backend: Operations, id_: int, params: Mapping[str, str], user: int | None) -> None:
    backend.require("mailbox", id_)


ACTIONS: dict[tuple[str, str], Action] = {
    ("sequenceState", "finish"): _move_state(
        _OPEN_SEQUENCE_STATES, "finished", "finish", "finished"
    ),
    ("sequenceState", "pause"): _move_state(frozenset({"active"}), "paused", "pause", "updated"),
    ("sequenceState", "resume"): _move_state(frozenset({"paused"}), "active", "resume", "updated"),
    ("sequence", "activate"): _enable("sequence", True),
    ("sequence", "deactivate"): _enable("sequence", False),
    ("sequenceTemplate", "activate"): _enable("sequenceTemplate", True),
    ("sequenceTemplate", "deactivate"): _enable("sequenceTemplate", False),
    ("task", "markComplete"): _mark_complete,
    ("task", "logMeetInPerson"): _log_meet_in_person,
    ("task", "advance"): _advance,
    ("task", "deliver"): _deliver,
    ("task", "snooze"): _snooze,
    ("task", "reschedule"): _set_field("dueAt", "dueAt"),
    ("task", "reassignOwner"): _reassign_owner,
    ("task", "updateNote"): _set_field("note", "note", when_open=False),
    ("task", "updateOpportunityAssociation"): _set_field(
        "opportunityAssociation", "opportunityAssociation", when_open=False
    ),
    ("mailbox", "testSend"): _stamp("sendSuccessAt"),
    ("mailbox", "testSync"): _stamp("syncSuccessAt"),
    ("mailbox", "linkEwsMasterAccount"): _no_op,
    ("mailbox", "unlinkEwsMasterAccount"): _no_op,
    **BATCH_ACTIONS,  # confirm and cancel (.batches)
}


def run_action(
    backend: Operations,
    type_: str,
    id_: int,
    name: str,
    params: Mapping[str, str],
    user: int | None,
) -> None:
    """Run a member action after checking it exists and its params (404 / 400 / 422)."""
    spec = backend.spec(type_)
    action_spec = spec.action_by_name.get(name)
    action = ACTIONS.get((type_, name))
    if action_spec is None or action_spec.collection or action is None:
        raise ApiError(
            404, "routeNotFound", "Route Not Found", f"'{name}' is not an action of '{type_}'."
        )
    _check_params(action_spec.params, action_spec.required, params)
    action(backend, id_, params, user)
