"""What mutation testing of ``webhooks/_events`` showed untested (issue 17): both shapes of
``beforeUpdate``, relationships carrying only links or meta, dotted actions, and the exact
message of every rejection."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from outreach_async._exceptions import WebhookPayloadError
from outreach_async._relationships import ToOne
from outreach_async.models import Prospect, Task
from outreach_async.webhooks import parse_event


def event(data: dict[str, Any], **top: Any) -> bytes:
    meta = {"eventName": f"{data['type']}.updated", "jobId": "job-1"}
    return orjson.dumps({"data": data, "meta": meta, **top})


def task(**extra: Any) -> dict[str, Any]:
    return {"type": "task", "id": 7, "attributes": {"state": "completed"}, **extra}


def test_before_update_as_a_resource_object_with_or_without_its_own_id() -> None:
    before = {"attributes": {"state": "incomplete"}}
    parsed = parse_event(event(task(), beforeUpdate=before), {}, secret=None)
    assert isinstance(parsed.before, Task)
    assert (parsed.before.id, parsed.before.state) == (7, "incomplete")
    own_id = {"id": 8, "attributes": {"state": "incomplete"}}
    parsed = parse_event(event(task(), beforeUpdate=own_id), {}, secret=None)
    assert isinstance(parsed.before, Task)
    assert parsed.before.id == 8


def test_before_update_as_the_prior_values_themselves() -> None:
    parsed = parse_event(event(task(), beforeUpdate={"state": "incomplete"}), {}, secret=None)
    assert isinstance(parsed.before, Task)
    assert (parsed.before.id, parsed.before.state) == (7, "incomplete")


def test_relationships_with_only_links_or_only_meta_are_kept_as_they_came() -> None:
    data = {
        "type": "prospect",
        "id": 1,
        "attributes": {},
        "relationships": {
            "owner": {"links": {"related": "https://x/users/2"}},
            "account": {"meta": {"deleted": True}},
            "stage": None,
        },
    }
    resource = parse_event(event(data), {}, secret=None).resource
    assert isinstance(resource, Prospect)
    owner, account, stage = resource.owner, resource.account, resource.stage
    assert isinstance(owner, ToOne)
    assert (owner.id, owner.related) == (None, "https://x/users/2")
    assert isinstance(account, ToOne)
    assert (account.id, account.meta) == (None, {"deleted": True})
    assert isinstance(stage, ToOne)
    assert stage.is_null


def test_an_unknown_type_with_flattened_relationships() -> None:
    data = {"type": "widget", "id": 1, "relationships": {"owner": {"type": "owner", "id": 2}}}
    parsed = parse_event(event(data), {}, secret=None)
    assert (parsed.resource, parsed.changed) == (None, ("owner",))


def test_an_action_may_contain_dots() -> None:
    body = orjson.dumps({"data": task(), "meta": {"eventName": "task.state.changed"}})
    parsed = parse_event(body, {}, secret=None)
    assert (parsed.name, parsed.resource_type, parsed.action) == (
        "task.state.changed",
        "task",
        "state.changed",
    )


def test_an_empty_job_id_is_no_job_id() -> None:
    body = orjson.dumps({"data": task(), "meta": {"eventName": "task.updated", "jobId": ""}})
    parsed = parse_event(body, {}, secret=None)
    assert parsed.job_id is None
    assert parsed.id.startswith("sha256:")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "the webhook body is not JSON: "),
        (b"[]", "the webhook body has no 'data' object"),
        (orjson.dumps({"data": {"id": 1}}), "the webhook's data has no 'type'"),
        (orjson.dumps({"data": {"type": "task"}}), "the webhook body has no 'meta' object"),
        (
            orjson.dumps({"data": {"type": "task"}, "meta": {"eventName": "task"}}),
            "meta.eventName is not '<type>.<action>': 'task'",
        ),
        (
            orjson.dumps({"data": {"type": "task"}, "meta": {"eventName": ".done"}}),
            "meta.eventName is not '<type>.<action>': '.done'",
        ),
        (
            event({"type": "task", "attributes": "x"}),
            "data.attributes and data.relationships must be objects",
        ),
        (
            event({"type": "task", "relationships": {"owner": 5}}),
            "relationship 'owner' is not a resource identifier: 5",
        ),
        (event(task(), beforeUpdate=[1]), "beforeUpdate is not an object"),
        (
            event(task(), beforeUpdate={"attributes": "x"}),
            "cannot read the task resource: ",
        ),
    ],
)
def test_each_rejection_says_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(WebhookPayloadError, match="^" + re.escape(message)):
        parse_event(body, {}, secret=None)


def test_an_empty_secret_is_refused_with_the_way_out() -> None:
    message = "the webhook secret is empty; pass secret=None to skip verification"
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        parse_event(event(task()), {}, secret="")
