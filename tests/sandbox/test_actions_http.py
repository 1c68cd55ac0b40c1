"""Member actions, their state rules, and the server-side flows (facts §6, §8, §9)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from outreach_async.sandbox import Sandbox

from .conftest import Api, ref

pytestmark = pytest.mark.outreach_sandbox(seed=None)

Event = tuple[str, str, int, dict[str, Any] | None]


@pytest.fixture
def events(outreach_sandbox: Sandbox) -> list[Event]:
    """Webhook events the backend publishes (type, action, id, before), without delivering them."""
    seen: list[Event] = []

    def record(
        type_: str, action: str, resource: Mapping[str, Any], before: Mapping[str, Any] | None
    ) -> None:
        seen.append((type_, action, resource["id"], None if before is None else dict(before)))

    outreach_sandbox.backend.publish = record
    store = outreach_sandbox.store
    store.table("webhook").add({"id": 1, "attributes": {"url": "https://x"}, "relationships": {}})
    return seen


async def _enrolled(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    """A sequence with two steps and a prospect enrolled in it: (sequence, sequenceState)."""
    account = await api.create("account", "/accounts", attributes={"name": "Acme"})
    prospect = await api.create(
        "prospect",
        "/prospects",
        attributes={"firstName": "Sally"},
        relationships={"account": ref("account", account["id"])},
    )
    sequence = await api.create(
        "sequence", "/sequences", attributes={"name": "Primary", "sequenceType": "interval"}
    )
    for step_type in ("call", "auto_email"):
        await api.create(
            "sequenceStep",
            "/sequenceSteps",
            attributes={"stepType": step_type, "interval": 120},
            relationships={"sequence": ref("sequence", sequence["id"])},
        )
    state = await api.create(
        "sequenceState",
        "/sequenceStates",
        relationships={
            "prospect": ref("prospect", prospect["id"]),
            "sequence": ref("sequence", sequence["id"]),
            "mailbox": ref("mailbox", 1),
        },
    )
    return sequence, state


# -- sequence states -------------------------------------------------------------------------


async def test_an_enrollment_starts_active_on_the_first_step(api: Api) -> None:
    sequence, state = await _enrolled(api)
    assert state["attributes"]["state"] == "active"
    assert state["attributes"]["stateChangedAt"] is not None
    assert state["relationships"]["sequenceStep"] == ref("sequenceStep", 1)
    assert state["relationships"]["account"] == ref("account", 1)
    reloaded = await api.get(f"/sequences/{sequence['id']}")
    assert reloaded.data["attributes"]["sequenceStepCount"] == 2
    assert [s["id"] for s in reloaded.data["relationships"]["sequenceSteps"]["data"]] == [1, 2]


async def test_pause_resume_finish_follow_the_state_rules(api: Api, events: list[Event]) -> None:
    _, state = await _enrolled(api)
    path = f"/sequenceStates/{state['id']}/actions"

    async def act(name: str) -> Any:
        return await api.action(f"{path}/{name}")

    resumed_too_early = await act("resume")
    assert (resumed_too_early.status, resumed_too_early.error["id"]) == (422, "validationError")
    paused = await act("pause")
    assert (paused.status, paused.data["attributes"]["state"]) == (200, "paused")
    assert (await act("pause")).status == 422
    resumed = await act("resume")
    assert resumed.data["attributes"]["state"] == "active"
    finished = await act("finish")
    assert finished.data["attributes"]["state"] == "finished"
    assert (await act("finish")).status == 422
    assert (await act("pause")).status == 422
    actions = [(t, a) for t, a, _, _ in events if t == "sequenceState"]
    assert actions == [
        ("sequenceState", "created"),
        ("sequenceState", "updated"),
        ("sequenceState", "updated"),
        ("sequenceState", "finished"),
    ]
    before = next(b for t, a, _, b in events if a == "finished")
    assert before is not None
    assert before["attributes"]["state"] == "active"


async def test_enrolling_twice_or_in_a_locked_sequence_is_422(
    api: Api, outreach_sandbox: Sandbox
) -> None:
    sequence, _state = await _enrolled(api)
    again = await api.post(
        "/sequenceStates",
        {
            "data": {
                "type": "sequenceState",
                "relationships": {
                    "prospect": ref("prospect", 1),
                    "sequence": ref("sequence", sequence["id"]),
                    "mailbox": ref("mailbox", 1),
                },
            }
        },
    )
    assert again.status == 422
    assert "already in progress for this person" in again.error["detail"]

    await api.create("prospect", "/prospects", attributes={"firstName": "Katie"})
    outreach_sandbox.store.update("sequence", sequence["id"], {"locked": True})
    locked = await api.post(
        "/sequenceStates",
        {
            "data": {
                "type": "sequenceState",
                "relationships": {
                    "prospect": ref("prospect", 2),
                    "sequence": ref("sequence", sequence["id"]),
                    "mailbox": ref("mailbox", 1),
                },
            }
        },
    )
    assert (locked.status, locked.error["detail"]) == (422, "Sequence is locked.")


async def test_sequences_activate_and_deactivate(api: Api) -> None:
    sequence = await api.create("sequence", "/sequences", attributes={"name": "S"})
    assert sequence["attributes"]["enabled"] is False
    on = await api.action(f"/sequences/{sequence['id']}/actions/activate")
    assert on.data["attributes"]["enabled"] is True
    assert on.data["attributes"]["enabledAt"] is not None
    off = await api.action(f"/sequences/{sequence['id']}/actions/deactivate")
    assert off.data["attributes"]["enabled"] is False


# -- tasks -------------------------------------------------------------------------------------


async def _task(api: Api, **attributes: Any) -> dict[str, Any]:
    prospect = await api.create("prospect", "/prospects", attributes={"firstName": "T"})
    return await api.create(
        "task",
        "/tasks",
        attributes={"action": "call", **attributes},
        relationships={"subject": ref("prospect", prospect["id"]), "owner": ref("user", 1)},
    )


async def test_mark_complete_then_again_is_422(api: Api, events: list[Event]) -> None:
    task = await _task(api)
    path = f"/tasks/{task['id']}/actions/markComplete"
    reply = await api.action(path, {"actionParams[completionNote]": "I completed this"})

    assert reply.status == 200
    attributes = reply.data["attributes"]
    assert (attributes["state"], attributes["completed"]) == ("complete", True)
    assert attributes["completedAt"] is not None
    assert attributes["note"] == "I completed this"
    assert reply.data["relationships"]["completer"] == ref("user", 1)
    assert ("task", "completed", task["id"]) in [e[:3] for e in events]
    assert (await api.action(path)).status == 422


async def test_completing_a_sequence_task_advances_or_finishes_its_state(
    api: Api, outreach_sandbox: Sandbox
) -> None:
    _, state = await _enrolled(api)
    store = outreach_sandbox.store
    first, second = (await _task(api)), (await _task(api))
    for task in (first, second):
        store.update("task", task["id"], relationships={"sequenceState": state["id"]})

    await api.action(f"/tasks/{first['id']}/actions/markComplete")
    advanced = (await api.get(f"/sequenceStates/{state['id']}")).data
    assert advanced["relationships"]["sequenceStep"] == ref("sequenceStep", 2)
    await api.action(
        f"/tasks/{second['id']}/actions/markComplete",
        {"actionParams[completionAction]": "finish_no_reply"},
    )
    finished = (await api.get(f"/sequenceStates/{state['id']}")).data
    assert finished["attributes"]["state"] == "finished"


async def test_snooze_defaults_to_a_day_after_the_later_of_now_and_due(api: Api) -> None:
    task = await _task(api, dueAt="2020-01-01T00:00:00.000Z")
    before = dt.datetime.now(dt.UTC)
    snoozed = await api.action(f"/tasks/{task['id']}/actions/snooze")
    due = dt.datetime.fromisoformat(snoozed.data["attributes"]["dueAt"])
    assert (
        dt.timedelta(days=1) - dt.timedelta(seconds=1)
        <= due - before
        <= dt.timedelta(days=1, seconds=5)
    )
    explicit = await api.action(
        f"/tasks/{task['id']}/actions/snooze", {"actionParams[dueAt]": "2031-02-03"}
    )
    assert explicit.data["attributes"]["dueAt"] == "2031-02-03T00:00:00.000Z"


@pytest.mark.parametrize(
    ("action", "params", "status", "parameter"),
    [
        ("reschedule", {}, 400, "actionParams[dueAt]"),
        ("reschedule", {"actionParams[dueAt]": "tomorrow"}, 400, "actionParams[dueAt]"),
        (
            "updateNote",
            {"actionParams[note]": "n", "actionParams[color]": "red"},
            400,
            "actionParams[color]",
        ),
        ("logMeetInPerson", {}, 400, "actionParams[taskDispositionId]"),
        ("reassignOwner", {"actionParams[ownerId]": "999"}, 422, None),
        ("frobnicate", {}, 404, None),
    ],
)
async def test_bad_action_params_and_unknown_actions(
    api: Api, action: str, params: dict[str, str], status: int, parameter: str | None
) -> None:
    task = await _task(api)
    reply = await api.action(f"/tasks/{task['id']}/actions/{action}", params)
    assert reply.status == status, reply.body
    if status == 400:
        assert "id" not in reply.error  # the facts' table: bad action params carry no id
        assert reply.error["source"] == {"parameter": parameter}


async def test_field_actions_change_their_field(api: Api) -> None:
    task = await _task(api)
    base = f"/tasks/{task['id']}/actions"
    rescheduled = await api.action(
        f"{base}/reschedule", {"actionParams[dueAt]": "2030-01-01T09:30:00Z"}
    )
    assert rescheduled.data["attributes"]["dueAt"] == "2030-01-01T09:30:00.000Z"
    noted = await api.action(f"{base}/updateNote", {"actionParams[note]": "call back"})
    assert noted.data["attributes"]["note"] == "call back"
    user = await api.create("user", "/users", attributes={"email": "rep@example.com"})
    moved = await api.action(f"{base}/reassignOwner", {"actionParams[ownerId]": str(user["id"])})
    assert moved.data["relationships"]["owner"] == ref("user", user["id"])


async def test_actions_on_the_wrong_resource_or_method(api: Api) -> None:
    assert (await api.action("/tasks/999/actions/markComplete")).status == 404
    assert (await api.action("/accounts/1/actions/markComplete")).status == 404
    got = await api.call("GET", "/sequences/1/actions/activate", content_type=None)
    assert got.status in (404, 405)


# -- calls completing tasks --------------------------------------------------------------------


async def test_a_call_completes_its_task_only_when_asked(api: Api, events: list[Event]) -> None:
    open_task, other = await _task(api), await _task(api)
    calls = {"direction": "outbound", "outcome": "completed"}
    await api.create(
        "call",
        "/calls",
        attributes=calls,
        relationships={"task": ref("task", other["id"]), "user": ref("user", 1)},
    )
    untouched = (await api.get(f"/tasks/{other['id']}")).data
    assert untouched["attributes"]["state"] == "incomplete"

    call = await api.create(
        "call",
        "/calls",
        attributes={**calls, "note": "Meeting Booked!"},
        relationships={"task": {**ref("task", open_task["id"]), "meta": {"complete": True}}},
    )
    done = (await api.get(f"/tasks/{open_task['id']}")).data
    assert done["attributes"]["state"] == "complete"
    assert done["relationships"]["call"] == ref("call", call["id"])
    assert call["relationships"]["prospect"] == open_task["relationships"]["prospect"]
    assert ("task", "completed", open_task["id"]) in [e[:3] for e in events]


# -- compliance requests -----------------------------------------------------------------------


async def test_a_compliance_request_advances_on_each_read_and_deletes_the_prospect(
    api: Api, outreach_sandbox: Sandbox
) -> None:
    prospect = await api.create(
        "prospect", "/prospects", attributes={"emails": ["prospect_email@example.com"]}
    )
    reply = await api.post(
        "/complianceRequests",
        {
            "data": {
                "type": "complianceRequest",
                "attributes": {
                    "requester_email": "admin@example.com",
                    "request_type": "Delete",
                    "object_type": "Prospect",
                    "request_object_email": "prospect_email@example.com",
                },
            }
        },
    )

    assert reply.status == 201
    assert set(reply.body) == {"data"}
    batch = reply.data["batch_compliance_request_id"]
    assert set(reply.data) == {"batch_compliance_request_id"}
    states = []
    for _ in range(4):
        listed = await api.get("/complianceRequests", {"filter[batchComplianceRequest]": batch})
        (request,) = listed.data
        states.append(request["attributes"]["state"])
    assert states == ["pending", "running", "done", "done"]
    assert request["attributes"]["batchComplianceRequestUuid"] == batch
    assert request["relationships"]["requester"] == ref("user", 1)
    assert outreach_sandbox.store.get("prospect", prospect["id"]) is None


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"request_type": "Export"}, "/data/attributes/request_type"),
        ({"request_object_email": None}, "/data/attributes/request_object_email"),
    ],
)
async def test_compliance_request_validation(
    api: Api, attributes: dict[str, Any], pointer: str
) -> None:
    base = {
        "requester_email": "admin@example.com",
        "request_type": "Delete",
        "object_type": "Prospect",
        "request_object_email": "p@example.com",
    }
    document = {"data": {"type": "complianceRequest", "attributes": {**base, **attributes}}}
    reply = await api.post("/complianceRequests", document)
    assert (reply.status, reply.error["source"]) == (422, {"pointer": pointer})


async def test_mailbox_test_actions_stamp_success(api: Api) -> None:
    reply = await api.action("/mailboxes/1/actions/testSend")
    assert reply.data["attributes"]["sendSuccessAt"] is not None
