"""``export_resource`` against the sandbox on loopback: shapes, partitions, incremental sync,
resume, fleets and token expiry. No mock of our own client anywhere."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import itertools
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from yarl import URL

from outreach_async import (
    AuthenticationError,
    Hooks,
    OAuth2Refresh,
    OutreachClient,
    Prospect,
    QueryError,
    RedisRateLimiter,
)
from outreach_async.export import (
    MemoryCheckpointStore,
    RedisCheckpointStore,
    SQLiteCheckpointStore,
    _output,
    csv_columns,
    export_resource,
)
from outreach_async.export._compact import compact
from outreach_async.sandbox import Sandbox

from .helpers import ids_of, millis, read_jsonl, set_updated_at, stamp, stored_ids

pytestmark = pytest.mark.outreach_sandbox(seed=300)


def client_for(sandbox: Sandbox, token: str | None = None) -> OutreachClient:
    return OutreachClient(token or sandbox.token, base_url=sandbox.base_url)


async def test_jsonl_records_match_the_stored_records(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "prospects.jsonl"
    async with client_for(outreach_sandbox) as outreach:
        result = await export_resource(outreach, "prospects", out, page_size=70)
    records = read_jsonl(out)
    assert result.records == len(records) == 300
    assert [r["updatedAt"] for r in records] == sorted(r["updatedAt"] for r in records)
    for record in records[:25]:
        stored = outreach_sandbox.store.get("prospect", record["id"])
        assert stored is not None
        assert record["type"] == "prospect"
        for wire, value in stored["attributes"].items():
            assert record[wire] == value, wire
        for wire, target in stored["relationships"].items():
            if target is not None and wire in record:
                assert record[wire] == target, wire


async def test_csv_has_the_spec_header_and_one_row_per_record(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "states.csv"
    async with client_for(outreach_sandbox) as outreach:
        result = await export_resource(outreach, "sequence_states", out, format="csv")
    rows = list(csv.reader(io.StringIO(out.read_text())))
    spec = outreach_sandbox.store.table("sequenceState").spec
    assert rows[0] == csv_columns(spec)
    assert len(rows) - 1 == result.records == outreach_sandbox.store.count("sequenceState")
    by_id = {int(row[0]): dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    some_id, cells = next(iter(by_id.items()))
    stored = outreach_sandbox.store.get("sequenceState", some_id)
    assert stored is not None
    assert cells["state"] == stored["attributes"]["state"]
    assert cells["prospect"] == str(stored["relationships"]["prospect"])


async def test_fields_and_filter_narrow_the_export(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "ceos.jsonl"
    async with client_for(outreach_sandbox) as outreach:
        await export_resource(
            outreach, "prospects", out, filter={"title": "CEO"}, fields=["first_name", "title"]
        )
    records = read_jsonl(out)
    expected = {r["id"] for r in outreach_sandbox.store.table("prospect")
                if r["attributes"].get("title") == "CEO"}  # fmt: skip
    assert expected
    assert {r["id"] for r in records} == expected
    assert all(set(r) == {"type", "id", "firstName", "title"} for r in records)


async def test_partitions_give_every_record_once(outreach_sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "p.jsonl"
    async with client_for(outreach_sandbox) as outreach:
        result = await export_resource(outreach, "prospects", out, partitions=5, page_size=25)
    counts = ids_of(out)
    assert result.spans == 5
    assert set(counts) == stored_ids(outreach_sandbox)
    assert set(counts.values()) == {1}


async def test_records_exactly_on_partition_edges_are_written_once(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    ids = sorted(stored_ids(outreach_sandbox))
    base = 1_700_000_000_000
    # 4 partitions of [base, base + 400]: a quarter of the records in each hundred (planning
    # counts them in widths of 50), so the inner edges are +100, +200 and +300. Ties on every
    # edge, on the first and last value, and just inside the edges.
    quarter = len(ids) // 4
    assert quarter * 4 == len(ids)
    layout = {0: 5, 99: 3, 100: 7, 101: 2, 200: 9, 299: 1, 300: 6, 400: 4}
    for fill, (low, high) in zip(
        (60, 160, 260, 360), ((0, 99), (100, 101), (200, 299), (300, 400)), strict=True
    ):
        layout[fill] = quarter - layout[low] - layout[high]
    cursor = 0
    for offset, how_many in layout.items():
        set_updated_at(outreach_sandbox, ids[cursor : cursor + how_many], base + offset)
        cursor += how_many
    out = tmp_path / "edges.jsonl"
    async with client_for(outreach_sandbox) as outreach:
        result = await export_resource(outreach, "prospects", out, partitions=4, page_size=3)
    counts = ids_of(out)
    assert result.spans == 4
    assert span_edges(outreach_sandbox, page_size=3) == [stamp(base + k * 100) for k in (1, 2, 3)]
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}
    times = [r["updatedAt"] for r in read_jsonl(out)]
    assert times.count(stamp(base + 100)) == 7
    assert times.count(stamp(base + 300)) == 6


def span_edges(sandbox: Sandbox, *, page_size: int) -> list[str]:
    """The inner edges of the spans the export streamed, from the pages the sandbox served
    (their upper bounds: the catch-up pass over the last span starts at its watermark)."""
    ranges = {
        r.query["filter[updatedAt]"]
        for r in sandbox.requests
        if r.query.get("page[size]") == str(page_size) and "filter[updatedAt]" in r.query
    }
    return sorted(hi for _, hi in (text.split("..") for text in ranges) if hi != "inf")


async def test_planning_counts_the_records_at_once_and_spans_share_them_evenly(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    """A tenth of the records over most of the time range, the rest in its last eighth: equal
    widths would give the last of 4 spans about 90% of them. Planning counts the records in 8
    widths, all at once (one round trip), before any span is read."""
    ids = sorted(stored_ids(outreach_sandbox))
    base, sparse = 1_700_000_000_000, len(ids) // 10
    for k, id_ in enumerate(ids):
        at = k * 7000 // sparse if k < sparse else 7000 + (k - sparse) * 1000 // (len(ids) - sparse)
        set_updated_at(outreach_sandbox, [id_], base + at)
    events: list[tuple[str, str]] = []
    hooks = Hooks(
        on_request=lambda e: events.append(("sent", e.url)),
        on_response=lambda e: events.append(("answered", e.url)),
    )
    out = tmp_path / "even.jsonl"
    async with OutreachClient(
        outreach_sandbox.token, base_url=outreach_sandbox.base_url, hooks=hooks
    ) as outreach:
        result = await export_resource(outreach, "prospects", out, partitions=4, page_size=10)
    assert ids_of(out) == dict.fromkeys(ids, 1)

    def kind(url: str) -> str:
        query = URL(url).query
        if query.get("count") == "true":
            return "count"
        return "page" if query.get("page[size]") == "10" else "probe"

    steps = [(what, kind(url)) for what, url in events]
    counts_sent = [i for i, step in enumerate(steps) if step == ("sent", "count")]
    counts_answered = [i for i, step in enumerate(steps) if step == ("answered", "count")]
    pages_sent = [i for i, step in enumerate(steps) if step == ("sent", "page")]
    assert len(counts_sent) == 8
    assert max(counts_sent) < min(counts_answered)  # all on the wire together
    assert max(counts_answered) < min(pages_sent)  # the spans are planned from them
    assert steps[: min(counts_sent)].count(("sent", "probe")) == 2  # the lowest and the highest
    # each span holds a quarter of the records, give or take what shares an edge's millisecond
    edges = [base] + [millis(e) for e in span_edges(outreach_sandbox, page_size=10)] + [base + 8001]
    times = sorted(millis(r["updatedAt"]) for r in read_jsonl(out))
    shares = [sum(lo <= t < hi for t in times) for lo, hi in itertools.pairwise(edges)]
    assert result.spans == 4
    assert all(abs(share - len(ids) / 4) <= len(ids) / 40 for share in shares), shares


async def test_an_incremental_sync_appends_only_what_changed(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "sync.jsonl"
    store = SQLiteCheckpointStore(tmp_path / "sync.db")
    async with client_for(outreach_sandbox) as outreach:
        first = await export_resource(outreach, "prospects", out, checkpoint=store)
        changed = sorted(stored_ids(outreach_sandbox))[:3]
        for id_ in changed:
            await outreach.prospects.update(id_, title="Chief Sync Officer")
        new = await outreach.prospects.create(Prospect(first_name="Newcomer"))
        second = await export_resource(outreach, "prospects", out, checkpoint=store)
        third = await export_resource(outreach, "prospects", out, checkpoint=store)
    await store.close()
    assert (first.records, second.records, third.records) == (300, 4, 0)
    records = read_jsonl(out)
    assert len(records) == 304
    assert {r["id"] for r in records[300:]} == {*changed, new.id}
    assert all(r["title"] == "Chief Sync Officer" for r in records[300:303])
    assert isinstance(first.watermark, dt.datetime)
    assert isinstance(second.watermark, dt.datetime)
    assert second.watermark > first.watermark


async def test_a_new_record_at_the_watermark_is_written_and_the_old_ones_are_not(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    ids = sorted(stored_ids(outreach_sandbox))
    top = 1_800_000_000_000
    set_updated_at(outreach_sandbox, ids[-4:-1], top)  # three records share the last timestamp
    set_updated_at(outreach_sandbox, [ids[-1]], top - 1)
    out = tmp_path / "sync.jsonl"
    store = MemoryCheckpointStore()
    async with client_for(outreach_sandbox) as outreach:
        await export_resource(outreach, "prospects", out, checkpoint=store)
        # another write lands in the very same millisecond, after the first run read it
        set_updated_at(outreach_sandbox, [ids[0]], top)
        again = await export_resource(outreach, "prospects", out, checkpoint=store)
    assert again.records == 1
    assert read_jsonl(out)[-1]["id"] == ids[0]
    assert ids_of(out)[ids[0]] == 2  # its old version, and the new one


async def test_since_and_until_bound_the_export_inclusively(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    ids = sorted(stored_ids(outreach_sandbox))
    base = 1_750_000_000_000
    set_updated_at(outreach_sandbox, ids[:10], base)
    set_updated_at(outreach_sandbox, ids[10:20], base + 1000)
    set_updated_at(outreach_sandbox, ids[20:], base + 5000)
    start = dt.datetime.fromtimestamp(base / 1000, dt.UTC)
    out = tmp_path / "window.jsonl"
    async with client_for(outreach_sandbox) as outreach:
        result = await export_resource(
            outreach, "prospects", out, since=start, until=start + dt.timedelta(seconds=1)
        )
    assert result.records == 20
    assert set(ids_of(out)) == set(ids[:20])


async def test_an_interrupted_export_resumes_with_each_record_once(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "resume.jsonl"
    store = MemoryCheckpointStore()

    class Crash(Exception):
        pass

    def crash_after_some(written: int, total: int | None) -> None:
        if written >= 120:
            raise Crash

    async with client_for(outreach_sandbox) as outreach:
        with pytest.raises(Crash):
            await export_resource(
                outreach, "prospects", out, checkpoint=store, page_size=40, partitions=3,
                progress=crash_after_some, commit_interval=0.0,
            )  # fmt: skip
        written_before = len(read_jsonl(out))
        resumed = await export_resource(outreach, "prospects", out, checkpoint=store)
    counts = ids_of(out)
    assert written_before >= 120  # records past the last checkpoint were in the file...
    assert resumed.resumed
    assert resumed.spans == 3
    assert set(counts) == stored_ids(outreach_sandbox)
    assert set(counts.values()) == {1}


async def test_a_static_token_that_expires_fails_and_a_rerun_resumes(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "expiry.jsonl"
    store = MemoryCheckpointStore()
    token = outreach_sandbox.authority.issue_static_token()

    def expire_soon(written: int, total: int | None) -> None:
        if written >= 50:
            outreach_sandbox.authority.expire(token)

    async with client_for(outreach_sandbox, token) as outreach:
        with pytest.raises(AuthenticationError):
            await export_resource(
                outreach, "prospects", out, checkpoint=store, page_size=25, progress=expire_soon,
                commit_interval=0.0,
            )  # fmt: skip
    async with client_for(outreach_sandbox) as outreach:  # a fresh token
        resumed = await export_resource(outreach, "prospects", out, checkpoint=store)
    assert resumed.resumed
    assert 0 < resumed.records < 300
    counts = ids_of(out)
    assert set(counts) == stored_ids(outreach_sandbox)
    assert set(counts.values()) == {1}


async def skip_sleep(seconds: float) -> None:
    return None


@pytest.mark.outreach_sandbox(seed=300, mint_throttle=0.0)
async def test_a_refreshing_token_survives_expiry_mid_export(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    authority = outreach_sandbox.authority
    auth = OAuth2Refresh(
        client_id=authority.client_id,
        client_secret=authority.client_secret,
        refresh_token=authority.issue_refresh_token(),
        token_url=outreach_sandbox.token_url,
        sleep=skip_sleep,  # the client spaces mints 60 s apart; this sandbox does not throttle
    )
    minted: list[str] = []

    def expire_current(written: int, total: int | None) -> None:
        live = [
            t for t in authority._access if authority.is_valid(t) and t != outreach_sandbox.token
        ]
        if written >= 100 and not minted and live:
            minted.extend(live)
            for token in live:
                authority.expire(token)

    out = tmp_path / "refresh.jsonl"
    async with OutreachClient(auth, base_url=outreach_sandbox.base_url) as outreach:
        result = await export_resource(
            outreach, "prospects", out, page_size=25, progress=expire_current
        )
    assert minted, "the test never expired a token"
    assert authority.mint_count >= 2
    counts = ids_of(out)
    assert result.records == 300
    assert set(counts.values()) == {1}


async def test_fleet_shares_split_a_run_and_then_the_next_one(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    store = SQLiteCheckpointStore(tmp_path / "fleet.db")
    outputs = [tmp_path / f"share{i}.jsonl" for i in range(3)]

    async def run(i: int) -> Any:
        async with client_for(outreach_sandbox) as outreach:
            return await export_resource(
                outreach, "prospects", outputs[i], checkpoint=store, partition=f"{i}/3"
            )

    first = [await run(i) for i in range(3)]
    assert [r.spans for r in first] == [1, 1, 1]
    union = [r["id"] for p in outputs for r in read_jsonl(p)]
    assert sorted(union) == sorted(stored_ids(outreach_sandbox))

    changed = sorted(stored_ids(outreach_sandbox))[:5]
    async with client_for(outreach_sandbox) as outreach:
        for id_ in changed:
            await outreach.prospects.update(id_, title="Fleet")
    sizes = [len(read_jsonl(p)) for p in outputs]
    # Every share of run 1 is done: the first member to start again plans run 2 (over the
    # changed records only) and takes its share; when it comes back early, it waits.
    second = [await run(0)]
    assert (await run(0)).waiting
    second += [await run(1), await run(2)]
    assert not any(r.waiting for r in second)
    new_ids = [r["id"] for i, p in enumerate(outputs) for r in read_jsonl(p)[sizes[i] :]]
    assert sorted(new_ids) == changed
    assert sum(r.records for r in second) == 5
    assert sum(1 for r in second if r.records) >= 2  # the changes were spread over shares
    await store.close()


async def test_bad_queries_fail_before_any_request(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "never.jsonl"
    before = len(outreach_sandbox.requests)
    async with client_for(outreach_sandbox) as outreach:
        with pytest.raises(QueryError, match="since/until"):
            await export_resource(outreach, "prospects", out, filter={"updated_at": "2024-01-01"})
        with pytest.raises(QueryError, match="cannot filter prospect by 'nope'"):
            await export_resource(outreach, "prospects", out, filter={"nope": 1})
        with pytest.raises(QueryError, match="before since"):
            await export_resource(
                outreach, "prospects", out, since="2024-02-01", until="2024-01-01"
            )
        with pytest.raises(QueryError, match="unknown resource"):
            await export_resource(outreach, "prospectz", out)
    assert len(outreach_sandbox.requests) == before
    assert not out.exists()


async def test_dedupe_writes_a_record_changed_during_the_run_once(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    first_id = min(stored_ids(outreach_sandbox))

    def touch_once(state: dict[str, bool]) -> Any:
        def progress(written: int, total: int | None) -> None:
            if written and not state.get("done"):
                state["done"] = True
                set_updated_at(outreach_sandbox, [first_id], 1_900_000_000_000)

        return progress

    async with client_for(outreach_sandbox) as outreach:
        lowest = await outreach.prospects.list(sort="updatedAt").first()
        assert lowest is not None
        first_id = lowest.id or 0
        plain, deduped = tmp_path / "plain.jsonl", tmp_path / "deduped.jsonl"
        result = await export_resource(
            outreach, "prospects", plain, page_size=50, progress=touch_once({})
        )
        set_updated_at(outreach_sandbox, [first_id], 1_600_000_000_000)  # first again
        await export_resource(
            outreach, "prospects", deduped, page_size=50, progress=touch_once({}), dedupe=True
        )
    # The run read the old version and the new one; the one-off file keeps the new one only.
    assert result.superseded == 1
    assert ids_of(plain)[first_id] == 1
    (kept,) = [r for r in read_jsonl(plain) if r["id"] == first_id]
    assert kept["updatedAt"] == stamp(1_900_000_000_000)
    assert ids_of(deduped)[first_id] == 1


@pytest.mark.redis
async def test_a_fleet_on_redis_shares_progress_and_the_rate_limit(
    outreach_sandbox: Sandbox, tmp_path: Path, redis_url: str
) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    outputs = [tmp_path / f"share{i}.jsonl" for i in range(3)]

    async def member(i: int) -> Any:
        store = RedisCheckpointStore.from_url(redis_url, prefix=f"{prefix}:cp:")
        limiter = RedisRateLimiter(redis_url, "user-1", namespace=f"{prefix}:rl")
        try:
            async with OutreachClient(
                outreach_sandbox.token, base_url=outreach_sandbox.base_url, rate_limiter=limiter
            ) as outreach:
                return await export_resource(
                    outreach, "prospects", outputs[i], checkpoint=store, partition=f"{i}/3",
                    partitions=2, page_size=20,
                )  # fmt: skip
        finally:
            await store.close()
            await limiter.aclose()

    results = await asyncio.gather(*(member(i) for i in range(3)))
    assert [r.spans for r in results] == [2, 2, 2]
    union = [r["id"] for p in outputs for r in read_jsonl(p)]
    assert sorted(union) == sorted(stored_ids(outreach_sandbox))
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.exists(f"{prefix}:rl:user-1")  # one budget for the three of them
        assert len(await client.keys(f"{prefix}:cp:*")) == 4  # the plan and three shares
    finally:
        await client.aclose()


async def test_a_one_off_file_is_read_again_only_when_an_id_may_repeat(
    outreach_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer knows the ids it wrote: with none twice the file is swapped in without the
    compaction pass (which would find nothing), with one twice it is compacted."""
    compacted: list[str] = []

    def spy(path: str) -> Any:
        compacted.append(path)
        return compact(path)

    monkeypatch.setattr(_output, "compact", spy)
    first_id = min(stored_ids(outreach_sandbox))
    async with client_for(outreach_sandbox) as outreach:
        clean = await export_resource(outreach, "prospects", tmp_path / "a.jsonl", page_size=50)
        assert compacted == []
        assert sorted(ids_of(tmp_path / "a.jsonl")) == sorted(stored_ids(outreach_sandbox))
        assert clean.offset == (tmp_path / "a.jsonl").stat().st_size

        def touch_once(written: int, total: int | None) -> None:
            if written and not compacted and not touched:
                touched.append(first_id)
                set_updated_at(outreach_sandbox, [first_id], 1_900_000_000_000)

        touched: list[int] = []
        lowest = await outreach.prospects.list(sort="updatedAt").first()
        assert lowest is not None
        first_id = lowest.id or 0
        result = await export_resource(
            outreach, "prospects", tmp_path / "b.jsonl", page_size=50, progress=touch_once
        )
    assert len(compacted) == 1  # the id came twice: compacted
    assert result.superseded == 1
    assert ids_of(tmp_path / "b.jsonl")[first_id] == 1
