"""Every example of Outreach's "Common patterns" document, through the client, against the
sandbox over loopback: the request on the wire (method, path, query, body) and the typed result."""

from __future__ import annotations

import datetime as dt

import pytest

from outreach_async import (
    UNSET,
    Account,
    Call,
    ComplianceRequest,
    Event,
    OutreachClient,
    Prospect,
    Ref,
    Ruleset,
    Sequence,
    SequenceState,
    SequenceStep,
    SequenceTemplate,
    Snippet,
    Task,
    Template,
    ToMany,
    ToOne,
    User,
    Webhook,
)
from outreach_async.sandbox import Sandbox

from .conftest import last_request

pytestmark = pytest.mark.outreach_sandbox(seed=None)


async def _acme_and_sally(outreach: OutreachClient) -> tuple[Account, Prospect]:
    acme = await outreach.accounts.create(Account(name="Acme"))
    sally = await outreach.prospects.create(
        Prospect(
            emails=["sally.smith@acme.example.com"], first_name="Sally", title="CEO", account=acme
        )
    )
    return acme, sally


async def test_add_an_account(outreach: OutreachClient, outreach_sandbox: Sandbox) -> None:
    acme = await outreach.accounts.create(Account(name="Acme"))

    sent = last_request(outreach_sandbox)
    assert (sent.method, sent.path) == ("POST", "/api/v2/accounts")
    assert sent.body == {"data": {"type": "account", "attributes": {"name": "Acme"}}}
    assert sent.headers["Content-Type"] == "application/vnd.api+json"
    assert isinstance(acme.id, int)
    assert acme.name == "Acme"
    assert isinstance(acme.created_at, dt.datetime)
    assert acme.created_at.tzinfo is not None
    assert isinstance(acme.prospects, ToMany)
    assert acme.prospects.related is not None
    assert f"filter%5Baccount%5D%5Bid%5D={acme.id}" in acme.prospects.related


