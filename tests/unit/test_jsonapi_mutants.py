"""What mutation testing of ``_jsonapi`` showed untested (issue 17): ``data: null``, documents
already decoded, error objects with parts missing, and what each format error says."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from outreach_async._exceptions import ErrorObject, ResponseFormatError
from outreach_async._jsonapi import Document, dumps, parse_document, parse_error_body


def test_data_null_has_no_resources_and_is_not_a_collection() -> None:
    document = parse_document(b'{"data": null, "meta": {"deleted": true}}')
    assert document.data is None
    assert document.resources() == []
    assert not document.is_collection
    assert document.meta == {"deleted": True}
    assert (document.included, document.links) == ([], {})


def test_a_single_resource_is_a_list_of_one_and_not_a_collection() -> None:
    document = parse_document(b'{"data": {"type": "account", "id": 1}}')
    assert document.resources() == [{"type": "account", "id": 1}]
    assert not document.is_collection


def test_an_already_decoded_document_is_read_as_is() -> None:
    raw: dict[str, Any] = {
        "data": [{"type": "task", "id": 1}],
        "included": [{"type": "prospect", "id": 2}],
        "links": {"next": "n"},
        "meta": {"count": 1},
    }
    document = parse_document(raw)
    assert document == Document(
        data=[{"type": "task", "id": 1}],
        included=[{"type": "prospect", "id": 2}],
        links={"next": "n"},
        meta={"count": 1},
    )
    assert document.is_collection


@pytest.mark.parametrize("body", [bytearray(b'{"data": []}'), memoryview(b'{"data": []}')])
def test_bytes_like_bodies_are_decoded(body: bytearray | memoryview) -> None:
    assert parse_document(body).data == []


def test_an_empty_body_is_data_null() -> None:
    assert parse_document(b"") == Document(data=None)


def test_null_sections_read_as_empty() -> None:
    document = parse_document(b'{"data": [], "included": null, "links": null, "meta": null}')
    assert (document.included, document.links, document.meta) == ([], {}, {})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1, 2]", r"^expected a JSON:API document \(an object\), got list$"),
        ([1, 2], r"^expected a JSON:API document \(an object\), got list$"),
        (b'"x"', r"^expected a JSON:API document \(an object\), got str$"),
        (b'{"data": 3}', r"^a JSON:API document's data must be an object, a list or null$"),
        (b'{"data": "x"}', r"^a JSON:API document's data must be an object, a list or null$"),
        (
            b'{"data": [], "links": ["x"]}',
            r"^malformed JSON:API document \(included, links or meta\)$",
        ),
        (b'{"data": [], "included": {"a": 1}}', r"^malformed JSON:API document \(included"),
        (b'{"data": [], "meta": [1]}', r"^malformed JSON:API document \(included"),
    ],
)
def test_each_format_error_says_what_is_wrong(body: Any, message: str) -> None:
    with pytest.raises(ResponseFormatError, match=message):
        parse_document(body)


def test_a_body_that_is_not_json_is_quoted_in_the_error() -> None:
    html = b"<html>502 Bad Gateway</html>" + b"x" * 200
    with pytest.raises(ResponseFormatError, match="not JSON: ") as caught:
        parse_document(html)
    assert str(caught.value) == (
        "the server answered with a body that is not JSON: "
        + repr((b"<html>502 Bad Gateway</html>" + b"x" * 92).decode())
    )
    assert isinstance(caught.value.__cause__, orjson.JSONDecodeError)


def test_an_error_object_with_only_an_id_has_every_other_field_none() -> None:
    assert parse_error_body(b'{"errors": [{"id": "notFound"}]}') == [ErrorObject(id="notFound")]


def test_an_error_object_without_title_or_detail_is_read_fully() -> None:
    body = orjson.dumps(
        {
            "errors": [
                {"title": "Forbidden", "status": 403, "code": 7, "meta": {"a": 1}},
                {"detail": "gone", "source": {"pointer": "/data"}},
                "not an object",
                {},
            ]
        }
    )
    assert parse_error_body(body) == [
        ErrorObject(title="Forbidden", status="403", code="7", meta={"a": 1}),
        ErrorObject(detail="gone", pointer="/data"),
        ErrorObject(),
    ]


def test_the_gateway_shape_without_a_description() -> None:
    assert parse_error_body(b'{"error": "invalid_token"}') == [
        ErrorObject(id="invalid_token", title="invalid_token", detail=None)
    ]
    oauth = b'{"error": "invalid_grant", "error_description": 42}'
    assert parse_error_body(oauth) == [
        ErrorObject(id="invalid_grant", title="invalid_grant", detail="42")
    ]
    both = b'{"error": "e", "description": "first", "error_description": "second"}'
    assert parse_error_body(both)[0].detail == "first"


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[1]", b'{"errors": "x"}', b'{"error": 5}', b"{}", b"null"]
)
def test_other_error_bodies_have_no_error_objects(body: bytes) -> None:
    assert parse_error_body(body) == []


def test_dumps_is_compact_json() -> None:
    assert dumps({"data": {"type": "x", "id": 1}}) == b'{"data":{"type":"x","id":1}}'


def test_a_body_that_is_not_utf8_is_quoted_with_replacement_characters() -> None:
    with pytest.raises(ResponseFormatError, match=r"^the server answered") as caught:
        parse_document(b"\xff\xfe<html>")
    assert str(caught.value).endswith(repr("\ufffd\ufffd<html>"))
