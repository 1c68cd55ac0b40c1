"""The next request leaves before the current page is decoded: the next link is read from the raw
bytes (``next_link_hint``), checked against the decoded ``links.next``, and a wrong guess costs
one cancelled request, never a wrong or repeated record."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from outreach_async import pause_collector_while_decoding
from outreach_async._pagination import FetchedPage, Page, Paginator, next_link_hint

BASE = "https://api.outreach.io/api/v2/prospects"
NEXT = f"{BASE}?page%5Bafter%5D=eyJpZCI6NH0%3D&page%5Bsize%5D=2&sort=updatedAt"


def resource(id_: int, **attributes: Any) -> dict[str, Any]:
    return {
        "type": "prospect",
        "id": id_,
        "attributes": attributes,
        "relationships": {"account": {"links": {"related": f"{BASE}/{id_}/account"}}},
        "links": {"self": f"{BASE}/{id_}"},
    }


def test_the_next_link_at_the_end_of_a_compact_document() -> None:
    body = orjson.dumps({"data": [resource(1)], "links": {"first": BASE, "next": NEXT}})
    assert next_link_hint(body) == URL(NEXT, encoded=True)


def test_the_next_link_before_included_and_meta_with_spaces_and_escapes() -> None:
    document = {
        "data": [resource(1, firstName="next")],
        "links": {"first": BASE, "next": NEXT, "prev": BASE},
        "included": [resource(9, note='"next": "http://wrong"')],
        "meta": {"count": 3},
    }
    body = json.dumps(document).replace("/", "\\/").encode()  # JSON may escape the slashes
    assert next_link_hint(body) == URL(NEXT, encoded=True)


def test_no_next_link_on_the_last_page_even_with_next_values_in_records() -> None:
    document = {
        "data": [resource(1, stage="next"), {"type": "x", "id": 2, "attributes": {"next": "y"}}],
        "links": {"first": BASE},
    }
    assert next_link_hint(orjson.dumps(document)) is None
    assert next_link_hint(b'{"data":[]}') is None
    assert next_link_hint(b"") is None


texts = st.text(alphabet=st.sampled_from(list('ab{}[]":,\\ next/links')), max_size=12)
records = st.lists(
    st.dictionaries(st.sampled_from(["next", "links", "first", "a"]), texts, max_size=4),
    max_size=4,
)


@given(records=records, has_next=st.booleans(), compact=st.booleans())
def test_the_hint_is_the_documents_next_link_whatever_the_records_hold(
    records: list[dict[str, str]], has_next: bool, compact: bool
) -> None:
    links = {"first": BASE, "next": NEXT} if has_next else {"first": BASE}
    document = {"data": [resource(i + 1, **r) for i, r in enumerate(records)], "links": links}
    body = orjson.dumps(document) if compact else json.dumps(document).encode()
    assert next_link_hint(body) == (URL(NEXT, encoded=True) if has_next else None)


class PagedServer:
    """Pages of two numbers, linked by next links; logs every fetch, cancel and decode."""

    def __init__(self, pages: int, wrong_hints: bool = False) -> None:
        self.pages = pages
        self.wrong_hints = wrong_hints
        self.log: list[str] = []

    def url(self, index: int) -> URL:
        return URL(f"{BASE}?page%5Bafter%5D={index}", encoded=True)

    async def fetch(self, url: URL) -> FetchedPage[int]:
        index = int(url.query.get("page[after]", "0"))
        self.log.append(f"fetch {index}")
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.log.append(f"cancelled {index}")
            raise
        has_next = index + 1 < self.pages
        hint = self.url(index + 7 if self.wrong_hints else index + 1) if has_next else None
        return FetchedPage(lambda: self.decode(index, url), hint)

    def decode(self, index: int, url: URL) -> Page[int]:
        self.log.append(f"decode {index}")
        links = {"next": str(self.url(index + 1))} if index + 1 < self.pages else {}
        return Page([2 * index, 2 * index + 1], links, {}, url)


async def test_each_next_request_leaves_before_the_page_before_it_is_decoded() -> None:
    server = PagedServer(pages=4)
    items = [item async for item in Paginator(server.fetch, server.url(0))]
    assert items == list(range(8))
    for index in range(3):
        assert server.log.index(f"fetch {index + 1}") < server.log.index(f"decode {index}")
    assert server.log.count("fetch 3") == 1
    assert not any("cancelled" in e for e in server.log)


async def test_a_wrong_guess_is_cancelled_and_the_decoded_link_followed() -> None:
    server = PagedServer(pages=3, wrong_hints=True)
    items = [item async for item in Paginator(server.fetch, server.url(0))]
    assert items == list(range(6))  # every record once, in order
    decoded = [e for e in server.log if e.startswith("decode")]
    assert decoded == ["decode 0", "decode 1", "decode 2"]
    assert {"fetch 7", "fetch 8"} <= set(server.log)  # the wrong guesses went out
    assert server.log.count("fetch 1") == 1
    assert server.log.count("fetch 2") == 1


async def test_without_prefetch_nothing_is_sent_ahead() -> None:
    server = PagedServer(pages=3)
    items = [item async for item in Paginator(server.fetch, server.url(0), prefetch=False)]
    assert items == list(range(6))
    assert server.log == ["fetch 0", "decode 0", "fetch 1", "decode 1", "fetch 2", "decode 2"]


async def _collector_during_decodes() -> list[bool]:
    seen: list[bool] = []

    async def fetch(url: URL) -> FetchedPage[int]:
        def decode() -> Page[int]:
            seen.append(gc.isenabled())
            return Page([1], {}, {}, url)

        return FetchedPage(decode)

    assert gc.isenabled()
    items = [item async for item in Paginator(fetch, URL(BASE))]
    assert items == [1]
    assert gc.isenabled()
    return seen


async def test_the_library_leaves_the_process_collector_alone_by_default() -> None:
    assert await _collector_during_decodes() == [True]


async def test_asked_to_it_pauses_the_collector_while_a_page_decodes_and_back_on_after() -> None:
    pause_collector_while_decoding(True)
    try:
        assert await _collector_during_decodes() == [False]
    finally:
        pause_collector_while_decoding(False)


class _Node:
    """A weakly referenceable container, to build a cycle only the collector can free."""

    def __init__(self) -> None:
        self.other: _Node | None = None


async def test_a_paused_decode_leaves_the_page_out_of_the_young_collections() -> None:
    # The next young collection would otherwise walk every container of the page; a cycle the
    # program dropped before the page decoded is collected then, not moved along with the page.
    cycle = _Node()
    cycle.other = _Node()
    cycle.other.other = cycle
    dropped = weakref.ref(cycle)
    del cycle

    async def fetch(url: URL) -> FetchedPage[list[int]]:
        return FetchedPage(lambda: Page([[i] for i in range(1000)], {}, {}, url))

    pause_collector_while_decoding(True)
    try:
        paginator = Paginator(fetch, URL(BASE))
        async for page in paginator.pages():
            young = {id(o) for o in gc.get_objects(0)} | {id(o) for o in gc.get_objects(1)}
            assert not any(id(item) in young for item in page.items)
            assert any(item is page.items[0] for item in gc.get_objects(2))
            assert dropped() is None
            assert gc.isenabled()
    finally:
        pause_collector_while_decoding(False)


async def test_objects_the_application_froze_stay_frozen() -> None:
    # a pre-fork server freezes what it loaded, so the workers' collections never touch it
    kept = [[n] for n in range(100)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()

        async def fetch(url: URL) -> FetchedPage[list[int]]:
            return FetchedPage(lambda: Page([[i] for i in range(1000)], {}, {}, url))

        pause_collector_while_decoding(True)
        try:
            pages = [page async for page in Paginator(fetch, URL(BASE)).pages()]
        finally:
            pause_collector_while_decoding(False)
        assert len(pages) == 1
        # nothing of the page added (the count may drop: a frozen object of another test can
        # die meanwhile, by reference counting) and nothing thawed: the permanent generation
        # is not among the collector's generations
        assert gc.get_freeze_count() <= frozen
        collected = {id(o) for o in gc.get_objects()}
        assert not any(id(k) in collected for k in kept)
        assert all(id(item) in collected for item in pages[0].items)
        assert gc.isenabled()
    finally:
        gc.unfreeze()
    assert kept
