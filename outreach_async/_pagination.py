"""Cursor pagination as an async iterator: ``Paginator`` and ``Page``.

``list()`` returns a Paginator without any I/O. Iterating follows the absolute ``links.next``
until there is none (a page without ``links`` is the end, facts section 3), in a loop (never
recursion), holding about two pages: the one the caller works on and the next one, which is
fetched while the caller works (prefetch). The next request leaves before the current page is
decoded: its link is read from the raw bytes first (:func:`next_link_hint`, a backwards byte
search, no parsing), so decoding overlaps the wire; the decoded ``links.next`` is the authority,
and a request sent on a wrong guess is cancelled. A next link seen before raises instead of
looping forever. A 502 on a big page halves ``page[size]`` and asks for the same cursor again,
because Outreach's gateway gives up on heavy pages (mailings at 1000 per page, facts section 7).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
)
from typing import Any, Generic, Protocol, TypeVar

import attrs
import orjson
from yarl import URL

from ._exceptions import ResponseFormatError, ServerError

__all__ = ["FetchedPage", "Page", "Paginator", "halve_page_size", "next_link_hint"]

T = TypeVar("T")


class IncludedSource(Protocol):
    """Where a page's ``included`` models come from (the response's identity map)."""

    def included_models(self) -> list[Any]: ...


#: fetches one page over the network and returns the function that decodes it (a
#: :class:`FetchedPage` when the next link can be read before decoding): the paginator
#: prefetches bytes, and decodes a page only once the previous one has been let go
PageFetcher = Callable[[URL], Awaitable[Callable[[], "Page[T]"]]]

# The value of a ``"next": "..."`` member (a JSON string, escapes included) and the start of
# the ``"links": {`` object it must sit in.
_STRING_VALUE = re.compile(rb'\s*:\s*"((?:[^"\\]|\\.)*)"')
_LINKS_KEY = re.compile(rb'"links"\s*:\s*$')
#: ``"next"`` keys looked at before giving up (a record's value may be the string "next")
_HINT_TRIES = 8


def next_link_hint(body: bytes) -> URL | None:
    """The document's ``links.next`` read from its raw bytes, without parsing the document.

    A backwards byte search for a ``"next"`` key inside a ``"links": {...}`` object holding only
    strings before it (``first``): top-level links come last or before ``included`` in
    Outreach's documents, and no resource's own ``links`` has a ``next``. A guess, cheap next to
    decoding a page: the paginator checks it against the decoded ``links.next``.
    """
    end = len(body)
    for _ in range(_HINT_TRIES):
        at = body.rfind(b'"next"', 0, end)
        if at < 0:
            return None
        end = at
        value = _STRING_VALUE.match(body, at + len(b'"next"'))
        opening = body.rfind(b"{", 0, at)
        if value is None or opening < 0 or b"}" in body[opening:at]:
            continue
        if _LINKS_KEY.search(body, max(0, opening - 32), opening) is None:
            continue
        try:
            text = orjson.loads(b'"' + value.group(1) + b'"')
        except orjson.JSONDecodeError:
            return None
        return URL(text, encoded=True) if text else None
    return None


@attrs.frozen
class FetchedPage(Generic[T]):
    """A page read off the wire and not decoded yet, with its next link when the bytes show it
    (:func:`next_link_hint`), so the next request can leave before this page is decoded."""

    decode: Callable[[], Page[T]]
    next_hint: URL | None = None

    def __call__(self) -> Page[T]:
        return self.decode()


@attrs.define(eq=False)
class Page(Generic[T]):
    """One page of a collection: typed ``items`` plus the document's ``links``, ``meta`` and
    ``included`` resources (as models)."""

    items: list[T]
    links: dict[str, Any] = attrs.field(factory=dict)
    meta: dict[str, Any] = attrs.field(factory=dict)
    #: the URL this page was read from
    url: URL | None = None
    #: the per-response identity map that knows the ``included`` resources
    context: IncludedSource | None = attrs.field(default=None, repr=False)

    @property
    def included(self) -> list[Any]:
        """The document's ``included`` resources as models (built on first access)."""
        return self.context.included_models() if self.context is not None else []

    @property
    def next_url(self) -> URL | None:
        """The next page's absolute URL, or None on the last page."""
        value = self.links.get("next") if self.links else None
        return URL(value, encoded=True) if isinstance(value, str) and value else None

    def __len__(self) -> int:
        return len(self.items)


