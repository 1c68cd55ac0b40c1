"""The flat record (JSON Lines) and CSV row shapes: stable, documented, from the spec."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import orjson
import pytest

from outreach_async import OutreachClient, Prospect, Ref, SequenceState, ToOne
from outreach_async._http import Request
from outreach_async.export import RecordEncoder, csv_columns, format_time, resolve_resource
from outreach_async.models import RecordFlattener
from outreach_async.sandbox import Sandbox

SPEC = Prospect.__resource_spec__
WHEN = dt.datetime(2024, 7, 26, 6, 27, 17, 123456, tzinfo=dt.UTC)


def sally() -> Prospect:
    return Prospect(
        id=18,
        first_name="Sally",
        emails=["sally@acme.example.com"],
        available_at=WHEN,
        engaged_score=None,
        account=Ref("account", 3),
        owner=None,
        sequence_states=[Ref("sequenceState", 4), Ref("sequenceState", 5)],
    )


def test_format_time_is_the_apis_millisecond_utc_form() -> None:
    assert format_time(WHEN) == "2024-07-26T06:27:17.123Z"
    paris = dt.timezone(dt.timedelta(hours=2))
    assert format_time(dt.datetime(2024, 1, 1, 2, 0, tzinfo=paris)) == "2024-01-01T00:00:00.000Z"
    assert format_time(dt.datetime(2024, 1, 1)) == "2024-01-01T00:00:00.000Z"  # naive is UTC


def test_a_jsonl_record_is_type_id_attributes_then_relationship_ids() -> None:
    line = RecordEncoder(SPEC).encode([sally()])
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    record = orjson.loads(line)
    assert list(record)[:2] == ["type", "id"]
    assert record == {
        "type": "prospect",
        "id": 18,
        "emails": ["sally@acme.example.com"],
        "engagedScore": None,
        "firstName": "Sally",
        "availableAt": "2024-07-26T06:27:17.123Z",
        "account": 3,
        "owner": None,
        "sequenceStates": [4, 5],
    }


def test_unset_fields_are_left_out_and_null_ones_kept() -> None:
    record = RecordEncoder(SPEC).flatten(Prospect(id=1, title=None))
    assert record == {"type": "prospect", "id": 1, "title": None}


def test_unknown_attributes_are_kept_in_jsonl() -> None:
    model = Prospect(id=1, extra={"brandNewField": {"a": 1}})
    assert RecordEncoder(SPEC).flatten(model)["brandNewField"] == {"a": 1}


def test_fields_limit_the_record_to_type_id_and_those_fields() -> None:
    encoder = RecordEncoder(SPEC, fields=["firstName", "account"])
    assert encoder.flatten(sally()) == {"type": "prospect", "id": 18, "firstName": "Sally",
                                        "account": 3}  # fmt: skip


def test_csv_columns_come_from_the_spec_in_order() -> None:
    columns = csv_columns(SPEC)
    assert columns[0] == "id"
    attributes = [a.wire for a in SPEC.attributes]
    relationships = [r.wire for r in SPEC.relationships]
    assert columns == ["id", *attributes, *relationships]
    assert csv_columns(SPEC, ["title", "owner", "firstName"]) == ["id", "firstName", "title",
                                                                  "owner"]  # fmt: skip


def test_csv_cells_hold_ids_json_lists_and_empty_nulls() -> None:
    encoder = RecordEncoder(SPEC, fields=["firstName", "emails", "engagedScore", "account",
                                          "sequenceStates", "availableAt"], fmt="csv")  # fmt: skip
    text = (encoder.header() + encoder.encode([sally()])).decode()
    header, row = list(csv.reader(io.StringIO(text)))
    cells = dict(zip(header, row, strict=True))
    assert cells == {
        "id": "18",
        "emails": '["sally@acme.example.com"]',
        "engagedScore": "",
        "firstName": "Sally",
        "availableAt": "2024-07-26T06:27:17.123Z",
        "account": "3",
        "sequenceStates": "[4,5]",
    }


def test_csv_quotes_commas_quotes_and_newlines() -> None:
    encoder = RecordEncoder(SPEC, fields=["title"], fmt="csv")
    text = encoder.encode([Prospect(id=2, title='VP, "Sales"\nEMEA')]).decode()
    assert list(csv.reader(io.StringIO(text))) == [["2", 'VP, "Sales"\nEMEA']]


def test_booleans_are_true_false_in_csv() -> None:
    encoder = RecordEncoder(SequenceState.__resource_spec__, fields=["state"], fmt="csv")
    flag = next(a for a in SPEC.attributes if a.kind == "boolean")
    model = Prospect(id=3)
    setattr(model, flag.name, True)
    assert RecordEncoder(SPEC, fields=[flag.wire], fmt="csv").encode([model]) == b"3,true\n"
    assert encoder.header() == b"id,state\n"
    assert RecordEncoder(SPEC, fmt="jsonl").header() == b""


@pytest.mark.outreach_sandbox(seed=40)
@pytest.mark.parametrize("path", ["prospects", "accounts", "sequence_states", "tasks", "mailings",
                                  "calls", "events", "users"])  # fmt: skip
async def test_decoded_records_flatten_as_their_wire_resources_do(
    outreach_sandbox: Sandbox, path: str
) -> None:
    async with OutreachClient(outreach_sandbox.token, base_url=outreach_sandbox.base_url) as o:
        model = resolve_resource(path)
        repository = o.repository(model)
        items = await repository.list(page_size=50).collect()
        raw = orjson.loads((await o.send(Request.get(repository.list(page_size=50).url))).body)
        assert items
        encoder = RecordEncoder(model.__resource_spec__)
        flattener = RecordFlattener(model.__resource_spec__)
        for item, resource in zip(items, raw["data"], strict=True):
            getattr(item, "updated_at", None)  # the export reads the cursor
            if isinstance(handle := getattr(item, "account", None), ToOne):
                assert handle is getattr(item, "account", None)  # a handle read and cached
            fast = encoder.flatten(item)
            assert fast == flattener.from_wire(resource)  # the public wire-to-record path
            assert fast == flattener._from_fields(vars(item))  # field by field
            assert fast["id"] == item.id
        item.id = -1  # a changed model takes the field path
        assert encoder.flatten(item)["id"] == -1


@pytest.mark.outreach_sandbox(seed=45)
async def test_wire_pages_are_the_resource_objects_as_the_api_sent_them(
    outreach_sandbox: Sandbox,
) -> None:
    """The export's pages (``list_wire_resources``): every page followed, no model built."""
    async with OutreachClient(outreach_sandbox.token, base_url=outreach_sandbox.base_url) as o:
        listing = o.prospects.list(page_size=20, sort="id")
        pages = [page async for page in o.prospects.list_wire_resources(listing.url).pages()]
        whole = o.prospects.list(page_size=1000, sort="id").url
        raw = orjson.loads((await o.send(Request.get(whole))).body)["data"]
        models = await listing.collect()
        ids = await o.prospects.list_wire_pages(listing.url, _ids_while_decoding).collect()
    assert len(pages) == -(-len(raw) // 20) > 1
    assert ids == [(r["id"], "decoding") for r in raw]  # each page's transform, in order
    resources = [resource for page in pages for resource in page.items]
    assert resources == raw
    assert [r["id"] for r in resources] == [m.id for m in models]
    assert all(type(resource) is dict for resource in resources)


def _ids_while_decoding(resources: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(resource["id"], "decoding") for resource in resources]
