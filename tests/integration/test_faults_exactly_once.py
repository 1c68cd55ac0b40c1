"""Listings through injected faults yield every record exactly once.

The sandbox holds 20,000 prospects and answers 5% of reads with 503, 3% with nginx's HTML 502,
resets 3% of connections and lets 1% of answers outlast the client's 30 s timeout. Retry
backoffs, the slow answers and the client's timeout all run on one virtual clock, so nothing
waits for real and a loaded machine cannot make an ordinary page time out. Faults are seeded
and a listing sends one request at a time, so each run meets the same faults.
"""

from __future__ import annotations

from collections import Counter

import pytest

from outreach_async._hooks import Hooks, ResponseEvent, RetryEvent
from outreach_async._retry import RetryPolicy
from outreach_async.sandbox import FaultConfig, Sandbox
from tests.integration.virtual_time import VirtualClock, virtual_client

RECORDS = 20_000
#: The client's default timeout, and a slow answer that outlasts it (virtual seconds).
TIMEOUT, SLOW_DELAY = 30.0, 35.0
#: Seed 12 meets every kind of fault in both runs, a slow answer included.
FAULTS = FaultConfig(
    seed=12,
    error_rate_503=0.05,
    error_rate_502_html=0.03,
    reset_rate=0.03,
    slow_rate=0.01,
    slow_delay=SLOW_DELAY,
)


def store_ids(sandbox: Sandbox, type_: str = "prospect") -> set[int]:
    return set(sandbox.store.table(type_).records)


@pytest.mark.parametrize("page_size", [1000, 100])
async def test_every_record_exactly_once_through_faults(page_size: int) -> None:
    clock = VirtualClock()
    retries: list[RetryEvent] = []
    responses: list[ResponseEvent] = []
    async with (
        clock.running(),
        Sandbox(
            seed=RECORDS,
            faults=FAULTS,
            clock=clock.time,
            sleep=clock.server_sleep,
            record_requests=False,
        ) as sandbox,
        virtual_client(
            clock,
            sandbox.base_url,
            sandbox.token,
            request_timeout=TIMEOUT,
            retry=RetryPolicy(max_retries=8),
            hooks=Hooks(on_retry=retries.append, on_response=responses.append),
        ) as client,
    ):
        listing = client.prospects.list(page_size=page_size, fields={"prospect": ["firstName"]})
        ids = [prospect.id async for prospect in listing]

    duplicates = [id_ for id_, seen in Counter(ids).items() if seen > 1]
    assert not duplicates
    assert len(ids) == RECORDS
    assert set(ids) == store_ids(sandbox)
    injected = sandbox.fault_state.injected
    assert {"error_503", "error_502_html", "reset", "slow"} <= set(injected), injected
    # The client waited out each fault the transport saw. (aiohttp itself resends a GET once
    # when a kept-alive connection drops, so most resets never reach the transport.)
    retried = Counter(event.status or event.error for event in retries)
    assert retried[503] >= 1, retried
    # A page's 502 goes back to the paginator, which asks for the same cursor again.
    assert any(event.status == 502 for event in responses)
    assert retried[502] == 0, retried
    assert retried["RequestTimeout"] == injected["slow"], retried
    assert retried.total() <= injected.total(), (retried, injected)


async def test_a_502_on_a_heavy_page_halves_the_page_size_and_finishes() -> None:
    clock = VirtualClock()
    faults = FaultConfig(heavy_page_limits={"prospect": 250})
    async with (
        clock.running(),
        Sandbox(seed=2000, faults=faults, clock=clock.time) as sandbox,
        virtual_client(clock, sandbox.base_url, sandbox.token) as client,
    ):
        ids = [prospect.id async for prospect in client.prospects.list(page_size=1000)]

    assert Counter(ids) == Counter(store_ids(sandbox))  # every record, once
    pages = [r.query for r in sandbox.requests if r.path.endswith("/prospects")]
    sizes = [int(query["page[size]"]) for query in pages]
    # 1000 and 500 get the gateway's 502 (after the transport's retries); every later page
    # asks for 250. Each smaller size starts from the cursor of the page that failed.
    assert sizes[0] == 1000
    assert set(sizes) == {1000, 500, 250}
    assert sizes == sorted(sizes, reverse=True)
    first_250 = sizes.index(250)
    assert pages[first_250].get("page[after]") is None  # the first page's cursor: none
    assert sizes[first_250:] == [250] * (len(ids) // 250)
