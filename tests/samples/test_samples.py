"""Outreach's documents (``tests/samples/``, see its README) read by the client, and the sandbox
checked against them: the same keys, value types, links and relationship forms.

The client side serves each document through aioresponses to an ``OutreachClient``, so the whole
decoding path (transport, document, converter, handles) reads it. The sandbox side builds the
equivalent records over HTTP and compares what it renders with the sample's shape.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from outreach_async import (
    NotFoundError,
    OutreachClient,
    Prospect,
    ToMany,
    ToOne,
    UnsupportedMediaTypeError,
    ValidationError,
)
from outreach_async.sandbox import Sandbox
from tests.aioresponses_compat import aioresponses

SAMPLES = Path(__file__).parent
BASE = "https://api.outreach.io/api/v2"
JSONAPI = {"Content-Type": "application/vnd.api+json"}
#: timestamps as Outreach writes them: UTC, milliseconds, ``Z`` (facts §6)
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def sample(name: str) -> Any:
    return orjson.loads((SAMPLES / name).read_bytes())


def sample_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.fixture
def served() -> Iterator[aioresponses]:
    with aioresponses() as mock:
        yield mock


@pytest.fixture
async def outreach() -> AsyncIterator[OutreachClient]:
    async with OutreachClient("token", base_url=BASE, max_retries=0) as client:
        yield client


# -- the client reads Outreach's documents -----------------------------------------------------


async def test_a_prospect_document_decodes_to_a_typed_model(
    served: aioresponses, outreach: OutreachClient
) -> None:
    served.get(f"{BASE}/prospects/18", body=sample_bytes("prospect.json"), headers=JSONAPI)

    sally = await outreach.prospects.get(18)

    assert isinstance(sally, Prospect)
    assert (sally.id, sally.first_name, sally.last_name, sally.title) == (
        18,
        "Sally",
        "Smith",
        "CEO",
    )
    assert sally.emails == ["sally.smith@acme.example.com"]
    assert sally.created_at == dt.datetime(2018, 10, 24, 20, 24, 30, tzinfo=dt.UTC)
    assert sally.updated_at == dt.datetime(2024, 8, 2, 22, 28, 21, tzinfo=dt.UTC)
    assert (sally.engaged_score, sally.tags, sally.opted_out) == (12.5, [], False)
    assert sally.address_city is None  # null on the wire is None, not UNSET
    assert sally.date_of_birth is None
    assert isinstance(sally.account, ToOne)
    assert sally.account.id == 95
    assert isinstance(sally.owner, ToOne)
    assert sally.owner.id is None  # {"data": null}: a handle to nothing
    for to_many in (sally.opportunities, sally.calls, sally.sequence_states):
        assert isinstance(to_many, ToMany)


async def test_a_links_only_relationship_follows_its_related_link(
    served: aioresponses, outreach: OutreachClient
) -> None:
    served.get(f"{BASE}/prospects/18", body=sample_bytes("prospect.json"), headers=JSONAPI)
    related = f"{BASE}/calls?filter%5Bprospect%5D%5Bid%5D=18"
    served.get(related, body=sample_bytes("prospects_empty.json"), headers=JSONAPI)

    sally = await outreach.prospects.get(18)
    assert isinstance(sally.calls, ToMany)
    calls = [call async for call in sally.calls]

    assert calls == []
    requested = [str(url) for _, url in served.requests]
    assert any("calls" in url and "filter" in url for url in requested), requested


async def test_a_page_decodes_with_its_included_records_and_follows_links_next(
    served: aioresponses, outreach: OutreachClient
) -> None:
    page = sample("prospects_page.json")
    served.get(re.compile(r".*/prospects\?(?!.*page%5Bafter%5D).*"), payload=page, headers=JSONAPI)
    served.get(page["links"]["next"], body=sample_bytes("prospects_empty.json"), headers=JSONAPI)

    pages = [p async for p in outreach.prospects.list(include=["account"], page_size=2).pages()]

    first = pages[0]
    assert [p.id for p in first.items] == [18, 19]
    assert first.meta == {"count": 2, "count_truncated": False}
    sally = first.items[0]
    assert isinstance(sally.owner, ToOne)
    assert sally.owner.id == 1
    assert isinstance(sally.account, ToOne)
    account = await sally.account.fetch()  # from `included`: no request
    assert account is not None
    assert account.name == "Acme"
    assert sum(len(p.items) for p in pages) == 2  # the empty page after it ends the listing
    assert len(served.requests) == 2


async def test_an_empty_collection_without_links_ends_the_listing(
    served: aioresponses, outreach: OutreachClient
) -> None:
    served.get(
        re.compile(r".*/prospects(\?.*)?$"),
        body=sample_bytes("prospects_empty.json"),
        headers=JSONAPI,
    )

    assert [p async for p in outreach.prospects.list()] == []
    assert len(served.requests) == 1


@pytest.mark.parametrize(
    ("name", "status", "error", "detail", "pointer"),
    [
        ("error_422.json", 422, ValidationError, "Name can't be blank.", "/data/attributes/name"),
        (
            "error_415.json",
            415,
            UnsupportedMediaTypeError,
            "Expected Content-Type header to be 'application/vnd.api+json'.",
            None,
        ),
        ("error_404.json", 404, NotFoundError, "Could not find 'prospect' with ID '1'.", None),
    ],
)
async def test_error_documents_become_typed_errors_with_their_objects(
    served: aioresponses,
    outreach: OutreachClient,
    name: str,
    status: int,
    error: type[Exception],
    detail: str,
    pointer: str | None,
) -> None:
    served.get(f"{BASE}/prospects/1", status=status, body=sample_bytes(name), headers=JSONAPI)

    with pytest.raises(error) as raised:
        await outreach.prospects.get(1)

    [found] = raised.value.errors  # type: ignore[attr-defined]
    expected = sample(name)["errors"][0]
    assert (found.id, found.title, found.detail, found.pointer) == (
        expected["id"],
        expected["title"],
        detail,
        pointer,
    )


# -- the sandbox renders the same shapes -------------------------------------------------------


def kind(value: Any) -> str:
    """What a JSON value is, in the terms the samples fix."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        if TIMESTAMP.fullmatch(value):
            return "timestamp"
        return "absolute url" if value.startswith(("http://", "https://")) else "str"
    if isinstance(value, list):
        return "list"
    return "object"