async def collect_items(items: AsyncIterable[T], limit: int | None) -> list[T]:
    """The first ``limit`` items (all when None) of an async iterable, stopping right there."""
    out: list[T] = []
    if limit is not None and limit <= 0:
        return out
    async for item in items:
        out.append(item)
        if limit is not None and len(out) >= limit:
            break
    return out


def _keep_first(page: Page[Any], wanted: int) -> int:
    """Cut ``page`` to the ``wanted`` records still owed; how many are wanted after it."""
    if len(page.items) > wanted:
        page.items = page.items[:wanted]
    return wanted - len(page.items)


def _no_larger_than(url: URL, wanted: int | None) -> URL:
    """``url`` asking for at most ``wanted`` records when its ``page[size]`` asks for more."""
    size = url.query.get("page[size]")
    if wanted is None or not (size and size.isdigit()) or int(size) <= wanted:
        return url
    return url.update_query({"page[size]": str(wanted)})


def halve_page_size(url: URL, default_size: int = 50) -> URL | None:
    """The same URL (same cursor) asking for half as many records; None when already at 1."""
    current = url.query.get("page[size]")
    size = int(current) if current and current.isdigit() else default_size
    if size <= 1:
        return None
    return url.update_query({"page[size]": str(size // 2)})


class Paginator(Generic[T]):
    """An async-iterable, lazily fetched collection.

    ``async for item in paginator`` streams every record; ``pages()`` streams pages;
    ``first()``, ``collect(limit)`` and ``count()`` are the usual shortcuts.
    """

    def __init__(
        self,
        fetch_page: Callable[[URL], Awaitable[Callable[[], Page[T]]]],
        url: URL,
        *,
        limit: int | None = None,
        prefetch: bool = True,
    ) -> None:
        self._fetch_page = fetch_page
        self._url = url
        self._limit = limit
        self._prefetch = prefetch

    @property
    def url(self) -> URL:
        """The first page's URL (with every query parameter)."""
        return self._url

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items(self._limit)

    async def _items(self, limit: int | None) -> AsyncGenerator[T, None]:
        async for page in self._pages(limit):
            items: list[T] | None = page.items
            page = None  # type: ignore[assignment]  # let the page go before the next decodes
            for item in items or ():
                yield item
            items = None

    def pages(self) -> AsyncGenerator[Page[T], None]:
        """Every page, in order; the next one is fetched while this one is decoded and while
        the caller works on it.

        With a ``limit``, the page that reaches it is the last (cut to the limit), and no page
        past it is ever requested."""
        return self._pages(self._limit)

    async def _pages(self, limit: int | None) -> AsyncGenerator[Page[T], None]:
        seen: set[str] = set()
        url: URL | None = self._url if limit != 0 else None
        left = limit  # records still wanted (None: all)
        pending: asyncio.Task[Callable[[], Page[T]]] | None = None
        hint: URL | None = None
        try:
            while url is not None:
                decode = await (
                    pending if pending is not None else self._fetch(_no_larger_than(url, left))
                )
                # With a limit, nothing leaves before the page is counted: it may be the last.
                pending, hint = None, self._hint(decode, seen) if left is None else None
                if hint is not None:  # the next request leaves before this page decodes
                    pending = await self._send_ahead(hint)
                with _collector_paused():
                    page: Page[T] | None = decode()
                decode = None  # type: ignore[assignment]  # the bytes go once decoded
                url = self._next(page, seen)  # type: ignore[arg-type]
                if left is not None:  # a limit known in advance: never ask past it
                    left = _keep_first(page, left)  # type: ignore[arg-type]
                    url = url if left > 0 else None
                if pending is not None and url != hint:  # a wrong guess: ask for the right one
                    await _cancel(pending)
                    pending = None
                if url is not None and pending is None and self._prefetch:
                    pending = await self._send_ahead(_no_larger_than(url, left))
                yield page  # type: ignore[misc]
                page = None  # only the page the caller holds stays alive while the next decodes
        finally:
            if pending is not None:
                await _cancel(pending)

    def _hint(self, fetched: Callable[[], Page[T]], seen: set[str]) -> URL | None:
        """The next link the fetched bytes show, if prefetching and not a link seen before."""
        if not self._prefetch or not isinstance(fetched, FetchedPage):
            return None
        hint = fetched.next_hint
        return hint if hint is not None and str(hint) not in seen else None

    async def _send_ahead(self, url: URL) -> asyncio.Task[Callable[[], Page[T]]]:
        task = asyncio.ensure_future(self._fetch(url))
        await asyncio.sleep(0)  # let it send now, before a decode or the caller holds the loop
        return task

    def _next(self, page: Page[T], seen: set[str]) -> URL | None:
        next_url = page.next_url
        if next_url is None:
            return None
        key = str(next_url)
        if key in seen:
            raise ResponseFormatError(f"pagination loop: the server sent the next link {key} twice")
        seen.add(key)
        return next_url

    async def _fetch(self, url: URL) -> Callable[[], Page[T]]:
        # A loop, not recursion. A 502 is asked again once at the same size (a passing gateway
        # hiccup), then page[size] is halved for the same cursor: Outreach's gateway gives up on
        # pages too heavy to render in time, and asking again at that size only waits longer.
        tries_at_this_size = 0
        while True:
            try:
                return await self._fetch_page(url)
            except ServerError as exc:
                if exc.status != 502:
                    raise
                tries_at_this_size += 1
                if tries_at_this_size < 2:
                    continue
                smaller = halve_page_size(url)
                if smaller is None:
                    raise
                url, tries_at_this_size = smaller, 0

    async def first(self) -> T | None:
        """The first record, or None for an empty collection (one request for one record)."""
        url = self._url.update_query({"page[size]": "1"})
        page = (await self._fetch(url))()
        return page.items[0] if page.items else None

    async def collect(self, limit: int | None = None) -> list[T]:
        """Every record (or the first ``limit``) in one list. Memory grows with the result.

        The limit is known before the first request, so no page past it is asked for (2500
        records at 1000 a page: three requests, the third for 500)."""
        limits = [n for n in (self._limit, limit) if n is not None]
        return await collect_items(self._items(min(limits) if limits else None), None)

    async def count(self) -> int:
        """The server-side count of the collection (``count=true``, one request, one record)."""
        url = self._url.update_query({"count": "true", "page[size]": "1"})
        page = (await self._fetch(url))()
        count = page.meta.get("count")
        if not isinstance(count, int):
            raise ResponseFormatError("the server did not answer meta.count for count=true")
        return count


#: Whether pages decode with the cyclic collector paused: off unless the application asks
#: (:func:`pause_collector_while_decoding`), since the collector belongs to the whole process.
_pause_collector = False
#: Whether a decoded page may be moved to the oldest generation (gc.freeze + gc.unfreeze): only
#: when the application had frozen nothing when it turned the pause on, as unfreeze thaws all.
#: Decided once there: gc.get_freeze_count() walks every frozen object (milliseconds a call).
_move_pages_to_oldest = False


def pause_collector_while_decoding(enabled: bool = True) -> None:
    """Let every paginator pause Python's cyclic garbage collector while it decodes a page.

    Decoding allocates tens of thousands of containers at once (a 1000-prospect page: about
    50,000 dicts), which sets off dozens of collections per page, some walking every live object
    (the page the caller holds included): about a third of a streaming loop's time, for garbage
    that holds no cycles. The pause covers one synchronous decode (no other task runs meanwhile)
    and the collector is back on before the page is handed over. Before the decode the young
    generations are collected (the program's own cycles are freed as usual); after it the
    page's containers join the oldest generation, so the young collections never walk them and
    they never count toward a full one (they go by reference counting when the page is let go).
    Objects the application froze (``gc.freeze()``, e.g. before forking workers) before turning
    this on stay frozen: the pages then stay in the young generations. The collector is the
    process's, so the library leaves it alone unless the application turns this on (the
    ``outreach-async`` command line does, and so do the benchmarks).
    """
    global _pause_collector, _move_pages_to_oldest
    _pause_collector = enabled
    _move_pages_to_oldest = enabled and gc.get_freeze_count() == 0


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The pause :func:`pause_collector_while_decoding` allows, around one page's decoding."""
    if not _pause_collector or not gc.isenabled():
        yield
        return
    # The young generations hold only what the program made since the last page (the pages
    # themselves go to the oldest, below): collect them now, so no cycle of the program's is
    # moved to the oldest generation uncollected.
    gc.collect(1)
    gc.disable()
    try:
        yield
    finally:
        # The page's containers were counted as young while the collector was off, and the
        # first allocation after it is back on would walk all of them (a 1000-prospect page:
        # about 10 ms a page, a fifth of a streaming loop's CPU). They hold no cycles and go by
        # reference counting when the page is let go, so they join the oldest generation
        # instead: freeze then unfreeze moves every tracked object there and zeroes the young
        # count, in constant time, and the page never counts toward a full collection. An
        # application that froze objects itself (gc.freeze() before forking workers) keeps
        # them frozen: unfreeze would thaw them too, so then the page stays young.
        if _move_pages_to_oldest:
            gc.freeze()
            gc.unfreeze()
        gc.enable()


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
