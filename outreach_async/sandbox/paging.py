"""Page parameters, page slices and pagination links, pure (outreach-api-facts.md §3).

* ``page[size]``: 50 by default, at most 1000; above that the sandbox answers 400 (the facts leave
  error-or-clamp open; an error tells a client its page size is wrong instead of hiding it).
* ``page[after]`` / ``page[before]``: keyset cursors (see :mod:`.cursors`).
* ``page[offset]`` / ``page[limit]``: the deprecated offset mode, offset at most 10,000.
* ``count=true`` adds ``meta.count`` and ``meta.count_truncated``; counting stops at 2,000,000.
* ``links.first`` / ``next`` / ``prev`` are absolute and carry every original parameter, sorted by
  name with brackets percent-encoded (Rails ``to_query``, as the one recorded ``links.next``
  shows); ``next`` only when more data follows; no ``links`` at all on an empty page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote_plus

import attrs

from .errors import bad_parameter

__all__ = [
    "COUNT_LIMIT",
    "MAX_OFFSET",
    "MAX_PAGE_SIZE",
    "PageRequest",
    "PageSlice",
    "build_url",
    "offset_slice",
    "parse_page",
    "slice_after",
    "slice_before",
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_OFFSET = 10_000
COUNT_LIMIT = 2_000_000
CURSOR_PARAMETERS = ("page[after]", "page[before]")


@attrs.frozen
class PageRequest:
    """What the client asked of the page; ``offset`` is not None in offset mode."""

    size: int = DEFAULT_PAGE_SIZE
    after: str | None = None
    before: str | None = None
    offset: int | None = None
    count: bool = False


@attrs.frozen
class PageSlice:
    """Rows ``start:end`` of the ordered collection, and whether rows lie on either side."""

    start: int
    end: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.start > 0

    @property
    def has_next(self) -> bool:
        return self.end < self.total


def _integer(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_parameter("pageParameter.invalid", name, f"{name} must be an integer.") from None
    if not lo <= value <= hi:
        raise bad_parameter(
            "pageParameter.invalid", name, f"{name} must be between {lo} and {hi}; got {value}."
        )
    return value


def parse_page(query: Mapping[str, str], default_size: int = DEFAULT_PAGE_SIZE) -> PageRequest:
    """The paging parameters of a collection request, validated (400 naming the parameter)."""
    count = query.get("count", "false").lower() == "true"
    if "page[offset]" in query or "page[limit]" in query:
        return PageRequest(
            size=_integer(query, "page[limit]", default_size, 1, MAX_PAGE_SIZE),
            offset=_integer(query, "page[offset]", 0, 0, MAX_OFFSET),
            count=count,
        )
    after, before = query.get("page[after]"), query.get("page[before]")
    if after is not None and before is not None:
        raise bad_parameter(
            "pageParameter.invalid",
            "page[before]",
            "page[after] and page[before] exclude each other.",
        )
    size = _integer(query, "page[size]", default_size, 1, MAX_PAGE_SIZE)
    return PageRequest(size=size, after=after, before=before, count=count)


def slice_after(start: int, size: int, total: int) -> PageSlice:
    """The page of ``size`` rows from ``start`` (the first row after the cursor)."""
    return PageSlice(start, min(start + size, total), total)


def slice_before(end: int, size: int, total: int) -> PageSlice:
    """The page of up to ``size`` rows that ends just before row ``end`` (``page[before]``)."""
    return PageSlice(max(end - size, 0), end, total)


def offset_slice(offset: int, limit: int, total: int) -> PageSlice:
    """Rows ``offset:offset+limit`` (offset mode)."""
    start = min(offset, total)
    return PageSlice(start, min(start + limit, total), total)


def build_url(
    base: str,
    params: Sequence[tuple[str, str]],
    replace: Mapping[str, str | None],
) -> str:
    """``base`` with ``params``, where ``replace`` overrides (None drops) some names.

    Parameters come out sorted by name and encoded like Rails' ``to_query``:
    ``filter%5BupdatedAt%5D%5Bgte%5D=1990-01-01T00%3A00%3A00.000Z``. Rails links come from the
    parsed params hash, so a repeated name appears once (the first value, the one the sandbox
    read) unless it is an array name (``filter[name][]``), whose values all stay, in order.
    tap-outreach appends its first-page parameters to every ``links.next`` it follows; links
    that echoed the repeats would grow by one copy per page.
    """
    seen: set[str] = set()
    kept = []
    for k, v in params:
        if k in replace or (k in seen and not k.endswith("[]")):
            continue
        seen.add(k)
        kept.append((k, v))
    kept.extend((k, v) for k, v in replace.items() if v is not None)
    kept.sort(key=lambda pair: pair[0])
    if not kept:
        return base
    query = "&".join(f"{quote_plus(k, safe='*')}={quote_plus(v, safe='*')}" for k, v in kept)
    return f"{base}?{query}"
