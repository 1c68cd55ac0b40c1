"""Relationship handles and the resolver without a network: wire forms to handles, fetching
through a fake response context, ``resolve()`` through a fake client core, and ``id_batches``
(hypothesis)."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from outreach_async import (
    UNSET,
    Account,
    DetachedHandleError,
    MissingResourcesError,
    Prospect,
    QueryError,
    Repository,
    ResponseFormatError,
    ToMany,
    ToOne,
    UnsetType,
)
from outreach_async._http import Request, Response
from outreach_async._relationships import to_many_handle, to_one_handle
from outreach_async.models._base import Resource
from outreach_async.resources._resolve import MAX_BATCH_CHARS, MAX_BATCH_IDS, id_batches

RELATED = "https://api.outreach.io/api/v2/prospects?filter%5Baccount%5D%5Bid%5D=1"


class FakeContext:
    """A response's identity map holding ``included`` models; records what it was asked."""

    def __init__(self, *included: Resource) -> None:
        self.models = {(m.__resource_spec__.type, m.id): m for m in included}
        self.fetched: list[tuple[str, int | None, str | None]] = []
        self.followed: list[str] = []
        self.remote: list[Resource] = []

    def included(self, type_: str, id_: int) -> Resource | None:
        return self.models.get((type_, id_))

    async def fetch_one(self, type_: str, id_: int | None, related: str | None) -> Resource | None:
        self.fetched.append((type_, id_, related))
        return Prospect(id=id_ if id_ is not None else 99, first_name="fetched")

    def follow(self, type_: str, related: str, limit: int | None = None) -> AsyncIterator[Resource]:
        self.followed.append(related)
        return self._stream()

    async def _stream(self) -> AsyncIterator[Resource]:
        for model in self.remote:
            yield model


