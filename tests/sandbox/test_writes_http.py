"""Writes over loopback HTTP: POST, PATCH, DELETE and each error Outreach answers (facts §6-7)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from outreach_async.sandbox import Sandbox
from outreach_async.sandbox.webhooks import sign_body

from .conftest import Api, Receiver, ref

pytestmark = pytest.mark.outreach_sandbox(seed=20)


# -- create, update, delete ---------------------------------------------------------------------


async def test_post_answers_201_with_the_whole_resource(api: Api) -> None:
    reply = await api.post(
        "/accounts", {"data": {"type": "account", "attributes": {"name": "Acme"}}}
    )

    assert reply.status == 201
    account = reply.data
    assert isinstance(account["id"], int)
    assert account["attributes"]["name"] == "Acme"
    assert account["attributes"]["createdAt"] == account["attributes"]["updatedAt"]
    assert account["attributes"]["createdAt"].endswith("Z")
    assert len(account["attributes"]["createdAt"]) == len("2024-07-26T06:27:17.000Z")
    assert account["attributes"]["domain"] is None
    assert reply.headers["Location"] == account["links"]["self"]
    assert api.sandbox.store.get("account", account["id"]) is not None


async def test_patch_changes_only_the_given_fields_and_bumps_updated_at(api: Api) -> None:
    created = await api.create(
        "prospect", "/prospects", attributes={"firstName": "Sally", "title": "CEO"}
    )
    path = f"/prospects/{created['id']}"
    reply = await api.patch(
        path,
        {
            "data": {
                "type": "prospect",
                "id": created["id"],
                "attributes": {"lastName": "Smith"},
                "relationships": {"owner": ref("user", 1)},
            }
        },
    )

    assert reply.status == 200
    after = reply.data["attributes"]
    assert (after["firstName"], after["lastName"], after["title"]) == ("Sally", "Smith", "CEO")
    assert after["name"] == "Sally Smith"
    assert reply.data["relationships"]["owner"] == ref("user", 1)
    assert after["updatedAt"] > created["attributes"]["updatedAt"]
    assert after["createdAt"] == created["attributes"]["createdAt"]

    same = await api.patch(
        path, {"data": {"type": "prospect", "id": created["id"], "attributes": {"title": "CEO"}}}
    )
    assert same.data["attributes"]["updatedAt"] == after["updatedAt"]  # nothing changed


async def test_delete_answers_204_and_the_record_is_gone(api: Api) -> None:
    created = await api.create("account", "/accounts", attributes={"name": "Doomed"})
    reply = await api.delete(f"/accounts/{created['id']}")
    assert (reply.status, reply.body) == (204, None)
    again = await api.get(f"/accounts/{created['id']}")
    assert (again.status, again.error["id"]) == (404, "resourceNotFound")
    twice = await api.delete(f"/accounts/{created['id']}")
    assert twice.status == 404


async def test_datetime_attributes_are_stored_in_the_api_form(api: Api) -> None:
    task = await api.create(
        "task",
        "/tasks",
        attributes={"action": "call", "dueAt": "2024-05-01T12:00:00+02:00"},
        relationships={"subject": ref("prospect", 1)},
    )
    assert task["attributes"]["dueAt"] == "2024-05-01T10:00:00.000Z"
    assert task["attributes"]["taskType"] == "manual"  # API-created tasks (facts §8.1)
    assert task["relationships"]["prospect"] == ref("prospect", 1)


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "content_type"),
    [("POST", None), ("POST", "application/json"), ("PATCH", "text/plain")],
)
async def test_a_write_without_the_jsonapi_media_type_is_415(
    api: Api, method: str, content_type: str | None
) -> None:
    path = "/accounts" if method == "POST" else "/accounts/1"
    document = {"data": {"type": "account", "id": 1, "attributes": {"name": "X"}}}
    reply = await api.call(method, path, document, content_type=content_type)
    assert reply.status == 415
    assert reply.error == {
        "id": "unsupportedMediaType",
        "title": "Unsupported Media Type",
        "details": "Expected Content-Type header to be 'application/vnd.api+json'.",
    }


@pytest.mark.parametrize(
    ("attributes", "name"),
    [
        ({"linkedinUrl": "x"}, "linkedinUrl"),
        ({"createdAt": "2024-01-01"}, "createdAt"),
        ({"openCount": 3}, "openCount"),
    ],
)
async def test_unknown_or_read_only_attributes_are_400(
    api: Api, attributes: dict[str, Any], name: str
) -> None:
    reply = await api.post("/prospects", {"data": {"type": "prospect", "attributes": attributes}})
    assert reply.status == 400
    assert reply.error["id"] == "permittedParams.unknownAttribute"
    assert reply.error["source"] == {"pointer": f"/data/attributes/{name}"}


@pytest.mark.parametrize("name", ["creator", "tasks", "nonsense"])
async def test_unknown_or_unwritable_relationships_are_400(api: Api, name: str) -> None:
    document = {"data": {"type": "prospect", "relationships": {name: ref("user", 1)}}}
    reply = await api.post("/prospects", document)
    assert (reply.status, reply.error["id"]) == (400, "permittedParams.unknownRelationship")


@pytest.mark.parametrize(
    ("path", "document", "detail", "pointer"),
    [
        (
            "/accounts",
            {"data": {"type": "account", "attributes": {}}},
            "Name can't be blank.",
            "/data/attributes/name",
        ),
        (
            "/accounts",
            {"data": {"type": "account", "attributes": {"name": ""}}},
            "Name can't be blank.",
            "/data/attributes/name",
        ),
        (
            "/sequenceStates",
            {
                "data": {
                    "type": "sequenceState",
                    "relationships": {
                        "prospect": ref("prospect", 1),
                        "sequence": ref("sequence", 1),
                    },
                }
            },
            "Mailbox must exist.",
            "/data/relationships/mailbox",
        ),
        (
            "/calls",
            {"data": {"type": "call", "attributes": {"direction": "outbound"}}},
            "Outcome can't be blank.",
            "/data/attributes/outcome",
        ),
        ("/accounts", [{"type": "account"}], None, "/data"),
        (
            "/accounts",
            {"data": {"type": "prospect", "attributes": {"name": "X"}}},
            None,
            "/data/type",
        ),
        (
            "/tasks",
            {"data": {"type": "task", "attributes": {"action": "call", "dueAt": "soon"}}},
            "Due at must be a valid datetime.",
            "/data/attributes/dueAt",
        ),
        (
            "/accounts",
            {"data": {"type": "account", "attributes": {"name": 7}}},
            None,
            "/data/attributes/name",
        ),
        (
            "/prospects",
            {"data": {"type": "prospect", "relationships": {"account": ref("account", 999999)}}},
            None,
            "/data/relationships/account/data",
        ),
        (
            "/prospects",
            {
                "data": {
                    "type": "prospect",
                    "relationships": {"account": {"data": {"type": "account", "id": "1"}}},
                }
            },
            None,
            "/data/relationships/account/data/id",
        ),
    ],
)
async def test_validation_errors_are_422_with_a_pointer(
    api: Api, path: str, document: Any, detail: str | None, pointer: str
) -> None:
    reply = await api.post(path, document)
    assert reply.status == 422, reply.body
    assert reply.error["id"] == "validationError"
    assert reply.error["title"] == "Validation Error"
    assert reply.error["source"] == {"pointer": pointer}
    if detail is not None:
        assert reply.error["detail"] == detail


async def test_duplicate_prospect_email_is_422_not_409(api: Api) -> None:
    first = await api.create("prospect", "/prospects", attributes={"emails": ["Dup@Example.com"]})
    reply = await api.post(
        "/prospects", {"data": {"type": "prospect", "attributes": {"emails": ["dup@example.com"]}}}
    )
    assert reply.status == 422
    assert reply.error["detail"] == "Contacts email hash has already been taken."
    assert reply.error["source"] == {"pointer": "/data/attributes/emails"}

    other = await api.create("prospect", "/prospects", attributes={"emails": ["other@example.com"]})
    patched = await api.patch(
        f"/prospects/{other['id']}",
        {
            "data": {
                "type": "prospect",
                "id": other["id"],
                "attributes": {"emails": ["DUP@example.com"]},
            }
        },
    )
    assert (patched.status, patched.error["id"]) == (422, "validationDuplicateValueError")
    assert patched.error["detail"] == "A Contact with this email_hash already exists."
    keep = await api.patch(
        f"/prospects/{first['id']}",
        {
            "data": {
                "type": "prospect",
                "id": first["id"],
                "attributes": {"emails": ["dup@example.com"]},
            }
        },
    )
    assert keep.status == 200  # its own address is no duplicate


async def test_excluded_email_domains_are_refused(api: Api, outreach_sandbox: Sandbox) -> None:
    outreach_sandbox.store.table("orgSetting").add(
        {"id": 1, "attributes": {"prospectEmailExclusions": "rival.example"}, "relationships": {}}
    )
    reply = await api.post(
        "/prospects",
        {"data": {"type": "prospect", "attributes": {"emails": ["a@mail.rival.example"]}}},
    )
    assert reply.status == 422
    assert reply.error["detail"] == "Contacts contact is using an excluded email address."


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"type": "account"}, "/data/id"),
        ({"type": "account", "id": 2}, "/data/id"),
        ({"id": 1}, "/data/type"),
    ],
)
async def test_patch_needs_type_and_the_matching_id(
    api: Api, attributes: dict[str, Any], pointer: str
) -> None:
    reply = await api.patch("/accounts/1", {"data": {"attributes": {"name": "X"}, **attributes}})
    assert (reply.status, reply.error["source"]) == (422, {"pointer": pointer})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/calls/1"),
        ("DELETE", "/users/1"),
        ("POST", "/events"),
        ("DELETE", "/events/1"),
        ("GET", "/kaiaVoiceImports"),
        ("PUT", "/accounts/1"),
        ("DELETE", "/accounts"),
    ],
)
async def test_operations_an_endpoint_lacks_are_405(api: Api, method: str, path: str) -> None:
    reply = await api.call(method, path, {"data": {"type": "x", "id": 1}})
    assert (reply.status, reply.error["id"]) == (405, "methodNotAllowed")


async def test_a_body_that_is_not_json_is_400(api: Api) -> None:
    reply = await api.call("POST", "/accounts", raw=b"{nope")
    assert (reply.status, reply.error["id"]) == (400, "invalidJson")


async def test_a_client_id_on_create_is_ignored(api: Api) -> None:
    next_id = api.sandbox.store.table("ruleset").next_id  # the seed has rulesets of its own
    reply = await api.post(
        "/rulesets", {"data": {"type": "ruleset", "id": 77, "attributes": {"name": "R"}}}
    )
    assert reply.status == 201
    assert reply.data["id"] == next_id != 77


# -- users and webhooks -----------------------------------------------------------------------


async def test_users_honour_send_invite(api: Api, outreach_sandbox: Sandbox) -> None:
    invited = await api.create("user", "/users", attributes={"email": "foo@bar.com"})
    quiet = await api.create(
        "user", "/users", attributes={"email": "baz@bar.com"}, meta={"sendInvite": False}
    )
    assert outreach_sandbox.store.invites == {invited["id"]: True, quiet["id"]: False}
    duplicate = await api.post(
        "/users", {"data": {"type": "user", "attributes": {"email": "FOO@bar.com"}}}
    )
    assert duplicate.status == 422
    email_change = await api.patch(
        f"/users/{invited['id']}",
        {"data": {"type": "user", "id": invited["id"], "attributes": {"email": "new@bar.com"}}},
    )
    assert (email_change.status, email_change.error["id"]) == (
        400,
        "permittedParams.unknownAttribute",
    )


async def test_webhooks_default_to_every_resource_and_action(api: Api) -> None:
    hook = await api.create("webhook", "/webhooks", attributes={"url": "https://foo.bar/webhooks"})
    attributes = hook["attributes"]
    assert (attributes["resource"], attributes["action"]) == ("*", "*")
    assert (attributes["active"], attributes["secret"]) == (True, None)
    plain = await api.post(
        "/webhooks", {"data": {"type": "webhook", "attributes": {"url": "http://foo.bar/hook"}}}
    )
    assert (plain.status, plain.error["source"]) == (422, {"pointer": "/data/attributes/url"})


async def test_writes_reach_registered_webhooks_signed(
    api: Api,
    outreach_sandbox: Sandbox,
    receiver: Receiver,
) -> None:
    received = receiver.received
    url = receiver.url()
    await api.create(
        "webhook", "/webhooks", attributes={"url": url, "resource": "prospect", "secret": "s3cret"}
    )
    sally = await api.create("prospect", "/prospects", attributes={"firstName": "Sally"})
    await api.patch(
        f"/prospects/{sally['id']}",
        {"data": {"type": "prospect", "id": sally["id"], "attributes": {"title": "CEO"}}},
    )
    await api.delete(f"/prospects/{sally['id']}")
    await api.create("account", "/accounts", attributes={"name": "Not watched"})
    await asyncio.wait_for(outreach_sandbox.on_own_loop(outreach_sandbox.dispatcher.drain()), 5)

    # Deliveries run concurrently (Outreach promises no order either): compare them by name.
    by_name = {orjson.loads(body)["meta"]["eventName"]: body for body, _ in received}
    assert sorted(by_name) == ["prospect.created", "prospect.destroyed", "prospect.updated"]
    assert len(received) == 3
    for body, headers in received:
        assert headers["Outreach-Webhook-Signature"] == sign_body(body, "s3cret")
    updated = orjson.loads(by_name["prospect.updated"])["data"]
    assert updated["id"] == sally["id"]
    assert set(updated["attributes"]) == {"title", "updatedAt"}
