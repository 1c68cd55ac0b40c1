"""A limit known in advance costs no extra request: counted at the sandbox (issue 11).

Every page asked for spends rate budget, so a paginator that knows how many records it wants
never prefetches (or requests) a page past them, and asks the last page for no more than it
still needs.
"""

from __future__ import annotations

from typing import Any

import pytest

from outreach_async import OutreachClient
from outreach_async.sandbox import Sandbox

pytestmark = pytest.mark.outreach_sandbox(seed=3500)


def listings(sandbox: Sandbox, mark: int) -> list[Any]:
    """The GETs of the prospects collection since ``mark``."""
    return [
        r for r in sandbox.requests[mark:] if r.method == "GET" and r.path.endswith("/prospects")
    ]


async def test_collect_with_a_limit_sends_exactly_the_pages_it_uses(
    outreach_sandbox: Sandbox, outreach: OutreachClient
) -> None:
    mark = len(outreach_sandbox.requests)

    prospects = await outreach.prospects.list(page_size=1000).collect(limit=2500)

    assert len(prospects) == 2500
    assert len({p.id for p in prospects}) == 2500
    sent = listings(outreach_sandbox, mark)
    assert [r.query["page[size]"] for r in sent] == ["1000", "1000", "500"]


async def test_iterating_a_list_with_a_limit_sends_exactly_the_pages_it_uses(
    outreach_sandbox: Sandbox, outreach: OutreachClient
) -> None:
    mark = len(outreach_sandbox.requests)

    seen = [p.id async for p in outreach.prospects.list(page_size=1000, limit=2000)]

    assert len(seen) == 2000
    assert len(listings(outreach_sandbox, mark)) == 2
    mark = len(outreach_sandbox.requests)
    pages = [
        len(page) async for page in outreach.prospects.list(page_size=1000, limit=1001).pages()
    ]
    assert pages == [1000, 1]
    assert [r.query["page[size]"] for r in listings(outreach_sandbox, mark)] == ["1000", "1"]


async def test_first_and_a_zero_limit_cost_one_request_and_none(
    outreach_sandbox: Sandbox, outreach: OutreachClient
) -> None:
    mark = len(outreach_sandbox.requests)
    assert await outreach.prospects.list(page_size=1000).first() is not None
    assert len(listings(outreach_sandbox, mark)) == 1

    mark = len(outreach_sandbox.requests)
    assert await outreach.prospects.list(page_size=1000).collect(limit=0) == []
    assert [p async for p in outreach.prospects.list(limit=0)] == []
    assert listings(outreach_sandbox, mark) == []


async def test_without_a_limit_every_page_is_read_and_prefetch_stays(
    outreach_sandbox: Sandbox, outreach: OutreachClient
) -> None:
    mark = len(outreach_sandbox.requests)

    everything = await outreach.prospects.list(page_size=1000).collect()

    assert len(everything) == 3500
    assert len(listings(outreach_sandbox, mark)) == 4