def relationship_form(relationship: dict[str, Any]) -> tuple[Any, ...]:
    """A relationship's form: which members it has and what its data is."""
    data = relationship.get("data", "absent")
    data_kind = "absent" if data == "absent" else kind(data)
    links = {k: kind(v) for k, v in relationship.get("links", {}).items()}
    return (sorted(relationship), data_kind, links, sorted(relationship.get("meta", {})))


def assert_same_resource_shape(expected: dict[str, Any], rendered: dict[str, Any]) -> None:
    assert sorted(rendered) == sorted(expected)
    assert (rendered["type"], kind(rendered["id"])) == (expected["type"], "int")
    for name, value in expected["attributes"].items():
        got = rendered["attributes"][name]  # every attribute is present, nulls included
        if value is None or got is None:
            continue
        if isinstance(value, float):  # a JSON number may render without a fraction
            assert isinstance(got, int | float), (name, got)
        else:
            assert kind(got) == kind(value), (name, got, value)
    for name, relationship in expected["relationships"].items():
        assert relationship_form(rendered["relationships"][name]) == relationship_form(
            relationship
        ), name
    assert {k: kind(v) for k, v in rendered["links"].items()} == {"self": "absolute url"}


@pytest.fixture
async def sandbox_http(outreach_sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {outreach_sandbox.token}", **JSONAPI}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield session


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, document: Any = None, **params: str
) -> Any:
    body = None if document is None else orjson.dumps(document)
    async with session.request(method, url, data=body, params=params) as answer:
        return orjson.loads(await answer.read())


async def _acme_and_sally(
    session: aiohttp.ClientSession,
    base: str,
    email: str = "sally.smith@acme.example.com",
    owner: int | None = None,
) -> int:
    """The sample's records in the sandbox: Acme, and Sally (at ``email``) at Acme."""
    account = await _call(
        session,
        "POST",
        f"{base}/accounts",
        {"data": {"type": "account", "attributes": {"name": "Acme"}}},
    )
    attributes = dict(sample("prospect.json")["data"]["attributes"])
    for read_only in ("createdAt", "updatedAt", "engagedScore", "optedOut"):
        attributes.pop(read_only)
    attributes["emails"] = [email]  # Outreach refuses a second prospect with one address
    relationships = {"account": {"data": {"type": "account", "id": account["data"]["id"]}}}
    if owner is not None:
        relationships["owner"] = {"data": {"type": "user", "id": owner}}
    prospect = await _call(
        session,
        "POST",
        f"{base}/prospects",
        {"data": {"type": "prospect", "attributes": attributes, "relationships": relationships}},
    )
    prospect_id: int = prospect["data"]["id"]
    return prospect_id


@pytest.mark.outreach_sandbox(seed=None)
async def test_the_sandbox_renders_a_prospect_as_outreach_does(
    outreach_sandbox: Sandbox, sandbox_http: aiohttp.ClientSession
) -> None:
    base = outreach_sandbox.base_url
    prospect_id = await _acme_and_sally(sandbox_http, base)

    rendered = await _call(sandbox_http, "GET", f"{base}/prospects/{prospect_id}")

    assert sorted(rendered) == ["data"]
    assert_same_resource_shape(sample("prospect.json")["data"], rendered["data"])


@pytest.mark.outreach_sandbox(seed=None)
async def test_the_sandbox_renders_a_page_and_an_empty_result_as_outreach_does(
    outreach_sandbox: Sandbox, sandbox_http: aiohttp.ClientSession
) -> None:
    base = outreach_sandbox.base_url
    await _acme_and_sally(sandbox_http, base, owner=1)
    await _acme_and_sally(sandbox_http, base, "katie@acme.example.com")
    expected = sample("prospects_page.json")

    page = await _call(
        sandbox_http,
        "GET",
        f"{base}/prospects",
        **{"include": "account", "page[size]": "1", "count": "true", "sort": "updatedAt"},
    )
    empty = await _call(
        sandbox_http, "GET", f"{base}/prospects", **{"filter[firstName]": "Nobody", "count": "true"}
    )

    assert sorted(page) == sorted(expected)
    assert_same_resource_shape(expected["data"][0], page["data"][0])
    assert_same_resource_shape(expected["included"][0], page["included"][0])
    assert {k: kind(v) for k, v in page["links"].items()} == {
        "first": "absolute url",
        "next": "absolute url",
    }
    assert "page%5Bafter%5D=" in page["links"]["next"]  # brackets percent-encoded
    assert sorted(page["meta"]) == sorted(expected["meta"])
    assert empty == sample("prospects_empty.json")  # no links at all