async def test_add_a_prospect_to_an_account(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    acme, sally = await _acme_and_sally(outreach)

    sent = last_request(outreach_sandbox)
    assert (sent.method, sent.path) == ("POST", "/api/v2/prospects")
    assert sent.body == {
        "data": {
            "type": "prospect",
            "attributes": {
                "emails": ["sally.smith@acme.example.com"],
                "firstName": "Sally",
                "title": "CEO",
            },
            "relationships": {"account": {"data": {"type": "account", "id": acme.id}}},
        }
    }
    assert sally.first_name == "Sally"
    assert sally.emails == ["sally.smith@acme.example.com"]
    assert isinstance(sally.account, ToOne)
    assert sally.account.id == acme.id
    assert isinstance(acme.prospects, ToMany)
    async for prospect in acme.prospects:  # the related link now lists her
        assert prospect.id == sally.id


async def test_update_a_prospect_patches_exactly_the_given_fields(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    _, sally = await _acme_and_sally(outreach)
    assert sally.id is not None

    updated = await outreach.prospects.update(sally.id, last_name="Smith", owner=Ref("user", 1))

    sent = last_request(outreach_sandbox)
    assert (sent.method, sent.path) == ("PATCH", f"/api/v2/prospects/{sally.id}")
    assert sent.body == {
        "data": {
            "type": "prospect",
            "id": sally.id,
            "attributes": {"lastName": "Smith"},
            "relationships": {"owner": {"data": {"type": "user", "id": 1}}},
        }
    }
    assert updated.last_name == "Smith"
    assert updated.first_name == "Sally"  # untouched fields stay
    assert isinstance(updated.owner, ToOne)
    assert updated.owner.id == 1
    assert isinstance(updated.updated_at, dt.datetime)


async def test_update_of_a_read_model_sends_only_what_changed(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    _, sally = await _acme_and_sally(outreach)
    sally.last_name = "Smith"
    await outreach.prospects.update(sally)
    sent = last_request(outreach_sandbox, "PATCH")
    assert sent.body == {
        "data": {"type": "prospect", "id": sally.id, "attributes": {"lastName": "Smith"}}
    }


async def test_setup_a_sequence_with_a_step_and_a_ruleset(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    sequence = await outreach.sequences.create(
        Sequence(description="Primary Sales Sequence", name="Primary", sequence_type="interval")
    )
    assert last_request(outreach_sandbox).body == {
        "data": {
            "type": "sequence",
            "attributes": {
                "description": "Primary Sales Sequence",
                "name": "Primary",
                "sequenceType": "interval",
            },
        }
    }
    step = await outreach.sequence_steps.create(
        SequenceStep(interval=120, step_type="call", sequence=sequence)
    )
    assert last_request(outreach_sandbox).body == {
        "data": {
            "type": "sequenceStep",
            "attributes": {"interval": 120, "stepType": "call"},
            "relationships": {"sequence": {"data": {"type": "sequence", "id": sequence.id}}},
        }
    }
    assert step.step_type == "call"
    ruleset = await outreach.rulesets.create(
        Ruleset(
            auto_resume_ooto_prospects=True,
            name="Custom Ruleset",
            permit_duplicate_prospects="onlyIfActive",
        )
    )
    assert ruleset.name == "Custom Ruleset"
    assert sequence.id is not None
    sequence = await outreach.sequences.update(sequence.id, ruleset=ruleset)

    sent = last_request(outreach_sandbox)
    assert (sent.method, sent.path) == ("PATCH", f"/api/v2/sequences/{sequence.id}")
    assert sent.body == {
        "data": {
            "type": "sequence",
            "id": sequence.id,
            "relationships": {"ruleset": {"data": {"type": "ruleset", "id": ruleset.id}}},
        }
    }
    assert isinstance(sequence.ruleset, ToOne)
    assert sequence.ruleset.id == ruleset.id


async def test_snippets_and_templates(outreach: OutreachClient, outreach_sandbox: Sandbox) -> None:
    snippet = await outreach.snippets.create(
        Snippet(
            body_html="<p>Would you please include in your response ...</p>",
            name="Request for Information",
        )
    )
    assert last_request(outreach_sandbox).body == {
        "data": {
            "type": "snippet",
            "attributes": {
                "bodyHtml": "<p>Would you please include in your response ...</p>",
                "name": "Request for Information",
            },
        }
    }
    assert isinstance(snippet.owner, ToOne)
    assert snippet.owner.id == 1

    template = await outreach.templates.create(
        Template(
            body_html="<p>I'd like to introduce you to our new product...",
            cc_recipients=["product@company.example.com"],
            name="Product Announcement",
        )
    )
    assert isinstance(template.mailings, ToMany)
    assert template.mailings.related is not None
    sequence = await outreach.sequences.create(Sequence(name="S", sequence_type="interval"))
    step = await outreach.sequence_steps.create(
        SequenceStep(interval=2880, step_type="auto_email", sequence=sequence)
    )
    sequence_template = await outreach.sequence_templates.create(
        SequenceTemplate(sequence_step=step, template=template)
    )
    assert last_request(outreach_sandbox).body == {
        "data": {
            "type": "sequenceTemplate",
            "relationships": {
                "sequenceStep": {"data": {"type": "sequenceStep", "id": step.id}},
                "template": {"data": {"type": "template", "id": template.id}},
            },
        }
    }
    assert isinstance(sequence_template.template, ToOne)
    assert sequence_template.template.id == template.id

    unnamed = await outreach.templates.create(
        Template(body_html="<h1>Greetings!</h1>", subject="Hello prospect")
    )
    assert unnamed.subject == "Hello prospect"


async def test_add_a_prospect_to_a_sequence_and_finish_it(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    _, sally = await _acme_and_sally(outreach)
    sequence = await outreach.sequences.create(Sequence(name="Primary", sequence_type="interval"))
    await outreach.sequence_steps.create(
        SequenceStep(interval=120, step_type="call", sequence=sequence)
    )

    state = await outreach.sequence_states.create(
        SequenceState(prospect=sally, sequence=sequence, mailbox=Ref("mailbox", 1))
    )
    assert last_request(outreach_sandbox).body == {
        "data": {
            "type": "sequenceState",
            "relationships": {
                "mailbox": {"data": {"type": "mailbox", "id": 1}},
                "prospect": {"data": {"type": "prospect", "id": sally.id}},
                "sequence": {"data": {"type": "sequence", "id": sequence.id}},
            },
        }
    }
    assert state.state == "active"
    assert isinstance(state.sequence_step, ToOne)
    assert state.sequence_step.id is not None
    assert state.id is not None

    finished = await outreach.sequence_states.finish(state.id)
    sent = last_request(outreach_sandbox)
    assert (sent.method, sent.path, sent.body) == (
        "POST",
        f"/api/v2/sequenceStates/{state.id}/actions/finish",
        None,
    )
    assert finished.state == "finished"


async def test_discover_open_tasks_with_their_prospects_included(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    _, sally = await _acme_and_sally(outreach)
    await outreach.tasks.create(
        Task(action="call", note="ring her", owner=Ref("user", 1), subject=sally)
    )
    await outreach.tasks.create(Task(action="email", owner=Ref("user", 1), subject=sally))
    requests_before = len(outreach_sandbox.requests)

    tasks = outreach.tasks.list(
        filter={"state": "incomplete", "owner": {"id": 1}}, include=["prospect"]
    )
    found = await tasks.collect()

    sent = last_request(outreach_sandbox)
    assert (sent.method, sent.path) == ("GET", "/api/v2/tasks")
    assert dict(sent.query) == {
        "filter[state]": "incomplete",
        "filter[owner][id]": "1",
        "include": "prospect",
    }
    assert [t.action for t in found] == ["call", "email"]
    for task in found:
        assert isinstance(task, Task)
        assert isinstance(task.prospect, ToOne)
        prospect = await task.prospect.fetch()  # from `included`: no request
        assert prospect is not None
        assert prospect.first_name == "Sally"
    assert len(outreach_sandbox.requests) == requests_before + 1


async def test_log_external_calls(outreach: OutreachClient, outreach_sandbox: Sandbox) -> None:
    _, sally = await _acme_and_sally(outreach)
    call = await outreach.calls.create(
        Call(
            answered_at=dt.datetime(2017, 1, 1, 12, 0, 15, tzinfo=dt.UTC),
            completed_at=dt.datetime(2017, 1, 1, 12, 0, 0, tzinfo=dt.UTC),
            direction="outbound",
            outcome="completed",
            prospect=sally,
            user=Ref("user", 1),
        )
    )
    body = last_request(outreach_sandbox).body
    assert body["data"]["attributes"] == {
        "answeredAt": "2017-01-01T12:00:15.000Z",
        "completedAt": "2017-01-01T12:00:00.000Z",
        "direction": "outbound",
        "outcome": "completed",
    }
    assert body["data"]["relationships"] == {
        "prospect": {"data": {"type": "prospect", "id": sally.id}},
        "user": {"data": {"type": "user", "id": 1}},
    }
    assert call.answered_at == dt.datetime(2017, 1, 1, 12, 0, 15, tzinfo=dt.UTC)

    task = await outreach.tasks.create(Task(action="call", owner=Ref("user", 1), subject=sally))
    assert task.id is not None
    await outreach.calls.create(
        Call(
            direction="outbound",
            outcome="no_answer",
            prospect=sally,
            task=task,
            user=Ref("user", 1),
        )
    )
    assert (await outreach.tasks.get(task.id)).state == "incomplete"  # associated, not affected

    await outreach.calls.create(
        Call(
            direction="outbound",
            note="Meeting Booked!",
            outcome="completed",
            prospect=sally,
            task=Ref("task", task.id, meta={"complete": True}),
            user=Ref("user", 1),
        )
    )
    assert last_request(outreach_sandbox).body["data"]["relationships"]["task"] == {
        "data": {"type": "task", "id": task.id},
        "meta": {"complete": True},
    }
    assert (await outreach.tasks.get(task.id)).state == "complete"


async def test_calls_cannot_be_updated_and_events_are_read_only(outreach: OutreachClient) -> None:
    from outreach_async import UnsupportedOperationError

    with pytest.raises(UnsupportedOperationError, match="update"):
        await outreach.calls.update(1, note="x")
    with pytest.raises(UnsupportedOperationError, match="create"):
        await outreach.events.create(Event(name="x"))


@pytest.mark.outreach_sandbox(seed=50)
async def test_download_event_activity_newest_first(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    events = await outreach.events.list(sort="-updatedAt").collect()
    sent = last_request(outreach_sandbox)
    assert (sent.path, dict(sent.query)) == ("/api/v2/events", {"sort": "-updatedAt"})
    assert events
    assert all(isinstance(e, Event) for e in events)
    stamps = [e.updated_at for e in events]
    assert stamps == sorted(stamps, reverse=True)  # datetimes, typed as such


@pytest.mark.outreach_sandbox(seed=30)
async def test_collect_statistics_with_sparse_fieldsets(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    prospects = await outreach.prospects.list(
        fields={Prospect: ["click_count", "open_count", "reply_count"]}
    ).collect()
    sent = last_request(outreach_sandbox)
    assert dict(sent.query) == {"fields[prospect]": "clickCount,openCount,replyCount"}
    assert len(prospects) == 30
    for prospect in prospects:
        assert isinstance(prospect.click_count, int)
        assert isinstance(prospect.open_count, int)
        assert prospect.first_name is UNSET  # not carried: not None


async def test_respond_to_platform_events_by_creating_a_webhook(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    webhook = await outreach.webhooks.create(
        Webhook(action="completed", resource="task", url="https://foo.bar/webhooks")
    )
    assert last_request(outreach_sandbox).body == {
        "data": {
            "type": "webhook",
            "attributes": {
                "action": "completed",
                "resource": "task",
                "url": "https://foo.bar/webhooks",
            },
        }
    }
    assert webhook.active is True
    assert webhook.secret is None


async def test_invite_new_users_with_and_without_an_email(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    invited = await outreach.users.create(
        User(email="foo@bar.com", first_name="Foo", last_name="Bar")
    )
    assert last_request(outreach_sandbox).body == {
        "data": {
            "type": "user",
            "attributes": {"email": "foo@bar.com", "firstName": "Foo", "lastName": "Bar"},
        }
    }
    assert invited.email == "foo@bar.com"
    quiet = await outreach.users.create(
        User(email="baz@bar.com", first_name="Baz", last_name="Bar"), meta={"sendInvite": False}
    )
    assert last_request(outreach_sandbox).body["data"]["meta"] == {"sendInvite": False}
    assert quiet.id != invited.id


async def test_create_a_compliance_request_and_follow_its_batch(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    await _acme_and_sally(outreach)
    batch_id = await outreach.compliance_requests.submit(
        requester_email="admin@example.com", request_object_email="sally.smith@acme.example.com"
    )
    assert last_request(outreach_sandbox).body == {
        "data": {
            "type": "complianceRequest",
            "attributes": {
                "requester_email": "admin@example.com",
                "request_type": "Delete",
                "object_type": "Prospect",
                "request_object_email": "sally.smith@acme.example.com",
            },
        }
    }
    states = []
    for _ in range(4):
        requests = await outreach.compliance_requests.for_batch(batch_id).collect()
        assert all(isinstance(r, ComplianceRequest) for r in requests)
        states.append(requests[0].state)
    sent = last_request(outreach_sandbox)
    assert dict(sent.query) == {"filter[batchComplianceRequest]": batch_id}
    assert states[0] == "pending"
    assert states[-1] == "done"
