"""The export's simdjson wire path: each record's line is the one ``from_wire`` + orjson write.

The page is read by simdjson (``parse_raw_collection``) and each record's line is made from the
minified bytes of its attributes (``RecordFlattener.wire_line``); what that cannot write exactly
falls back to ``from_wire`` on the record as a dict (or, for a page simdjson does not read, to
orjson). Every case compares the export's decoded page (position, id, JSON of the line) with
what the orjson path gives for the same bytes.
"""

from __future__ import annotations

import json
import time
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach_async import OutreachClient, Prospect, _jsonapi
from outreach_async._jsonapi import parse_raw_collection
from outreach_async.export._job import ExportJob
from outreach_async.models import RecordFlattener
from tests.wire_strategies import relationship_objects

SPEC = Prospect.__resource_spec__
_ATTRIBUTES = [a.wire for a in SPEC.attributes]
_RELATIONSHIPS = [r.wire for r in SPEC.relationships]

_TEXT = st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(
    ['"type":1', 'q"uo\\te', "\u00e9\u2028\U0001f600", "\x00\x1f", '"id":']
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
    | st.just("2024-07-26T06:27:17.000Z")
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_NAMES = (
    st.sampled_from(_ATTRIBUTES)
    | st.from_regex(r"zz[A-Za-z]{1,6}", fullmatch=True)
    | st.sampled_from(["type", "id", "account", "zrOdd", 'we"ird', "\u00e9t\u00e9"])
)
_IDS = st.integers(1, 2**63 - 1) | st.integers(1, 10**9).map(str) | st.just("abc")
_RELATIONSHIP = relationship_objects(_IDS, meta_only=True)
_RESOURCES = st.fixed_dictionaries(
    {"type": st.just("prospect"), "id": _IDS},
    optional={
        "attributes": st.dictionaries(_NAMES, _VALUES, max_size=12) | st.none(),
        "relationships": st.dictionaries(
            st.sampled_from(_RELATIONSHIPS)
            | st.from_regex(r"zr[A-Za-z]{1,6}", fullmatch=True)
            | st.sampled_from(["zrOdd", 'r"q', "firstName"]),
            _RELATIONSHIP,
            max_size=6,
        ),
        "links": st.just({"self": "https://api.outreach.io/api/v2/prospects/1"}),
    },
)


def export_job(fields: tuple[str, ...] | None = None) -> ExportJob:
    """An export of prospects as ``export_resource`` sets one up (its client is never used)."""
    client = OutreachClient("test", base_url="http://127.0.0.1:9")
    return ExportJob(
        client, Prospect, fmt="jsonl", filter={}, since=None, until=None, fields=fields,
        page_size=100, partitions=1, dedupe=False, commit_interval=1.0, clock=time.monotonic,
    )  # fmt: skip


def page_of(resources: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"data": resources, "links": {"next": "https://x/next"}, "meta": {}})


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # only an attribute named like a known relationship (which JSON:API rules out) repeats
    keys = [key for key, _ in pairs]
    twice = {key for key in keys if keys.count(key) > 1}
    assert twice <= set(_RELATIONSHIPS), f"a key written twice: {keys}"
    return dict(pairs)


def decoded(job: ExportJob, body: bytes) -> list[tuple[Any, Any, Any]]:
    """The export's simdjson path over ``body``: (position, id, the line's JSON) per record."""
    raw = parse_raw_collection(body)
    records = (
        job.decode_page(orjson.loads(body)["data"]) if raw is None else job.decode_raw_page(raw[0])
    )
    for _, _, line in records:
        json.loads(line, object_pairs_hook=_unique_keys)  # JSON-equal is not enough: no twins
    return [(p, i, orjson.loads(line)) for p, i, line in records]


def expected(job: ExportJob, body: bytes) -> list[tuple[Any, Any, Any]]:
    """The orjson path over ``body`` (``from_wire`` + ``orjson.dumps``)."""
    records = job.decode_page(orjson.loads(body)["data"])
    return [(p, i, orjson.loads(line)) for p, i, line in records]


@given(resources=st.lists(_RESOURCES, max_size=4))
@settings(max_examples=400, deadline=None)
def test_every_line_is_json_equal_to_the_orjson_paths(resources: list[dict[str, Any]]) -> None:
    body = page_of(resources)
    job = export_job()
    assert decoded(job, body) == expected(job, body)


def test_plain_records_take_the_fast_path_and_odd_ones_fall_back() -> None:
    plain = {
        "type": "prospect",
        "id": 7,
        "attributes": {"firstName": 'S\u00e9\\"', "updatedAt": "2024-07-26T06:27:17.000Z"},
        "relationships": {
            "account": {"data": {"type": "account", "id": 3}},
            "owner": {"data": None},
            "calls": {"links": {"related": "https://x"}},
            "zrNew": {"data": [{"type": "w", "id": "9"}]},
        },
    }
    odd = [
        {**plain, "id": "7"},  # an id as text
        {**plain, "attributes": {"type": "x"}},  # would stand in for type
        {**plain, "attributes": {"id": 1}},
        {**plain, "attributes": {"zrNew": 1}},  # named like a relationship the spec lacks
        {**plain, "attributes": ["x"]},  # not an object
    ]
    flattener = RecordFlattener(SPEC)
    raw = parse_raw_collection(page_of([plain, *odd]))
    assert raw is not None
    lines = [flattener.wire_line(record) for record in raw[0]]
    assert lines[0] is not None
    assert all(line is None for line in lines[1:])
    assert orjson.loads(lines[0]) == flattener.from_wire(plain)
    assert RecordFlattener(SPEC, ["firstName"]).wire_line(raw[0][0]) is None  # fields given
    # an attribute named like a known relationship, which JSON:API rules out, is not looked
    # for: the key comes twice, the relationship's value last (as orjson and json read it)
    clash = {**plain, "attributes": {"account": 1, "x": 2}}
    line = flattener.wire_line(parse_raw_collection(page_of([clash]))[0][0])  # type: ignore[index]
    assert line is not None
    assert json.loads(line, object_pairs_hook=list)[2:] == [("account", 1), ("x", 2)] + [
        (key, value)
        for key, value in flattener.from_wire(clash).items()
        if key not in {"type", "id", "x"}
    ]
    assert orjson.loads(line) == flattener.from_wire(clash)
    job = export_job()
    for resource in [plain, *odd]:
        if isinstance(resource.get("attributes"), dict):  # a list: from_wire fails either way
            assert decoded(job, page_of([resource])) == expected(job, page_of([resource]))


def test_a_page_simdjson_cannot_read_is_read_by_orjson() -> None:
    body = page_of([{"type": "prospect", "id": 1, "attributes": {"n": 1}}]).replace(
        b'"n":1',
        b'"n":123456789012345678901234567890',  # beyond 64 bits: orjson reads it
    )
    assert parse_raw_collection(body) is None
    assert orjson.loads(orjson.dumps([r[2] for r in expected(export_job(), body)]))[0]["n"] > 2**64
    assert parse_raw_collection(b'{"data": {"type": "prospect"}}') is None  # not a collection
    assert parse_raw_collection(b'{"data": [], "links": []}') is None  # parse_document judges


def test_without_simdjson_the_export_reads_pages_with_orjson(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = page_of([{"type": "prospect", "id": 1, "attributes": {"firstName": "A"}}])
    assert parse_raw_collection(body) is not None
    monkeypatch.setattr(_jsonapi, "simdjson", None)
    assert parse_raw_collection(body) is None
