"""Every example of Outreach's "Common patterns" document, as raw HTTP against the sandbox.

The request documents are the document's own (JavaScript object literals written as JSON); the
assertions are what its answers show. The client-level versions live in tests/integration.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any

import orjson
import pytest

from outreach_async.sandbox import Sandbox

from .conftest import Api, Receiver, ref

pytestmark = pytest.mark.outreach_sandbox(seed=None)


async def _ok(reply: Any, status: int = 201) -> dict[str, Any]:
    assert reply.status == status, reply.body
    data: dict[str, Any] = reply.data
    return data


async def _acme_and_sally(api: Api) -> None:
    await _ok(
        await api.post("/accounts", {"data": {"type": "account", "attributes": {"name": "Acme"}}})
    )
    await _ok(
        await api.post(
            "/prospects",
            {
                "data": {
                    "type": "prospect",
                    "attributes": {
                        "emails": ["sally.smith@acme.example.com"],
                        "firstName": "Sally",
                        "title": "CEO",
                    },
                    "relationships": {"account": {"data": {"type": "account", "id": 1}}},
                }
            },
        )
    )


async def _primary_sequence(api: Api) -> None:
    await _ok(
        await api.post(
            "/sequences",
            {
                "data": {
                    "type": "sequence",
                    "attributes": {
                        "description": "Primary Sales Sequence",
                        "name": "Primary",
                        "sequenceType": "interval",
                    },
                }
            },
        )
    )
    await _ok(
        await api.post(
            "/sequenceSteps",
            {
                "data": {
                    "type": "sequenceStep",
                    "attributes": {"interval": 120, "stepType": "call"},
                    "relationships": {"sequence": {"data": {"type": "sequence", "id": 1}}},
                }
            },
        )
    )


# -- Manage Prospects and Accounts ------------------------------------------------------------


async def test_add_a_new_account(api: Api) -> None:
    account = await _ok(
        await api.post("/accounts", {"data": {"type": "account", "attributes": {"name": "Acme"}}})
    )
    assert (account["type"], account["id"], account["attributes"]["name"]) == ("account", 1, "Acme")
    assert account["attributes"]["createdAt"] == account["attributes"]["updatedAt"]
    related = account["relationships"]["prospects"]
    assert related == {
        "links": {"related": f"{api.sandbox.base_url}/prospects?filter%5Baccount%5D%5Bid%5D=1"}
    }
    empty = await api.get(related["links"]["related"])  # "you would receive an empty response"
    assert empty.body == {"data": []}


async def test_add_a_prospect_to_the_account_then_update_it(api: Api) -> None:
    await _acme_and_sally(api)
    sally = (await api.get("/prospects/1")).data
    assert sally["attributes"]["emails"] == ["sally.smith@acme.example.com"]
    assert sally["relationships"]["account"] == {"data": {"type": "account", "id": 1}}

    updated = await _ok(
        await api.patch(
            "/prospects/1",
            {
                "data": {
                    "type": "prospect",
                    "id": 1,
                    "attributes": {"lastName": "Smith"},
                    "relationships": {"owner": {"data": {"type": "user", "id": 1}}},
                }
            },
        ),
        200,
    )
    attributes = updated["attributes"]
    assert (attributes["firstName"], attributes["lastName"], attributes["title"]) == (
        "Sally",
        "Smith",
        "CEO",
    )
    assert attributes["updatedAt"] > attributes["createdAt"]
    assert updated["relationships"]["account"] == ref("account", 1)
    assert updated["relationships"]["owner"] == ref("user", 1)
    listed = await api.get("/prospects", {"filter[account][id]": "1"})
    assert [p["id"] for p in listed.data] == [1]


# -- Setup and Manage Sequences ----------------------------------------------------------------


async def test_sequence_step_and_ruleset(api: Api) -> None:
    await _primary_sequence(api)
    ruleset = await _ok(
        await api.post(
            "/rulesets",
            {
                "data": {
                    "type": "ruleset",
                    "id": 1,
                    "attributes": {
                        "autoResumeOotoProspects": True,
                        "name": "Custom Ruleset",
                        "permitDuplicateProspects": "onlyIfActive",
                    },
                }
            },
        )
    )
    assert ruleset["id"] == 1
    sequence = await _ok(
        await api.patch(
            "/sequences/1",
            {
                "data": {
                    "type": "sequence",
                    "id": 1,
                    "relationships": {"ruleset": {"data": {"type": "ruleset", "id": 1}}},
                }
            },
        ),
        200,
    )
    assert sequence["relationships"]["ruleset"] == ref("ruleset", 1)
    assert sequence["attributes"]["sequenceType"] == "interval"
    step = (await api.get("/sequenceSteps/1")).data
    assert (step["attributes"]["interval"], step["attributes"]["stepType"]) == (120, "call")
    assert step["relationships"]["sequence"] == ref("sequence", 1)


# -- Save Snippets and Templates ---------------------------------------------------------------


async def test_snippets_templates_and_sequence_templates(api: Api) -> None:
    snippet = await _ok(
        await api.post(
            "/snippets",
            {
                "data": {
                    "type": "snippet",
                    "attributes": {
                        "bodyHtml": "<p>Would you please include in your response ...</p>",
                        "name": "Request for Information",
                    },
                }
            },
        )
    )
    assert snippet["relationships"]["owner"] == ref("user", 1)
    template = await _ok(
        await api.post(
            "/templates",
            {
                "data": {
                    "type": "template",
                    "attributes": {
                        "bodyHtml": "<p>I'd like to introduce you to our new product...",
                        "ccRecipients": ["product@company.example.com"],
                        "name": "Product Announcement",
                    },
                }
            },
        )
    )
    assert template["relationships"]["owner"] == ref("user", 1)
    await _primary_sequence(api)
    step = await _ok(
        await api.post(
            "/sequenceSteps",
            {
                "data": {
                    "type": "sequenceStep",
                    "attributes": {"interval": 2880, "stepType": "auto_email"},
                    "relationships": {"sequence": {"data": {"type": "sequence", "id": 1}}},
                }
            },
        )
    )
    assert step["attributes"]["order"] == 2
    pairing = await _ok(
        await api.post(
            "/sequenceTemplates",
            {
                "data": {
                    "type": "sequenceTemplate",
                    "relationships": {
                        "sequenceStep": {"data": {"type": "sequenceStep", "id": 1}},
                        "template": {"data": {"type": "template", "id": 1}},
                    },
                }
            },
        )
    )
    assert pairing["relationships"]["template"] == ref("template", 1)

    unnamed = await _ok(
        await api.post(
            "/templates",
            {
                "data": {
                    "type": "template",
                    "attributes": {"bodyHtml": "<h1>Greetings!</h1>", "subject": "Hello prospect"},
                }
            },
        )
    )
    index = await api.get("/templates")  # "unavailable ... from the API index action"
    assert [t["id"] for t in index.data] == [template["id"]]
    assert (await api.get(f"/templates/{unnamed['id']}")).status == 200
    assert (await api.delete(f"/sequenceTemplates/{pairing['id']}")).status == 204


# -- Add Prospects to Sequences ----------------------------------------------------------------


async def test_enroll_then_finish(api: Api) -> None:
    await _acme_and_sally(api)
    await _primary_sequence(api)
    state = await _ok(
        await api.post(
            "/sequenceStates",
            {
                "data": {
                    "type": "sequenceState",
                    "relationships": {
                        "prospect": {"data": {"type": "prospect", "id": 1}},
                        "sequence": {"data": {"type": "sequence", "id": 1}},
                        "mailbox": {"data": {"type": "mailbox", "id": 1}},
                    },
                }
            },
        )
    )
    assert state["attributes"]["state"] == "active"
    assert state["attributes"]["stateChangedAt"] is not None
    for name, expected in [("prospect", 1), ("sequence", 1), ("sequenceStep", 1), ("mailbox", 1)]:
        assert state["relationships"][name] == ref(name, expected)

    finished = await _ok(await api.action("/sequenceStates/1/actions/finish"), 200)
    assert finished["attributes"]["state"] == "finished"


# -- Discover Open Tasks -----------------------------------------------------------------------


async def test_open_tasks_of_a_user_with_their_prospects(api: Api) -> None:
    await _acme_and_sally(api)
    for action in ("call", "email", "in_person"):
        await api.create(
            "task",
            "/tasks",
            attributes={"action": action},
            relationships={"subject": ref("prospect", 1), "owner": ref("user", 1)},
        )
    await api.action("/tasks/3/actions/markComplete")

    reply = await api.get("/tasks?filter[state]=incomplete&filter[owner][id]=1&include=prospect")
    assert [(t["id"], t["attributes"]["action"]) for t in reply.data] == [(1, "call"), (2, "email")]
    assert [(p["type"], p["id"]) for p in reply.body["included"]] == [("prospect", 1)]
    assert reply.body["included"][0]["attributes"]["firstName"] == "Sally"


# -- Log External Calls ------------------------------------------------------------------------


async def test_log_calls_with_and_without_completing_the_task(api: Api) -> None:
    await _acme_and_sally(api)
    await api.create(
        "task",
        "/tasks",
        attributes={"action": "call"},
        relationships={"subject": ref("prospect", 1), "owner": ref("user", 1)},
    )
    plain = await _ok(
        await api.post(
            "/calls",
            {
                "data": {
                    "type": "call",
                    "attributes": {
                        "answeredAt": "2017-01-01T12:00:15",
                        "completedAt": "2017-01-01T12:00:00",
                        "direction": "outbound",
                        "outcome": "completed",
                    },
                    "relationships": {
                        "prospect": {"data": {"type": "prospect", "id": 1}},
                        "user": {"data": {"type": "user", "id": 1}},
                    },
                }
            },
        )
    )
    assert plain["attributes"]["answeredAt"] == "2017-01-01T12:00:15.000Z"

    await _ok(
        await api.post(
            "/calls",
            {
                "data": {
                    "type": "call",
                    "attributes": {"direction": "outbound", "outcome": "no_answer"},
                    "relationships": {
                        "prospect": {"data": {"type": "prospect", "id": 1}},
                        "task": {"data": {"type": "task", "id": 1}},
                        "user": {"data": {"type": "user", "id": 1}},
                    },
                }
            },
        )
    )
    assert (await api.get("/tasks/1")).data["attributes"]["state"] == "incomplete"

    booked = await _ok(
        await api.post(
            "/calls",
            {
                "data": {
                    "type": "call",
                    "attributes": {
                        "direction": "outbound",
                        "note": "Meeting Booked!",
                        "outcome": "completed",
                    },
                    "relationships": {
                        "prospect": {"data": {"type": "prospect", "id": 1}},
                        "task": {"data": {"type": "task", "id": 1}, "meta": {"complete": True}},
                        "user": {"data": {"type": "user", "id": 1}},
                    },
                }
            },
        )
    )
    task = (await api.get("/tasks/1")).data
    assert task["attributes"]["state"] == "complete"
    assert task["relationships"]["call"] == ref("call", booked["id"])


# -- Download Event Activity and Collect Platform Statistics ----------------------------------


@pytest.mark.outreach_sandbox(seed=60)
async def test_most_recent_events_and_prospect_statistics(api: Api) -> None:
    events = await api.get("/events?sort=-updatedAt")
    assert events.status == 200
    stamps = [e["attributes"]["updatedAt"] for e in events.data]
    assert stamps == sorted(stamps, reverse=True)
    assert all(e["type"] == "event" and e["attributes"]["name"] for e in events.data)

    stats = await api.get("/prospects?fields[prospect]=clickCount,openCount,replyCount")
    assert stats.data
    for prospect in stats.data:
        assert set(prospect["attributes"]) == {"clickCount", "openCount", "replyCount"}
        assert all(isinstance(v, int) for v in prospect["attributes"].values())


# -- Respond to Platform Events ----------------------------------------------------------------


async def test_create_a_webhook_for_completed_tasks(api: Api) -> None:
    hook = await _ok(
        await api.post(
            "/webhooks",
            {
                "data": {
                    "type": "webhook",
                    "attributes": {
                        "action": "completed",
                        "resource": "task",
                        "url": "https://foo.bar/webhooks",
                    },
                }
            },
        )
    )
    assert hook["id"] == 1
    assert {
        k: hook["attributes"][k] for k in ("action", "active", "resource", "secret", "url")
    } == {
        "action": "completed",
        "active": True,
        "resource": "task",
        "secret": None,
        "url": "https://foo.bar/webhooks",
    }


async def test_a_task_completed_event_is_delivered_signed(
    api: Api,
    outreach_sandbox: Sandbox,
    receiver: Receiver,
) -> None:
    await _ok(
        await api.post(
            "/webhooks",
            {
                "data": {
                    "type": "webhook",
                    "attributes": {
                        "action": "completed",
                        "resource": "task",
                        "url": receiver.url(),
                        "secret": "foo",
                    },
                }
            },
        )
    )
    await _acme_and_sally(api)
    await api.create(
        "task",
        "/tasks",
        attributes={"action": "call"},
        relationships={"subject": ref("prospect", 1)},
    )
    await api.action("/tasks/1/actions/markComplete")
    await asyncio.wait_for(outreach_sandbox.on_own_loop(outreach_sandbox.dispatcher.drain()), 5)

    ((body, headers),) = receiver.received  # only task.completed: not creates, not other types
    assert (
        headers["Outreach-Webhook-Signature"] == hmac.new(b"foo", body, hashlib.sha256).hexdigest()
    )
    payload = orjson.loads(body)
    assert (payload["data"]["type"], payload["data"]["id"]) == ("task", 1)
    assert payload["data"]["attributes"]["completed"] is True
    assert payload["data"]["attributes"]["completedAt"] is not None
    assert payload["meta"]["eventName"] == "task.completed"
    assert payload["meta"]["deliveredAt"]


# -- Invite New Users --------------------------------------------------------------------------


async def test_invite_users_with_and_without_an_email(api: Api, outreach_sandbox: Sandbox) -> None:
    invited = await _ok(
        await api.post(
            "/users",
            {
                "data": {
                    "type": "user",
                    "attributes": {"email": "foo@bar.com", "firstName": "Foo", "lastName": "Bar"},
                }
            },
        )
    )
    assert (invited["attributes"]["email"], invited["attributes"]["firstName"]) == (
        "foo@bar.com",
        "Foo",
    )
    quiet = await _ok(
        await api.post(
            "/users",
            {
                "data": {
                    "type": "user",
                    "attributes": {"email": "foo2@bar.com", "firstName": "Foo", "lastName": "Bar"},
                    "meta": {"sendInvite": False},
                }
            },
        )
    )
    assert outreach_sandbox.store.invites == {invited["id"]: True, quiet["id"]: False}


# -- Create Compliance Requests ----------------------------------------------------------------


async def test_submit_and_follow_a_compliance_request(api: Api) -> None:
    await api.create(
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
    batch = (await _ok(reply))["batch_compliance_request_id"]
    assert len(batch) == 36
    states = []
    for _ in range(3):
        listed = await api.get(f"/complianceRequests?filter[batchComplianceRequest]={batch}")
        states += [r["attributes"]["state"] for r in listed.data]
    assert states == ["pending", "running", "done"]
    gone = await api.get("/prospects", {"filter[emails]": "prospect_email@example.com"})
    assert gone.body == {"data": []}