# ---------------------------------------------------------------- wire forms -> handles


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ({"data": {"type": "account", "id": 7}}, ("account", 7, None, None)),
        ({"data": {"type": "account", "id": "7"}}, ("account", 7, None, None)),  # JSON:API string
        ({"data": None}, ("account", None, None, None)),
        ({"links": {"related": RELATED}}, ("account", None, RELATED, None)),
        ({"meta": {"count": 0}}, ("account", None, None, {"count": 0})),
        ({}, ("account", None, None, None)),
    ],
)
def test_to_one_handle_reads_every_relationship_form(
    rel: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    handle = to_one_handle("account", rel, None)
    assert (handle.type, handle.id, handle.related, handle.meta) == expected


def test_to_one_handle_keeps_the_type_the_data_names() -> None:
    # task.subject is polymorphic: the data says which type it is
    handle = to_one_handle("prospect", {"data": {"type": "account", "id": 3}}, None)
    assert (handle.type, handle.id) == ("account", 3)


def test_to_many_handle_reads_data_links_and_count() -> None:
    rel = {
        "data": [{"type": "prospect", "id": 1}, {"type": "prospect", "id": "2"}],
        "links": {"related": RELATED},
        "meta": {"count": 2},
    }
    handle = to_many_handle("prospect", rel, None)
    assert (handle.ids, handle.related, handle.count) == ([1, 2], RELATED, 2)
    links_only = to_many_handle("prospect", {"links": {"related": RELATED}}, None)
    assert (links_only.ids, links_only.related, links_only.count) == (None, RELATED, None)
    meta_only = to_many_handle("prospect", {"meta": {"count": 3}}, None)
    assert (meta_only.ids, meta_only.related, meta_only.count) == (None, None, 3)


# ---------------------------------------------------------------- to-one fetch


async def test_to_one_fetch_reads_included_without_fetching() -> None:
    account = Account(id=7, name="Acme")
    context = FakeContext(account)
    handle: ToOne[Account] = ToOne("account", 7, context=context)
    assert await handle.fetch() is account
    assert context.fetched == []


async def test_fetch_asks_again_each_time_and_cached_reuses_the_last_answer() -> None:
    context = FakeContext()
    handle: ToOne[Prospect] = ToOne("prospect", 5, context=context)

    first = await handle.fetch(cached=True)  # nothing yet: it fetches
    second = await handle.fetch()  # asks again: the server may have changed it
    assert first is not None
    assert second is not None
    assert first is not second
    assert await handle.fetch(cached=True) is second  # the last answer, no request
    assert context.fetched == [("prospect", 5, None)] * 2


async def test_a_cached_fetch_of_a_handle_built_from_a_model_needs_no_client() -> None:
    account = Account(id=7, name="Acme")
    handle = Prospect(account=account).account
    assert isinstance(handle, ToOne)

    assert await handle.fetch(cached=True) is account
    with pytest.raises(DetachedHandleError, match="no client behind it"):
        await handle.fetch()  # asking the server needs a client


async def test_a_links_only_to_one_fetches_through_its_related_link() -> None:
    context = FakeContext()
    handle: ToOne[Prospect] = ToOne("prospect", None, related=RELATED, context=context)
    assert not handle.is_null
    await handle.fetch()
    assert context.fetched == [("prospect", None, RELATED)]


async def test_a_null_to_one_is_none_even_without_a_client() -> None:
    handle: ToOne[Prospect] = ToOne("prospect", None)
    assert handle.is_null
    assert await handle.fetch() is None


async def test_a_detached_to_one_says_so() -> None:
    with pytest.raises(DetachedHandleError, match="prospect handle has no client behind it"):
        await ToOne("prospect", 5).fetch()


# ---------------------------------------------------------------- to-many iteration


async def test_a_to_many_wholly_included_costs_no_request() -> None:
    prospects = [Prospect(id=i) for i in (3, 1, 2)]
    context = FakeContext(*prospects)
    handle: ToMany[Prospect] = ToMany(
        "prospect", [3, 1, 2], meta={"count": 3}, related=RELATED, context=context
    )
    assert await handle.collect() == prospects
    assert context.followed == []
    assert context.fetched == []


@pytest.mark.parametrize(
    ("ids", "count"),
    [
        ([1, 2, 3], None),  # 3 is not in included
        ([1, 2], 5),  # the data was cut short: meta.count says there are 5
    ],
)
async def test_a_to_many_not_wholly_carried_streams_its_related_link(
    ids: list[int], count: int | None
) -> None:
    context = FakeContext(Prospect(id=1), Prospect(id=2))
    context.remote = [Prospect(id=i) for i in range(1, 6)]
    meta = None if count is None else {"count": count}
    handle: ToMany[Prospect] = ToMany("prospect", ids, meta=meta, related=RELATED, context=context)
    assert [p.id for p in await handle.collect()] == [1, 2, 3, 4, 5]
    assert context.followed == [RELATED]


async def test_a_to_many_with_only_meta_and_a_count_raises_rather_than_drop_records() -> None:
    handle: ToMany[Prospect] = to_many_handle("prospect", {"meta": {"count": 3}}, FakeContext())
    with pytest.raises(ResponseFormatError, match=r"only meta \(count=3\)"):
        await handle.collect()


async def test_a_to_many_with_only_meta_and_no_count_is_empty() -> None:
    for rel in ({"meta": {"count": 0}}, {}):
        assert await to_many_handle("prospect", rel, FakeContext()).collect() == []


async def test_a_to_many_of_ids_without_a_link_reads_included_then_fetches_the_rest() -> None:
    context = FakeContext(Prospect(id=1))
    handle: ToMany[Prospect] = ToMany("prospect", [1, 2], context=context)
    assert [p.id for p in await handle.collect()] == [1, 2]
    assert context.fetched == [("prospect", 2, None)]


async def test_collect_stops_at_its_limit() -> None:
    context = FakeContext()
    context.remote = [Prospect(id=i) for i in range(10)]
    handle: ToMany[Prospect] = ToMany("prospect", None, related=RELATED, context=context)
    assert [p.id for p in await handle.collect(limit=3)] == [0, 1, 2]
    assert await handle.collect(limit=0) == []


async def test_a_detached_to_many_says_so() -> None:
    with pytest.raises(DetachedHandleError, match="no client behind it"):
        await ToMany("prospect", None, related=RELATED).collect()


# ---------------------------------------------------------------- pickling, equality


async def test_handles_pickle_without_their_context_or_cached_target() -> None:
    context = FakeContext(Account(id=7))
    one: ToOne[Account] = ToOne("account", 7, meta={"x": 1}, related=RELATED, context=context)
    await one.fetch()
    many: ToMany[Prospect] = ToMany("prospect", [1], meta={"count": 1}, context=context)

    one_back, many_back = pickle.loads(pickle.dumps((one, many)))

    assert (one_back.type, one_back.id, one_back.meta, one_back.related) == (
        "account",
        7,
        {"x": 1},
        RELATED,
    )
    assert (many_back.ids, many_back.count) == ([1], 1)
    assert one_back == one
    assert many_back == many
    with pytest.raises(DetachedHandleError):
        await one_back.fetch()
    with pytest.raises(DetachedHandleError):
        await many_back.collect()


def test_handles_compare_by_type_id_and_meta_and_are_unhashable() -> None:
    assert ToOne("account", 1) == ToOne("account", 1, context=FakeContext())
    assert ToOne("account", 1) != ToOne("user", 1)
    assert ToOne("account", 1) != ToOne("account", 1, meta={"complete": True})
    assert ToMany("prospect", [1, 2]) != ToMany("prospect", [2, 1])
    with pytest.raises(TypeError):
        hash(ToOne("account", 1))


# ---------------------------------------------------------------- resolve through a fake core


class FakeCore:
    """A client core serving ``GET /prospects?filter[id]=...`` from a set of existing ids."""

    base_url = URL("https://api.outreach.io/api/v2")
    closed = False

    def __init__(self, existing: set[int]) -> None:
        self.existing = existing
        self.urls: list[URL] = []

    async def send(self, request: Request) -> Response:
        self.urls.append(request.url)
        asked = [int(i) for i in request.url.query["filter[id]"].split(",")]
        data = [
            {"type": "prospect", "id": i, "attributes": {}} for i in asked if i in self.existing
        ]
        body = orjson.dumps({"data": data})
        return Response(200, {}, body, request.url)

    def repository(self, model: type[Any]) -> Repository[Any]:
        return Repository(self, model)


def prospects(core: FakeCore) -> Repository[Prospect]:
    return Repository(core, Prospect)


async def test_resolve_answers_in_input_order_with_duplicates_nulls_and_unset() -> None:
    core = FakeCore({1, 2, 3})
    handles: list[ToOne[Prospect] | UnsetType | None] = [
        ToOne("prospect", 3),
        None,
        ToOne("prospect", 1),
        UNSET,
        ToOne("prospect", 3),
        ToOne("prospect", None),
    ]
    resolved = await prospects(core).resolve(handles)
    assert [p.id if p else None for p in resolved] == [3, None, 1, None, 3, None]
    assert resolved[0] is resolved[4]
    assert [u.query["filter[id]"] for u in core.urls] == ["3,1"]


async def test_resolve_names_missing_ids_or_gives_none() -> None:
    core = FakeCore({1})
    handles: list[ToOne[Prospect] | None] = [ToOne("prospect", i) for i in (4, 1, 2, 4)]
    with pytest.raises(MissingResourcesError) as raised:
        await prospects(core).resolve(handles)
    assert raised.value.ids == [4, 2]
    assert "2 prospect resource(s) not found: 4, 2" in str(raised.value)
    resolved = await prospects(core).resolve(handles, missing="none")
    assert [p.id if p else None for p in resolved] == [None, 1, None, None]


async def test_resolve_refuses_bad_arguments_before_any_request() -> None:
    core = FakeCore({1})
    with pytest.raises(QueryError, match="missing must be"):
        await prospects(core).resolve([], missing="skip")
    account: ToOne[Account] = ToOne("account", 1)
    with pytest.raises(QueryError, match="'account' handle"):
        await prospects(core).resolve([account])  # type: ignore[list-item]  # mypy refuses it too
    with pytest.raises(QueryError, match="takes to-one handles"):
        await prospects(core).resolve([1])  # type: ignore[list-item]  # mypy refuses it too
    assert core.urls == []


async def test_resolve_sends_nothing_when_everything_is_local() -> None:
    core = FakeCore(set())
    handle: ToOne[Prospect] = ToOne("prospect", 8, context=FakeContext(Prospect(id=8)))
    assert [p.id if p else None for p in await prospects(core).resolve([handle])] == [8]
    assert core.urls == []


async def test_resolve_splits_long_ids_to_keep_urls_short() -> None:
    ids = [10**11 + i for i in range(2500)]  # twelve-digit ids: about 460 per request
    core = FakeCore(set(ids))
    resolved = await prospects(core).resolve([ToOne("prospect", i) for i in ids])
    assert [p.id for p in resolved if p] == ids
    assert len(core.urls) == 6
    assert max(len(str(u)) for u in core.urls) < MAX_BATCH_CHARS + 200


async def test_1000_five_digit_ids_fit_one_request() -> None:
    ids = list(range(10_000, 11_000))
    core = FakeCore(set(ids))
    await prospects(core).resolve([ToOne("prospect", i) for i in ids])
    (url,) = core.urls
    assert url.query["page[size]"] == "1000"
    assert ",".join(map(str, ids)) in url.raw_query_string  # commas go out unencoded


# ---------------------------------------------------------------- id_batches


def _long_id_lists() -> st.SearchStrategy[list[int]]:
    """Up to 5,000 ids of mixed digit counts: long enough to reach both limits."""

    def build(count: int, widths: list[int], start: int) -> list[int]:
        return [10 ** (widths[i % len(widths)] - 1) + start + i for i in range(count)]

    return st.builds(
        build,
        st.integers(0, 5000),
        st.lists(st.integers(1, 15), min_size=1, max_size=4),
        st.integers(0, 10**6),
    )


@settings(max_examples=200, deadline=None)
@given(
    ids=st.one_of(
        st.lists(st.integers(1, 10**15), unique=True, max_size=50),
        _long_id_lists(),
    )
)
def testid_batches_cover_every_id_once_in_order_within_both_limits(ids: list[int]) -> None:
    batches = id_batches(ids)

    assert [i for batch in batches for i in batch] == ids
    assert all(batch for batch in batches)
    for batch in batches:
        assert len(batch) <= MAX_BATCH_IDS
        assert len(",".join(map(str, batch))) <= MAX_BATCH_CHARS
    for batch, following in itertools.pairwise(batches):
        # greedy: a batch closed only because the next id would not fit (the budget counts a
        # comma for every id, the first one too)
        grown = [*batch, following[0]]
        assert len(grown) > MAX_BATCH_IDS or len(",".join(map(str, grown))) >= MAX_BATCH_CHARS


def testid_batches_of_nothing_is_nothing() -> None:
    assert id_batches([]) == []
