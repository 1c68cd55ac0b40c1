"""Bulk actions through ``outreach.batches`` against the sandbox: start, confirm, poll, cancel."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import aiohttp
import pytest

from outreach_async import (
    OutreachClient,
    QueryError,
    ValidationError,
    since,
)
from outreach_async.models import Batch, Prospect
from outreach_async.resources import BatchRepository, UnsupportedOperationError
from outreach_async.resources.batches import batch_awaits_confirmation, batch_is_final
from outreach_async.sandbox import Sandbox
from tests.integration.conftest import last_request

pytestmark = pytest.mark.outreach_sandbox(seed=12)


class Polls:
    """An injected sleep that records the poll interval and never waits."""

    def __init__(self) -> None:
        self.intervals: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.intervals.append(seconds)
        await asyncio.sleep(0)


def tags(sandbox: Sandbox, *ids: int) -> list[list[str]]:
    records = [sandbox.store.get("prospect", i) for i in ids]
    return [list(r["attributes"].get("tags") or []) if r else [] for r in records]


def ident(batch: Batch) -> int:
    assert batch.id is not None
    return batch.id


async def test_the_repository_is_the_batch_one(outreach: OutreachClient) -> None:
    assert isinstance(outreach.batches, BatchRepository)
    assert outreach.repository(Batch) is outreach.batches


async def test_no_filter_is_refused_before_any_request(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    sent = len(outreach_sandbox.requests)
    empty: dict[str, Any] | None
    for empty in (None, {}):
        with pytest.raises(QueryError, match="every prospect") as caught:
            await outreach.batches.start(
                "prospectsAddTags", filter=empty, attributes={"tags": ["x"]}
            )
        assert "all_records=True" in str(caught.value)
    with pytest.raises(QueryError, match=r"nickname is not filterable; valid choices: .*title"):
        await outreach.batches.start("prospectsAddTags", filter={"nickname": "Al"})
    with pytest.raises(UnsupportedOperationError, match="prospectsAddTags"):
        await outreach.batches.start("prospectsAddTagz", filter={"id": [1]})
    assert len(outreach_sandbox.requests) == sent


async def test_a_batch_waits_for_confirmation_then_runs_to_the_end(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    before = tags(outreach_sandbox, 1, 2, 3, 4)
    batch = await outreach.batches.start(
        "prospects_add_tags", filter={"id": [1, 2, 3]}, attributes={"tags": ["vip", "q3"]}
    )
    sent = last_request(outreach_sandbox, "POST")
    assert sent.path == "/api/v2/batches/actions/prospectsAddTags"
    assert sent.query.getall("actionParams[filter][id][]") == ["1", "2", "3"]
    assert sent.query["actionParams[skipConfirmation]"] == "false"
    assert sent.body == {"data": {"attributes": {"tags": ["vip", "q3"]}}}
    assert batch.action == "prospectsAddTags"
    assert (batch.total, batch.confirm_count) == (3, 3)

    polls = Polls()
    waiting = await outreach.batches.wait(ident(batch), sleep=polls)
    assert batch_awaits_confirmation(waiting)
    assert polls.intervals == []  # it cannot move without us: no polling
    assert tags(outreach_sandbox, 1, 2, 3, 4) == before

    assert isinstance(waiting.confirm_count, int)
    confirmed = await outreach.batches.confirm(ident(waiting), waiting.confirm_count)
    assert confirmed.confirmed_at is not None
    assert not batch_awaits_confirmation(confirmed)
    seen: list[tuple[Any, Any]] = []
    done = await outreach.batches.wait(
        ident(batch),
        poll_interval=0.5,
        on_progress=lambda b: seen.append((b.state, b.pending)),
        sleep=polls,
    )
    assert batch_is_final(done)
    assert (done.state, done.pending, done.failures) == ("finished", 0, 0)
    assert done.finished_at is not None
    assert [pending for _, pending in seen] == [3, 2, 1, 0]  # progress, poll by poll
    assert polls.intervals == [0.5, 0.5, 0.5]
    assert tags(outreach_sandbox, 1, 2, 3) == [[*t, "vip", "q3"] for t in before[:3]]
    assert tags(outreach_sandbox, 4) == before[3:]


async def test_skipping_confirmation_runs_at_once(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    batch = await outreach.batches.start(
        "prospectsBulkModify",
        filter={"id": [5, 6]},
        attributes={"field_name": "title", "field_value": "Head of Bulk"},
        skip_confirmation=True,
    )
    sent = last_request(outreach_sandbox, "POST")
    assert sent.query["actionParams[skipConfirmation]"] == "true"
    inputs = {"fieldName": "title", "fieldValue": "Head of Bulk"}
    assert sent.body == {"data": {"attributes": inputs}}
    assert not batch_awaits_confirmation(batch)

    async def show(progress: Batch) -> None:  # an async callback works as well
        await asyncio.sleep(0)

    done = await outreach.batches.wait(ident(batch), on_progress=show, sleep=Polls())
    assert done.state == "finished"
    titles = [p.title for p in await outreach.prospects.list(filter={"id": [5, 6, 7]}).collect()]
    assert titles[:2] == ["Head of Bulk", "Head of Bulk"]
    assert titles[2] != "Head of Bulk"


async def test_all_records_must_be_asked_for_by_name(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    batch = await outreach.batches.start(
        "prospectsAddTags", attributes={"tags": ["everyone"]}, all_records=True
    )
    query = last_request(outreach_sandbox, "POST").query
    assert not any(key.startswith("actionParams[filter]") for key in query)
    assert batch.total == outreach_sandbox.store.count("prospect") == 12
    await outreach.batches.confirm(ident(batch), 12)
    await outreach.batches.wait(ident(batch), sleep=Polls())
    every = range(1, 13)
    assert all("everyone" in t for t in tags(outreach_sandbox, *every))


async def test_filters_use_the_new_syntax(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    batch = await outreach.batches.start(
        "prospectsAddTags",
        filter={
            "updated_at": since(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)),
            "owner": {"id": 1},
            "title": "a,b",
        },
        attributes={"tags": ["x"]},
    )
    query = last_request(outreach_sandbox, "POST").query
    assert query["actionParams[filter][updatedAt][gte]"] == "2000-01-01T00:00:00.000Z"
    assert query["actionParams[filter][owner][id]"] == "1"
    assert query["actionParams[filter][title]"] == "a,b"  # one literal value, not a list
    assert batch.total == 0


async def test_a_wrong_confirmed_count_is_refused(outreach: OutreachClient) -> None:
    batch = await outreach.batches.start(
        "prospectsAddTags", filter={"id": [1, 2]}, attributes={"tags": ["x"]}
    )
    with pytest.raises(ValidationError, match="does not match"):
        await outreach.batches.confirm(ident(batch), 3)
    with pytest.raises(QueryError):
        await outreach.batches.confirm(ident(batch), "2")  # type: ignore[arg-type]


async def test_a_canceled_batch_is_final_and_changes_nothing_more(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    before = tags(outreach_sandbox, 1, 2, 3)
    batch = await outreach.batches.start(
        "prospectsAddTags", filter={"id": [1, 2, 3]}, attributes={"tags": ["never"]}
    )
    canceled = await outreach.batches.cancel(ident(batch))
    assert canceled.canceled_at is not None
    assert batch_is_final(canceled)
    assert not batch_awaits_confirmation(canceled)
    assert (await outreach.batches.wait(ident(batch))).state == "canceled"
    with pytest.raises(ValidationError):
        await outreach.batches.cancel(ident(batch))
    assert tags(outreach_sandbox, 1, 2, 3) == before


async def test_items_whose_record_is_gone_are_counted_as_failures(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    batch = await outreach.batches.start(
        "prospectsDestroyAll", filter={"id": [7, 8, 9]}, skip_confirmation=True
    )
    assert last_request(outreach_sandbox, "POST").body is None  # no inputs, no body
    await outreach.prospects.delete(8)
    done = await outreach.batches.wait(ident(batch), poll_interval=0)
    assert (done.state, done.total, done.failures) == ("finished", 3, 1)
    assert await outreach.prospects.list(filter={"id": [7, 8, 9]}).collect() == []
    items = await outreach.batch_items.list(filter={"batch_id": ident(batch)}).collect()
    assert sorted(item.failed is True for item in items) == [False, False, True]


async def test_inputs_the_action_cannot_use_are_422(outreach: OutreachClient) -> None:
    with pytest.raises(ValidationError, match="tags"):
        await outreach.batches.start("prospectsAddTags", filter={"id": [1]}, attributes={})
    with pytest.raises(ValidationError, match="not a writable attribute"):
        await outreach.batches.start(
            "prospectsBulkModify", filter={"id": [1]}, attributes={"shoe_size": 44}
        )


async def test_records_and_datetimes_are_sent_as_the_api_expects(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    owner = Prospect(id=3)
    await outreach.batches.start(
        "prospectsAssignOwner",
        filter={"id": [owner]},
        attributes={"owner_id": 1},
        skip_confirmation=True,
    )
    sent = last_request(outreach_sandbox, "POST")
    assert sent.query.getall("actionParams[filter][id][]") == ["3"]
    assert sent.body == {"data": {"attributes": {"ownerId": 1}}}


@pytest.mark.parametrize(
    ("path", "query", "status", "expected"),
    [
        (
            "prospectsAddTags",
            {"actionParams[filter][nope]": "1"},
            400,
            "actionParams[filter][nope]",
        ),
        ("prospectsAddTagz", {"actionParams[filter][id]": "1"}, 404, "No batch action"),
        ("customObjectBulkDelete", {"actionParams[objectName]": "x"}, 501, "does not run"),
        ("prospectsAddTags", {"actionParams[skipConfirmation]": "maybe"}, 400, "true or false"),
    ],
)
async def test_the_sandbox_refuses_what_outreach_would(
    outreach_sandbox: Sandbox, path: str, query: dict[str, str], status: int, expected: str
) -> None:
    headers = {
        "Authorization": f"Bearer {outreach_sandbox.token}",
        "Content-Type": "application/vnd.api+json",
    }
    url = f"{outreach_sandbox.base_url}/batches/actions/{path}"
    body = b'{"data": {"attributes": {"tags": ["x"]}}}'
    batches = outreach_sandbox.store.count("batch")  # the seed's finished ones
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(url, params=query, data=body) as answer,
    ):
        assert answer.status == status
        assert expected in await answer.text()
    assert outreach_sandbox.store.count("batch") == batches
