"""The paginator: loop not recursion, end conditions, loop detection, prefetch, bounded memory."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from yarl import URL

from outreach_async._exceptions import ResponseFormatError, ServerError
from outreach_async._pagination import Page, Paginator, halve_page_size

BASE = URL("http://127.0.0.1/api/v2/prospects?page%5Bsize%5D=4")


class Item:
    """A record heavy enough to notice in memory, and weak-referenceable."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.payload = bytearray(10_000)


class FakeServer:
    """Serves `pages` pages of `per_page` items linked by absolute next links."""

    def __init__(self, pages: int, per_page: int = 4) -> None:
        self.pages = pages
        self.per_page = per_page
        self.requested: list[URL] = []
        self.live: weakref.WeakSet[Item] = weakref.WeakSet()
        self.max_live_items = 0

    async def fetch(self, url: URL) -> Callable[[], Page[Item]]:
        self.requested.append(url)
        await asyncio.sleep(0)
        return lambda: self.decode(url)

    def decode(self, url: URL) -> Page[Item]:
        index = int(url.query.get("page[after]", "0"))
        if self.pages == 0:
            return Page([], {}, {}, url)
        items = [Item(index * self.per_page + i) for i in range(self.per_page)]
        for item in items:
            self.live.add(item)
        self.max_live_items = max(self.max_live_items, len(self.live))
        links: dict[str, Any] = {"first": str(BASE)}
        if index + 1 < self.pages:
            links["next"] = str(url.update_query({"page[after]": str(index + 1)}))
        return Page(items, links, {}, url)


async def test_streams_every_record_across_60_pages_in_order() -> None:
    server = FakeServer(pages=60)
    seen = [item.n async for item in Paginator(server.fetch, BASE)]
    assert seen == list(range(240))
    assert len(server.requested) == 60


async def test_empty_collection_without_links_ends_cleanly() -> None:
    server = FakeServer(pages=0)
    assert [i async for i in Paginator(server.fetch, BASE)] == []
    assert await Paginator(server.fetch, BASE).first() is None
    assert len(server.requested) == 2


async def test_a_repeated_next_link_raises_instead_of_looping() -> None:
    async def fetch(url: URL) -> Callable[[], Page[int]]:
        page = Page([1], {"next": str(BASE.update_query({"page[after]": "x"}))}, {}, url)
        return lambda: page

    with pytest.raises(ResponseFormatError, match="pagination loop"):
        async for _ in Paginator(fetch, BASE):
            pass


async def test_memory_stays_at_about_two_pages_however_many_pages() -> None:
    server = FakeServer(pages=100)
    count = 0
    async for _item in Paginator(server.fetch, BASE):
        count += 1
    assert count == 400
    # only the page being consumed and the one being decoded are alive: never more
    assert server.max_live_items <= 2 * server.per_page


async def test_next_page_is_fetched_while_the_caller_works_on_the_current_one() -> None:
    server = FakeServer(pages=3)
    pages = Paginator(server.fetch, BASE).pages()
    first = await anext(pages)
    assert first.items[0].n == 0
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(server.requested) == 2, "page 2 should be in flight before page 1 is finished"
    await pages.aclose()


async def test_limit_and_collect_stop_early() -> None:
    server = FakeServer(pages=50)
    assert [i.n for i in await Paginator(server.fetch, BASE).collect(limit=6)] == list(range(6))
    server2 = FakeServer(pages=50)
    assert len([i async for i in Paginator(server2.fetch, BASE, limit=9)]) == 9
    assert len(server2.requested) == 3


async def test_count_asks_for_meta_count_with_one_record() -> None:
    seen: list[URL] = []

    async def fetch(url: URL) -> Callable[[], Page[int]]:
        seen.append(url)
        page = Page([1], {}, {"count": 1234, "count_truncated": False}, url)
        return lambda: page

    assert await Paginator(fetch, BASE).count() == 1234
    assert seen[0].query["count"] == "true"
    assert seen[0].query["page[size]"] == "1"


async def test_a_502_halves_the_page_size_and_retries_the_same_cursor() -> None:
    seen: list[URL] = []

    async def fetch(url: URL) -> Callable[[], Page[int]]:
        seen.append(url)
        if int(url.query["page[size]"]) > 250:
            raise ServerError("too big", status=502)
        page = Page([1, 2], {}, {}, url)
        return lambda: page

    start = URL("http://h/api/v2/mailings?page%5Bsize%5D=1000&page%5Bafter%5D=abc")
    assert [i async for i in Paginator(fetch, start)] == [1, 2]
    # each size is asked twice (a hiccup passes), then halved, always from the same cursor
    assert [u.query["page[size]"] for u in seen] == ["1000", "1000", "500", "500", "250"]
    assert {u.query["page[after]"] for u in seen} == {"abc"}


async def test_other_server_errors_propagate() -> None:
    async def fetch(url: URL) -> Callable[[], Page[int]]:
        raise ServerError("down", status=503)

    with pytest.raises(ServerError):
        await Paginator(fetch, BASE).collect()


def test_halve_page_size_bottoms_out_at_one() -> None:
    url = URL("http://h/x?page%5Bsize%5D=1")
    assert halve_page_size(url) is None
    assert halve_page_size(URL("http://h/x")) is not None  # default 50 -> 25


async def test_a_single_502_blip_does_not_shrink_the_page() -> None:
    seen: list[URL] = []

    async def fetch(url: URL) -> Callable[[], Page[int]]:
        seen.append(url)
        if len(seen) == 1:
            raise ServerError("gateway hiccup", status=502)
        page = Page([1], {}, {}, url)
        return lambda: page

    start = URL("http://h/api/v2/prospects?page%5Bsize%5D=1000")
    assert [i async for i in Paginator(fetch, start)] == [1]
    assert [u.query["page[size]"] for u in seen] == ["1000", "1000"]


@pytest.mark.parametrize(("limit", "sizes"), [(8, ["4", "4"]), (10, ["4", "4", "2"]), (1, ["1"])])
async def test_a_limit_known_in_advance_never_starts_a_fetch_past_it(
    limit: int, sizes: list[str]
) -> None:
    collected = FakeServer(pages=50)
    assert len(await Paginator(collected.fetch, BASE).collect(limit=limit)) == limit
    assert [u.query["page[size]"] for u in collected.requested] == sizes

    iterated = FakeServer(pages=50)
    assert len([i async for i in Paginator(iterated.fetch, BASE, limit=limit)]) == limit
    assert [u.query["page[size]"] for u in iterated.requested] == sizes

    paged = FakeServer(pages=50)
    pages = [len(p) async for p in Paginator(paged.fetch, BASE, limit=limit).pages()]
    assert sum(pages) == limit
    assert len(paged.requested) == len(sizes)


async def test_the_smaller_of_two_limits_wins() -> None:
    server = FakeServer(pages=50)
    assert len(await Paginator(server.fetch, BASE, limit=5).collect(limit=9)) == 5
    assert len(await Paginator(server.fetch, BASE, limit=9).collect(limit=5)) == 5
