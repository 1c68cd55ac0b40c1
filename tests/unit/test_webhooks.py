"""Webhooks: signature checks and event parsing (pure), then the receiver served on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

import attrs
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from outreach_async import OutreachError, ToMany, ToOne, WebhookVerificationError
from outreach_async._types import UNSET
from outreach_async.models import Account, Prospect, Sequence, Task
from outreach_async.webhooks import (
    WEBHOOK_STATS,
    WebhookEvent,
    WebhookPayloadError,
    parse_event,
    verify_signature,
    webhook_app,
)

SECRET = "s3cret"

# Payloads quoted in outreach-api-facts.md §9 and the developer guide ("Respond to Platform
# Events").
BAL_V1 = (
    b'{"data":{"type":"sequence","id":54,"attributes":{"updatedAt":"2019-08-15T19:52:07.000Z",'
    b'"throttleMaxAddsPerDay":70},"relationships":{}},"meta":{"deliveredAt":'
    b'"2019-08-15T19:52:07.697+00:00","eventName":"sequence.updated"}}'
)
AMP_2025 = (
    b'{"data":{"type":"account","id":1234,"attributes":{"name":"Acme","updatedAt":'
    b'"2025-11-04T09:40:36.000Z"},"relationships":{"owner":{"type":"owner","id":2}}},'
    b'"meta":{"deliveredAt":"2025-11-04T01:40:36.795-08:00","eventName":"account.created",'
    b'"jobId":"0f6a3c1e-2b9d-4c7a-9e51-7d3f2a8b6c40"}}'
)
# The guide's example puts meta inside data and sends a timestamp without an offset.
GUIDE_TASK_COMPLETED = (
    b'{"data":{"type":"task","id":1,"attributes":{"completed":true,'
    b'"completedAt":"2017-01-01T00:00:00","state":"completed"},'
    b'"meta":{"deliveredAt":"2017-01-01T00:00:01","eventName":"task.completed"}}}'
)
LIFECYCLE_INSTALL = (
    b'{"data":{"type":"install","id":"INSTALL_ID","relationships":{"app":{"data":'
    b'{"type":"app","id":"S2S_GUID"}}}},"meta":{"deliveredAt":"2019-01-01T00:00:00",'
    b'"eventName":"install.created"}}'
)


def sign(body: bytes, secret: str | bytes = SECRET) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signed(body: bytes, secret: str = SECRET, **extra: str) -> dict[str, str]:
    return {"Outreach-Webhook-Signature": sign(body, secret), **extra}


def body_of(document: Mapping[str, Any]) -> bytes:
    return orjson.dumps(document)


def task_event(
    action: str = "completed", *, task_id: int = 7, attributes: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "data": {
            "type": "task",
            "id": task_id,
            "attributes": dict(attributes or {"state": "completed"}),
            "relationships": {},
        },
        "meta": {
            "deliveredAt": "2024-05-01T10:00:00.000+00:00",
            "eventName": f"task.{action}",
            "jobId": f"job-{task_id}",
        },
    }


# ================================================================ verify_signature


def test_verify_signature_matches_the_rfc_4231_hmac_sha256_vector() -> None:
    # RFC 4231 test case 2: an answer computed outside this code base.
    digest = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert verify_signature(b"what do ya want for nothing?", digest, "Jefe")
    assert verify_signature(b"what do ya want for nothing?", digest, b"Jefe")
    assert not verify_signature(b"what do ya want for nothing!", digest, "Jefe")


@given(body=st.binary(max_size=512), secret=st.text(min_size=1) | st.binary(min_size=1))
def test_any_body_verifies_with_its_own_hmac(body: bytes, secret: str | bytes) -> None:
    signature = sign(body, secret)
    assert verify_signature(body, signature, secret)
    assert verify_signature(body, signature.upper(), secret)
    assert verify_signature(body, f"sha256={signature}", secret)
    assert verify_signature(body, f" {signature}\n", secret)


@given(
    body=st.binary(min_size=1, max_size=256),
    secret=st.text(min_size=1, max_size=40),
    data=st.data(),
)
def test_a_flipped_bit_fails(body: bytes, secret: str, data: st.DataObject) -> None:
    signature = sign(body, secret)
    index = data.draw(st.integers(0, len(body) - 1))
    bit = data.draw(st.integers(0, 7))
    tampered = bytearray(body)
    tampered[index] ^= 1 << bit
    assert not verify_signature(bytes(tampered), signature, secret)
    position = data.draw(st.integers(0, len(signature) - 1))
    flipped = "0" if signature[position] != "0" else "1"
    bad_signature = signature[:position] + flipped + signature[position + 1 :]
    assert not verify_signature(body, bad_signature, secret)
    assert not verify_signature(body, signature, secret + "x")


@given(
    signature=st.none()
    | st.text()
    | st.from_regex(r"(sha256=)?[0-9a-fA-F]{0,70}", fullmatch=True)
    | st.binary().map(lambda b: b.decode("latin-1")),
    body=st.binary(max_size=64),
)
def test_garbage_signatures_are_false_and_never_raise(signature: str | None, body: bytes) -> None:
    assert verify_signature(body, signature, SECRET) is False


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "   ",
        "sha256=",
        "sha1=" + "a" * 64,
        "g" * 64,
        "a" * 63,
        "a" * 65,
        "\uff10" * 64,  # full-width zeros: Unicode digits must not pass as hex
    ],
)
def test_missing_empty_and_malformed_signatures_are_false(signature: str | None) -> None:
    assert verify_signature(b"{}", signature, SECRET) is False


def test_a_non_string_signature_is_false() -> None:
    assert verify_signature(b"{}", sign(b"{}").encode(), SECRET) is False  # type: ignore[arg-type]


def test_an_empty_secret_never_verifies() -> None:
    # An unset secret must not become a key anyone can sign with.
    assert verify_signature(b"{}", sign(b"{}", b""), "") is False
    assert verify_signature(b"{}", sign(b"{}", b""), b"") is False


#: what may arrive as a header value or be configured as a secret: any text (non-ASCII, lone
#: surrogates in signatures, Unicode digits and spaces), bytes read as latin-1, or nothing
ANY_SIGNATURE = (
    st.none()
    | st.text(st.characters(codec=None))
    | st.from_regex(r"\s*(sha256=|SHA256=)?[0-9a-fA-F]{60,68}\s*", fullmatch=True)
    | st.binary().map(lambda b: b.decode("latin-1"))
)
ANY_SECRET = st.text(st.characters(exclude_categories=["Cs"])) | st.binary()


def accepted_form(signature: str | None) -> str | None:
    """What the docstring accepts: hex in either case, surrounding spaces, a sha256= prefix."""
    if signature is None:
        return None
    return signature.strip().lower().removeprefix("sha256=")


@given(body=st.binary(max_size=64), signature=ANY_SIGNATURE, secret=ANY_SECRET)
def test_verify_never_raises_and_is_true_exactly_for_the_bodys_hmac(
    body: bytes, signature: str | None, secret: str | bytes
) -> None:
    # hmac.compare_digest raises TypeError on non-ASCII text: only hex may reach it
    expected = bool(secret) and accepted_form(signature) == sign(body, secret)
    assert verify_signature(body, signature, secret) is expected


@given(body=st.binary(max_size=64), data=st.data())
def test_only_the_whole_digest_verifies(body: bytes, data: st.DataObject) -> None:
    """A prefix, an extension or a truncation of the right digest is refused: the comparison
    is between two whole 64-character digests, not up to the shorter one."""
    digest = sign(body)
    cut = data.draw(st.integers(0, len(digest) - 1))
    extra = data.draw(st.text("0123456789abcdef", min_size=1, max_size=8))
    for wrong in (digest[:cut], digest + extra, digest[cut:] if cut else digest[1:]):
        assert verify_signature(body, wrong, SECRET) is False
    assert verify_signature(body, digest, SECRET) is True


# ================================================================ parse_event: real samples


def test_the_v1_sample_from_a_real_delivery() -> None:
    event = parse_event(BAL_V1, signed(BAL_V1), secret=SECRET)
    assert (event.name, event.resource_type, event.action) == (
        "sequence.updated",
        "sequence",
        "updated",
    )
    assert event.resource_id == 54
    assert isinstance(event.resource, Sequence)
    assert event.resource.id == 54
    assert event.resource.throttle_max_adds_per_day == 70
    assert event.resource.updated_at == dt.datetime(2019, 8, 15, 19, 52, 7, tzinfo=dt.UTC)
    assert event.resource.name is UNSET  # not carried, not guessed
    assert event.changed == ("updated_at", "throttle_max_adds_per_day")
    assert event.delivered_at == dt.datetime(2019, 8, 15, 19, 52, 7, 697000, tzinfo=dt.UTC)
    assert event.before is None
    assert event.raw_before is None
    assert event.job_id is None
    assert event.delivery_id is None
    assert event.raw == orjson.loads(BAL_V1)["data"]
    assert event.id == "sha256:" + hashlib.sha256(BAL_V1).hexdigest()


def test_the_2025_sample_with_flattened_relationships_and_a_local_offset() -> None:
    event = parse_event(AMP_2025, {}, secret=None)
    assert isinstance(event.resource, Account)
    assert event.resource.name == "Acme"
    # "owner": {"type": "owner", "id": 2} names the relationship; the owner is a user.
    assert event.resource.owner == ToOne("user", 2)
    assert event.changed == ("name", "updated_at", "owner")
    assert event.delivered_at is not None
    assert event.delivered_at.utcoffset() == dt.timedelta(hours=-8)
    assert event.delivered_at == dt.datetime(2025, 11, 4, 9, 40, 36, 795000, tzinfo=dt.UTC)
    assert event.job_id == "0f6a3c1e-2b9d-4c7a-9e51-7d3f2a8b6c40"
    assert event.id == event.job_id  # no delivery header: the job id is the dedup key
    assert event.raw["relationships"] == {"owner": {"type": "owner", "id": 2}}  # as delivered


def test_the_guide_example_with_meta_inside_data_and_no_offset() -> None:
    event = parse_event(GUIDE_TASK_COMPLETED, {}, secret=None)
    assert event.name == "task.completed"
    assert isinstance(event.resource, Task)
    assert event.resource.completed is True
    assert event.resource.state == "completed"
    assert event.resource.completed_at == dt.datetime(2017, 1, 1, tzinfo=dt.UTC)
    assert event.delivered_at == dt.datetime(2017, 1, 1, 0, 0, 1, tzinfo=dt.UTC)


def test_an_unknown_type_keeps_its_raw_data_and_has_no_model() -> None:
    event = parse_event(LIFECYCLE_INSTALL, {}, secret=None)
    assert (event.name, event.resource_type, event.action) == (
        "install.created",
        "install",
        "created",
    )
    assert event.resource is None
    assert event.resource_id == "INSTALL_ID"
    assert event.changed == ("app",)
    assert event.raw["relationships"]["app"]["data"]["id"] == "S2S_GUID"


# ================================================================ parse_event: shapes


def test_v2_before_update_gives_a_model_of_the_prior_values() -> None:
    document = task_event(attributes={"state": "completed", "updatedAt": "2024-05-01T10:00:00Z"})
    document["beforeUpdate"] = {
        "type": "task",
        "id": 7,
        "attributes": {"state": "incomplete", "updatedAt": "2024-04-30T08:00:00Z"},
    }
    event = parse_event(body_of(document), {}, secret=None)
    assert isinstance(event.resource, Task)
    assert isinstance(event.before, Task)
    assert (event.before.state, event.resource.state) == ("incomplete", "completed")
    assert event.before.updated_at == dt.datetime(2024, 4, 30, 8, tzinfo=dt.UTC)
    assert event.before.id == 7
    assert event.before.due_at is UNSET
    for name in event.changed:  # every changed field can be compared before and after
        assert getattr(event.before, name) != getattr(event.resource, name)
    assert event.raw_before == document["beforeUpdate"]


def test_before_update_as_bare_attributes_is_read_too() -> None:
    document = task_event(attributes={"state": "completed"})
    document["beforeUpdate"] = {"state": "incomplete"}
    event = parse_event(body_of(document), {}, secret=None)
    assert isinstance(event.before, Task)
    assert event.before.state == "incomplete"
    assert event.before.id == 7


def test_wrapped_relationships_become_handles() -> None:
    document = {
        "data": {
            "type": "prospect",
            "id": 11,
            "attributes": {"firstName": "Ada"},
            "relationships": {
                "account": {"data": {"type": "account", "id": 5}},
                "owner": {"data": None},
                "assignedUsers": {"data": [{"type": "user", "id": 1}, {"type": "user", "id": 2}]},
            },
        },
        "meta": {"deliveredAt": "2024-05-01T10:00:00Z", "eventName": "prospect.updated"},
    }
    event = parse_event(body_of(document), {}, secret=None)
    assert isinstance(event.resource, Prospect)
    assert event.resource.first_name == "Ada"
    assert event.resource.account == ToOne("account", 5)
    assert event.resource.owner == ToOne("user", None)
    assert event.resource.assigned_users == ToMany("user", [1, 2])
    assert event.changed == ("first_name", "account", "owner", "assigned_users")


def test_flattened_relationships_of_every_cardinality() -> None:
    document = {
        "data": {
            "type": "prospect",
            "id": "11",  # a string id is tolerated and read as the integer it is
            "attributes": {},
            "relationships": {
                "account": {"type": "account", "id": 5},
                "owner": None,
                "assignedUsers": [{"type": "assignedUsers", "id": 3}],
                "somethingNew": {"type": "widget", "id": 9},
            },
        },
        "meta": {"deliveredAt": "2024-05-01T10:00:00Z", "eventName": "prospect.updated"},
    }
    event = parse_event(body_of(document), {}, secret=None)
    assert isinstance(event.resource, Prospect)
    assert event.resource_id == 11
    assert event.resource.id == 11
    assert event.resource.account == ToOne("account", 5)
    assert event.resource.owner == ToOne("user", None)
    assert event.resource.assigned_users == ToMany("user", [3])
    # a relationship the spec does not know is kept, by wire name, as the payload said
    assert event.resource.extra["somethingNew"] == ToOne("widget", 9)
    assert event.changed == ("account", "owner", "assigned_users", "somethingNew")


def test_a_polymorphic_flattened_relationship_keeps_a_real_type() -> None:
    document = task_event(attributes={"state": "incomplete"})
    document["data"]["relationships"] = {"subject": {"type": "account", "id": 4}}
    event = parse_event(body_of(document), {}, secret=None)
    assert isinstance(event.resource, Task)
    assert event.resource.subject == ToOne("account", 4)


def test_unknown_attributes_are_kept_and_named_as_sent() -> None:
    document = task_event(attributes={"state": "completed", "brandNewField": 1})
    event = parse_event(body_of(document), {}, secret=None)
    assert isinstance(event.resource, Task)
    assert event.resource.extra == {"brandNewField": 1}
    assert event.changed == ("state", "brandNewField")


def test_a_destroyed_event_carries_the_last_known_values() -> None:
    document = task_event(
        "destroyed", attributes={"state": "incomplete", "note": "call back", "dueAt": None}
    )
    event = parse_event(body_of(document), {}, secret=None)
    assert event.action == "destroyed"
    assert isinstance(event.resource, Task)
    assert event.resource.note == "call back"
    assert event.resource.due_at is None  # null on the wire, not UNSET
    assert event.changed == ("state", "note", "due_at")


def test_headers_are_read_in_any_case() -> None:
    body = body_of(task_event())
    headers = {
        "outreach-webhook-signature": sign(body),
        "OUTREACH-WEBHOOK-ID": "d-1",
        "Outreach-Org-Id": "42",
    }
    event = parse_event(body, headers, secret=SECRET)
    assert (event.delivery_id, event.org_id) == ("d-1", "42")
    assert event.id == "d-1"  # the delivery id wins over the job id


def test_events_are_frozen() -> None:
    event = parse_event(BAL_V1, {}, secret=None)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.name = "other"  # type: ignore[misc]


def test_a_malformed_delivered_at_does_not_lose_the_event() -> None:
    document = task_event()
    document["meta"]["deliveredAt"] = "yesterday"
    assert parse_event(body_of(document), {}, secret=None).delivered_at is None


# ================================================================ parse_event: rejections


def test_a_tampered_body_is_rejected() -> None:
    body = body_of(task_event())
    headers = signed(body)
    tampered = body.replace(b'"completed"', b'"incomplete"')
    assert tampered != body
    with pytest.raises(
        WebhookVerificationError, match=r"^Outreach-Webhook-Signature does not match the body$"
    ):
        parse_event(tampered, headers, secret=SECRET)


def test_a_wrong_secret_is_rejected() -> None:
    body = body_of(task_event())
    with pytest.raises(
        WebhookVerificationError, match=r"^Outreach-Webhook-Signature does not match the body$"
    ):
        parse_event(body, signed(body, "another secret"), secret=SECRET)


def test_a_missing_signature_is_rejected_when_a_secret_is_expected() -> None:
    with pytest.raises(WebhookVerificationError, match="no Outreach-Webhook-Signature"):
        parse_event(BAL_V1, {}, secret=SECRET)


def test_an_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        parse_event(BAL_V1, signed(BAL_V1), secret="")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"meta": {"eventName": "task.created"}}',
        b'{"data": [], "meta": {"eventName": "task.created"}}',
        b'{"data": {"id": 1}, "meta": {"eventName": "task.created"}}',
        b'{"data": {"type": "task", "id": 1}}',
        b'{"data": {"type": "task", "id": 1}, "meta": {}}',
        b'{"data": {"type": "task", "id": 1}, "meta": {"eventName": "created"}}',
        b'{"data": {"type": "task", "id": 1}, "meta": {"eventName": "task."}}',
        b'{"data": {"type": "task", "id": 1, "attributes": [1]}, "meta": {"eventName": "task.x"}}',
        b'{"data": {"type": "task", "id": 1, "relationships": {"owner": 3}},'
        b' "meta": {"eventName": "task.x"}}',
        b'{"data": {"type": "task", "id": 1}, "meta": {"eventName": "task.x"},'
        b' "beforeUpdate": [1]}',
    ],
)
def test_malformed_payloads_raise_the_payload_error(body: bytes) -> None:
    # Signed correctly: the sender holds the secret, the body is what is wrong.
    with pytest.raises(WebhookPayloadError) as caught:
        parse_event(body, signed(body), secret=SECRET)
    assert isinstance(caught.value, OutreachError)
    assert not isinstance(caught.value, WebhookVerificationError)


_json_leaf = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_names = st.sampled_from(["task", "prospect", "account", "sequence", "install", ""])
_data = st.fixed_dictionaries(
    {"type": _names | _json},
    optional={
        "id": _json,
        "attributes": st.dictionaries(
            st.sampled_from(["state", "dueAt", "updatedAt", "firstName", "x"]), _json
        )
        | _json,
        "relationships": st.dictionaries(
            st.sampled_from(["owner", "account", "assignedUsers", "subject", "y"]), _json
        )
        | _json,
    },
)
_documents = st.fixed_dictionaries(
    {},
    optional={
        "data": _data | _json,
        "meta": st.fixed_dictionaries(
            {},
            optional={
                "eventName": st.sampled_from(["task.completed", "x.y", "nodot"]) | _json,
                "deliveredAt": st.sampled_from(["2024-01-01T00:00:00Z", "bad"]) | _json,
                "jobId": _json,
            },
        )
        | _json,
        "beforeUpdate": _json,
    },
)


@given(document=_documents)
def test_parse_event_returns_an_event_or_raises_the_payload_error(document: Any) -> None:
    body = orjson.dumps(document)
    try:
        event = parse_event(body, {}, secret=None)
    except WebhookPayloadError:
        return
    assert isinstance(event, WebhookEvent)
    assert event.id.startswith("sha256:") or event.id == event.job_id


@given(body=st.binary(max_size=200))
def test_parse_event_on_arbitrary_bytes_never_raises_anything_else(body: bytes) -> None:
    with suppress(WebhookPayloadError):
        parse_event(body, {}, secret=None)


# ================================================================ webhook_app on loopback


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def post(
    client: TestClient[web.Request, web.Application],
    document: Mapping[str, Any],
    *,
    secret: str | None = SECRET,
    delivery_id: str | None = None,
    path: str = "/",
) -> int:
    body = body_of(document)
    headers = {"Content-Type": "application/vnd.api+json"}
    if secret is not None:
        headers["Outreach-Webhook-Signature"] = sign(body, secret)
    if delivery_id is not None:
        headers["Outreach-Webhook-ID"] = delivery_id
    # Outreach gives up after 5 s: a receiver slower than that has failed.
    async with asyncio.timeout(5), client.post(path, data=body, headers=headers) as answer:
        await answer.read()
        return answer.status


class Recorder:
    """An async handler that records events; optionally held at a gate."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.events: list[WebhookEvent] = []
        self.started = asyncio.Event()
        self.gate = gate

    async def __call__(self, event: WebhookEvent) -> None:
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        self.events.append(event)


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds; a broken receiver fails after 5 s instead of hanging."""
    async with asyncio.timeout(5):
        # Polling: the counters have no event to wait on, and thread-run handlers need real time.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


async def test_a_signed_event_reaches_the_handler_typed() -> None:
    recorder = Recorder()
    app = webhook_app(recorder, secret=SECRET)
    async with serving(app) as client:
        assert await post(client, task_event(), delivery_id="d-1") == 200
        await until(lambda: app[WEBHOOK_STATS].handled == 1)
    [event] = recorder.events
    assert event.name == "task.completed"
    assert isinstance(event.resource, Task)
    assert event.resource.state == "completed"
    assert event.delivery_id == "d-1"
    assert app[WEBHOOK_STATS].received == 1


async def test_a_bad_or_missing_signature_answers_401(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    app = webhook_app(recorder, secret=SECRET)
    async with serving(app) as client:
        assert await post(client, task_event(), secret="wrong") == 401
        assert await post(client, task_event(), secret=None) == 401
        body = body_of(task_event())
        headers = {"Outreach-Webhook-Signature": sign(body)}
        async with client.post("/", data=body + b" ", headers=headers) as answer:  # tampered
            assert answer.status == 401
    stats = app[WEBHOOK_STATS]
    assert (stats.received, stats.rejected, stats.handled) == (3, 3, 0)
    assert recorder.events == []
    assert any("rejected" in r.getMessage() for r in caplog.records)


async def test_a_malformed_signed_body_answers_400() -> None:
    recorder = Recorder()
    app = webhook_app(recorder, secret=SECRET)
    body = b'{"data": {"type": "task"}}'
    async with serving(app) as client:
        headers = {"Outreach-Webhook-Signature": sign(body)}
        async with client.post("/", data=body, headers=headers) as answer:
            assert answer.status == 400
    assert app[WEBHOOK_STATS].malformed == 1
    assert recorder.events == []


async def test_duplicates_answer_200_and_reach_the_handler_once() -> None:
    recorder = Recorder()
    app = webhook_app(recorder, secret=SECRET)
    async with serving(app) as client:
        assert await post(client, task_event(), delivery_id="d-1") == 200
        assert await post(client, task_event(), delivery_id="d-1") == 200
        # no delivery id: the same body has the same job id, which is the key then
        assert await post(client, task_event(task_id=8)) == 200
        assert await post(client, task_event(task_id=8)) == 200
        # another delivery of the same resource is a new event
        assert await post(client, task_event(), delivery_id="d-2") == 200
        await until(lambda: app[WEBHOOK_STATS].handled == 3)
    assert [e.id for e in recorder.events] == ["d-1", "job-8", "d-2"]
    assert app[WEBHOOK_STATS].duplicates == 2


async def test_the_dedup_window_forgets_the_oldest_ids() -> None:
    recorder = Recorder()
    app = webhook_app(recorder, secret=SECRET, dedup_window=1)
    async with serving(app) as client:
        for delivery_id in ("a", "b", "a"):
            assert await post(client, task_event(), delivery_id=delivery_id) == 200
        await until(lambda: app[WEBHOOK_STATS].handled == 3)
    assert [e.id for e in recorder.events] == ["a", "b", "a"]


async def test_the_ack_does_not_wait_for_a_slow_handler() -> None:
    gate = asyncio.Event()
    recorder = Recorder(gate)
    app = webhook_app(recorder, secret=SECRET)
    async with serving(app) as client:
        try:
            # Outreach waits 5 s; a loopback ack takes milliseconds. The gate opens only after
            # the answer came back.
            status = await asyncio.wait_for(post(client, task_event()), timeout=2)
            assert status == 200
            await asyncio.wait_for(recorder.started.wait(), timeout=5)
            assert recorder.events == []  # the handler is still at the gate
        finally:
            gate.set()  # a receiver that waits for its handler fails above instead of hanging
        await until(lambda: app[WEBHOOK_STATS].handled == 1)
    assert len(recorder.events) == 1


async def test_a_full_queue_answers_503_and_the_event_can_come_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = asyncio.Event()
    recorder = Recorder(gate)
    app = webhook_app(recorder, secret=SECRET, queue_size=1)
    async with serving(app) as client:
        assert await post(client, task_event(task_id=1)) == 200  # taken by the worker
        await asyncio.wait_for(recorder.started.wait(), timeout=5)
        assert await post(client, task_event(task_id=2)) == 200  # waits in the queue
        with caplog.at_level(logging.ERROR, logger="outreach_async.webhooks"):
            assert await post(client, task_event(task_id=3)) == 503
        assert app[WEBHOOK_STATS].dropped == 1
        [record] = [r for r in caplog.records if "queue full" in r.getMessage()]
        assert record.levelno == logging.ERROR
        assert "job-3" in record.getMessage()
        gate.set()
        await until(lambda: app[WEBHOOK_STATS].handled == 2)
        # a refused event was not remembered as seen: sent again, it is handled
        assert await post(client, task_event(task_id=3)) == 200
        await until(lambda: app[WEBHOOK_STATS].handled == 3)
    assert [e.resource_id for e in recorder.events] == [1, 2, 3]


async def test_a_failing_handler_is_logged_and_the_worker_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[int | str | None] = []

    async def handler(event: WebhookEvent) -> None:
        seen.append(event.resource_id)
        if event.resource_id == 1:
            raise RuntimeError("boom")

    app = webhook_app(handler, secret=SECRET)
    async with serving(app) as client:
        assert await post(client, task_event(task_id=1)) == 200
        assert await post(client, task_event(task_id=2)) == 200
        await until(lambda: app[WEBHOOK_STATS].handled == 1)
    assert seen == [1, 2]
    assert app[WEBHOOK_STATS].failed == 1
    [record] = [r for r in caplog.records if "handler failed" in r.getMessage()]
    assert record.exc_info is not None
    assert "boom" in str(record.exc_info[1])


async def test_a_sync_handler_runs_off_the_loop_without_delaying_acks() -> None:
    release = threading.Event()
    threads: list[int] = []

    def handler(event: WebhookEvent) -> None:
        threads.append(threading.get_ident())
        release.wait(timeout=5)  # blocks its thread, not the loop

    app = webhook_app(handler, secret=SECRET)
    async with serving(app) as client:
        try:
            assert await asyncio.wait_for(post(client, task_event(task_id=1)), timeout=2) == 200
            await until(lambda: bool(threads))
            assert await asyncio.wait_for(post(client, task_event(task_id=2)), timeout=2) == 200
        finally:
            release.set()
        await until(lambda: app[WEBHOOK_STATS].handled == 2)
    assert threading.get_ident() not in threads


async def test_shutdown_drains_the_queue() -> None:
    gate = asyncio.Event()
    recorder = Recorder(gate)
    app = webhook_app(recorder, secret=SECRET)

    async def open_gate(_app: web.Application) -> None:
        gate.set()  # on_shutdown runs before the cleanup that drains

    app.on_shutdown.append(open_gate)
    async with serving(app) as client:
        for task_id in (1, 2, 3):
            assert await post(client, task_event(task_id=task_id)) == 200
        await asyncio.wait_for(recorder.started.wait(), timeout=5)
        assert recorder.events == []
    assert [e.resource_id for e in recorder.events] == [1, 2, 3]
    assert app[WEBHOOK_STATS].handled == 3


async def test_shutdown_gives_up_on_a_stuck_handler_after_the_drain_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder(asyncio.Event())  # never opened
    app = webhook_app(recorder, secret=SECRET, drain_timeout=0.01)
    async with serving(app) as client:
        assert await post(client, task_event(task_id=1)) == 200
        assert await post(client, task_event(task_id=2)) == 200
        await asyncio.wait_for(recorder.started.wait(), timeout=5)
    assert any("1 events not handled" in r.getMessage() for r in caplog.records)
    assert app[WEBHOOK_STATS].handled == 0


async def test_several_workers_handle_events_concurrently() -> None:
    gate = asyncio.Event()
    running = 0
    peak = 0

    async def handler(event: WebhookEvent) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gate.wait()
        running -= 1

    app = webhook_app(handler, secret=SECRET, workers=3)
    async with serving(app) as client:
        for task_id in (1, 2, 3):
            assert await post(client, task_event(task_id=task_id)) == 200
        await until(lambda: peak == 3)
        gate.set()
        await until(lambda: app[WEBHOOK_STATS].handled == 3)


async def test_unsigned_deliveries_are_accepted_only_when_secret_is_none() -> None:
    recorder = Recorder()
    app = webhook_app(recorder, secret=None, path="/hooks/outreach")
    async with serving(app) as client:
        assert await post(client, task_event(), secret=None, path="/hooks/outreach") == 200
        assert await post(client, task_event(task_id=2), secret=None, path="/") == 404
        async with client.get("/hooks/outreach") as answer:
            assert answer.status == 405
        await until(lambda: app[WEBHOOK_STATS].handled == 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"secret": ""},
        {"secret": SECRET, "queue_size": 0},
        {"secret": SECRET, "workers": 0},
        {"secret": SECRET, "dedup_window": -1},
    ],
)
def test_webhook_app_rejects_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 -- each case has its own message
        webhook_app(Recorder(), **kwargs)
