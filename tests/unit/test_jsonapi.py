"""The JSON:API codec: documents, error bodies of every shape, request documents."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach_async._exceptions import (
    AuthenticationError,
    ErrorObject,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    ValidationError,
    error_for_status,
)
from outreach_async._jsonapi import build_resource_document, parse_document, parse_error_body


def test_a_collection_document_with_included_links_and_meta() -> None:
    body = orjson.dumps(
        {
            "data": [{"type": "task", "id": 1}],
            "included": [{"type": "prospect", "id": 2}],
            "links": {"next": "https://api.outreach.io/api/v2/tasks?page%5Bafter%5D=x"},
            "meta": {"count": 1, "count_truncated": False},
        }
    )
    document = parse_document(body)
    assert document.is_collection
    assert document.resources() == [{"type": "task", "id": 1}]
    assert document.included == [{"type": "prospect", "id": 2}]
    assert document.links["next"].endswith("page%5Bafter%5D=x")
    assert document.meta["count"] == 1


def test_an_empty_collection_has_no_links_and_that_is_fine() -> None:
    document = parse_document(b'{"data": [], "meta": {"count": 0, "count_truncated": false}}')
    assert document.resources() == []
    assert document.links == {}


def test_a_single_resource_and_an_empty_body() -> None:
    assert parse_document(b'{"data": {"type": "account", "id": 1}}').resources() == [
        {"type": "account", "id": 1}
    ]
    assert parse_document(b"").data is None  # a 204 has no body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>502 Bad Gateway</html>", "not JSON: '<html>502 Bad Gateway</html>'"),
        (b"[1, 2]", "got list"),
        (b'{"data": 3}', "data must be an object, a list or null"),
        (b'{"data": [], "links": ["x"]}', "malformed JSON:API document"),
    ],
)
def test_anything_else_is_a_response_format_error(body: bytes, message: str) -> None:
    with pytest.raises(ResponseFormatError, match=message):
        parse_document(body)


def test_json_api_error_objects_are_read_with_their_pointer() -> None:
    body = orjson.dumps(
        {
            "errors": [
                {
                    "id": "validationError",
                    "title": "Validation Error",
                    "detail": "Name can't be blank.",
                    "source": {"pointer": "/data/attributes/name"},
                }
            ]
        }
    )
    [error] = parse_error_body(body)
    assert error == ErrorObject(
        id="validationError",
        title="Validation Error",
        detail="Name can't be blank.",
        pointer="/data/attributes/name",
    )


def test_outreach_sometimes_writes_details_for_detail() -> None:
    body = b'{"errors": [{"id": "unsupportedMediaType", "details": "Expected Content-Type"}]}'
    assert parse_error_body(body)[0].detail == "Expected Content-Type"


def test_the_gateway_401_shape_is_understood() -> None:
    body = b'{"error": "Invalid JWT token.", "description": "The JWT token could not be decoded."}'
    [error] = parse_error_body(body)
    assert (error.id, error.detail) == ("Invalid JWT token.", "The JWT token could not be decoded.")


@given(st.binary(max_size=200))
def test_error_bodies_never_raise(body: bytes) -> None:
    assert isinstance(parse_error_body(body), list)


def test_plain_text_and_html_error_bodies_still_give_the_typed_error() -> None:
    plain = error_for_status(
        401,
        errors=parse_error_body(b"Invalid access token"),
        headers={},
        body=b"Invalid access token",
        method="GET",
        url="https://x/y",
    )
    assert isinstance(plain, AuthenticationError)
    assert "Invalid access token" in str(plain)
    html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    gateway = error_for_status(
        502, errors=parse_error_body(html), headers={}, body=html, method="GET", url="https://x/y"
    )
    assert isinstance(gateway, ServerError)
    assert gateway.status == 502


def test_error_messages_name_the_error_ids_and_the_429_carries_retry_after() -> None:
    detail = "Contacts email hash has already been taken."
    body = orjson.dumps({"errors": [{"id": "validationError", "detail": detail}]})
    error = error_for_status(
        422,
        errors=parse_error_body(body),
        headers={},
        body=body,
        method="POST",
        url="https://x/prospects",
    )
    assert isinstance(error, ValidationError)
    assert error.error_ids == ["validationError"]
    assert "already been taken" in str(error)
    limited = error_for_status(
        429,
        errors=[],
        headers={"Retry-After": "7"},
        body=b"",
        method="GET",
        url="https://x",
        retry_after=7.0,
    )
    assert isinstance(limited, RateLimitError)
    assert limited.retry_after == 7.0


def test_request_documents_leave_out_empty_sections() -> None:
    assert build_resource_document("sequenceState") == {"data": {"type": "sequenceState"}}
    assert build_resource_document(
        "user", attributes={"email": "foo@bar.com"}, meta={"sendInvite": False}
    ) == {
        "data": {
            "type": "user",
            "attributes": {"email": "foo@bar.com"},
            "meta": {"sendInvite": False},
        }
    }
    assert build_resource_document(
        "prospect", id_=1, relationships={"owner": {"data": {"type": "user", "id": 1}}}
    ) == {
        "data": {
            "type": "prospect",
            "id": 1,
            "relationships": {"owner": {"data": {"type": "user", "id": 1}}},
        }
    }
