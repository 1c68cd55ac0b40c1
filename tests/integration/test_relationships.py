"""The relationship resolver (issue 5) against the sandbox over loopback.

Every test counts the requests the sandbox received (``sandbox.requests``): ``included`` data
must cost nothing, ``resolve()`` must batch, to-many handles must stream page by page.
"""

from __future__ import annotations

import pickle
import sys
from typing import Any

import pytest

from outreach_async import (
    UNSET,
    Account,
    ClientClosedError,
    DetachedHandleError,
    MissingResourcesError,
    NotFoundError,
    OutreachClient,
    Prospect,
    QueryError,
    SequenceState,
    Task,
    ToMany,
    ToOne,
    User,
)
from outreach_async.models._base import CONTEXT_KEY
from outreach_async.sandbox import Sandbox

# A seed of 400 prospects gives 100 tasks, 20 accounts, 4 users and 40 sequence states.
pytestmark = pytest.mark.outreach_sandbox(seed=400)


def one(handle: ToOne[Any] | ToMany[Any] | Any) -> Any:
    """The handle a relationship field holds (the sandbox always sends relationships)."""
    assert isinstance(handle, (ToOne, ToMany)), handle
    return handle


class RequestCounter:
    """Requests the sandbox received since the last ``take()``."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.mark = len(sandbox.requests)

    def take(self) -> list[Any]:
        new = self.sandbox.requests[self.mark :]
        self.mark = len(self.sandbox.requests)
        return new


# ---------------------------------------------------------------- included: no request


async def test_include_prospect_resolves_every_prospect_without_a_request(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    counter = RequestCounter(outreach_sandbox)
    tasks = await outreach.tasks.list(include=["prospect"], page_size=1000).collect()
    assert len(counter.take()) == 1
    assert len(tasks) == 100

    fetched = [await one(t.prospect).fetch() for t in tasks]
    resolved = await outreach.prospects.resolve(t.prospect for t in tasks)

    assert counter.take() == []
    for task, prospect, again in zip(tasks, fetched, resolved, strict=True):
        assert isinstance(prospect, Prospect)
        assert prospect.id is not None
        assert prospect.id == one(task.prospect).id
        assert prospect is again  # one model per (type, id) in the response's identity map
        stored = outreach_sandbox.store.get("prospect", prospect.id)
        assert stored is not None
        assert prospect.first_name == stored["attributes"]["firstName"]


async def test_fetch_asks_the_server_each_time_and_shows_a_rename(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    task = await outreach.tasks.get(1)
    counter = RequestCounter(outreach_sandbox)
    handle = one(task.prospect)

    before = await handle.fetch()
    assert isinstance(before, Prospect)
    await outreach.prospects.update(handle.id, first_name="Renamed")
    after = await handle.fetch()

    assert isinstance(after, Prospect)
    assert after.first_name == "Renamed" != before.first_name
    assert [(r.method, r.path) for r in counter.take()] == [
        ("GET", f"/api/v2/prospects/{handle.id}"),
        ("PATCH", f"/api/v2/prospects/{handle.id}"),
        ("GET", f"/api/v2/prospects/{handle.id}"),
    ]
    assert await handle.fetch(cached=True) is after  # what it has, without a request
    assert counter.take() == []


async def test_an_included_resource_is_the_responses_snapshot_without_a_request(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    task = await outreach.tasks.get(1, include=["prospect"])
    handle = one(task.prospect)
    counter = RequestCounter(outreach_sandbox)
    await outreach.prospects.update(handle.id, first_name="Renamed")
    counter.take()

    carried = await handle.fetch()

    assert isinstance(carried, Prospect)
    assert carried.first_name != "Renamed"  # as the response carried it, with its task
    assert counter.take() == []
    fresh = await outreach.prospects.get(handle.id)
    assert fresh.first_name == "Renamed"


# ---------------------------------------------------------------- resolve: batched


@pytest.mark.outreach_sandbox(seed=20_000)  # 5,000 tasks over about 4,400 distinct prospects
async def test_resolve_5000_tasks_prospects_in_at_most_5_requests(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    tasks = await outreach.tasks.list(page_size=1000).collect()
    assert len(tasks) == 5000
    handles: list[ToOne[Prospect] | None] = [one(t.prospect) for t in tasks]
    # duplicates (tasks share prospects, and the list repeats itself), None and null handles
    handles += [None, ToOne("prospect", None), *handles[:50]]
    distinct = {h.id for h in handles if h is not None and h.id is not None}
    assert len(distinct) > 4000

    counter = RequestCounter(outreach_sandbox)
    prospects = await outreach.prospects.resolve(handles)

    requests = counter.take()
    assert 1 <= len(requests) <= 5
    assert all(r.path == "/api/v2/prospects" for r in requests)
    asked = [int(i) for r in requests for i in r.query["filter[id]"].split(",")]
    assert sorted(asked) == sorted(distinct)  # every id asked for once
    assert len(prospects) == len(handles)
    for handle, prospect in zip(handles, prospects, strict=True):
        if handle is None or handle.id is None:
            assert prospect is None
        else:
            assert prospect is not None
            assert prospect.id == handle.id


async def test_resolve_uses_included_and_fetched_handles_and_asks_only_for_the_rest(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    with_prospects = await outreach.tasks.list(include=["prospect"], page_size=10).first()
    plain = await outreach.tasks.list(page_size=1000).collect()
    assert with_prospects is not None
    fetched = one(plain[1].prospect)
    await fetched.fetch()
    known = {one(with_prospects.prospect).id, fetched.id}
    counter = RequestCounter(outreach_sandbox)

    prospects = await outreach.prospects.resolve(
        [with_prospects.prospect, fetched, *(t.prospect for t in plain)]
    )

    (request,) = counter.take()
    asked = {int(i) for i in request.query["filter[id]"].split(",")}
    assert asked == {one(t.prospect).id for t in plain} - known
    assert [p.id for p in prospects if p is not None] == [
        one(with_prospects.prospect).id,
        fetched.id,
        *(one(t.prospect).id for t in plain),
    ]


async def test_resolve_of_another_types_handles_is_refused_before_any_request(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    tasks = await outreach.tasks.list(page_size=5).collect(limit=5)
    counter = RequestCounter(outreach_sandbox)

    with pytest.raises(QueryError, match="'account' handle"):
        # mypy refuses this too: resolve takes ToOne[Prospect] here
        await outreach.prospects.resolve(t.account for t in tasks)  # type: ignore[misc]

    assert counter.take() == []


async def test_resolve_of_unset_relationships_gives_none_without_a_request(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    # a sparse fieldset without the relationship: the tasks carry no prospect at all
    tasks = await outreach.tasks.list(fields={Task: ["state"]}, page_size=5).collect(limit=5)
    assert all(t.prospect is UNSET for t in tasks)
    counter = RequestCounter(outreach_sandbox)

    assert await outreach.prospects.resolve(t.prospect for t in tasks) == [None] * 5
    assert counter.take() == []


# ---------------------------------------------------------------- to-many: streams


@pytest.mark.outreach_sandbox(seed=None)
async def test_account_prospects_stream_across_pages_each_once(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    store = outreach_sandbox.store
    acme = store.insert("account", {"name": "Acme"})["id"]
    other = store.insert("account", {"name": "Other"})["id"]
    mine = [
        store.insert("prospect", {"firstName": f"P{i}"}, {"account": acme})["id"]
        for i in range(120)
    ]
    for i in range(10):
        store.insert("prospect", {"firstName": f"Q{i}"}, {"account": other})
    account = await outreach.accounts.get(acme)
    prospects = one(account.prospects)
    assert prospects.ids is None  # links only: Outreach does not list an account's prospects
    counter = RequestCounter(outreach_sandbox)

    seen = [p.id async for p in prospects]

    requests = counter.take()
    assert len(requests) == 3  # 50 + 50 + 20 at the default page size
    assert all(r.path == "/api/v2/prospects" for r in requests)
    assert sorted(seen) == mine
    assert len(seen) == len(set(seen))
    assert [p.id for p in await prospects.collect(limit=7)] == seen[:7]
    assert len(counter.take()) == 1  # the limit is known in advance: no page past it is asked for


async def test_a_to_many_carried_with_data_and_included_costs_nothing(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    prospects = await outreach.prospects.list(
        include=["activeSequenceStates"], page_size=1000
    ).collect()
    with_states = [p for p in prospects if one(p.active_sequence_states).ids]
    assert with_states
    counter = RequestCounter(outreach_sandbox)

    for prospect in prospects:
        handle = one(prospect.active_sequence_states)
        states = await handle.collect()
        assert [s.id for s in states] == handle.ids
        assert all(isinstance(s, SequenceState) for s in states)

    assert counter.take() == []


async def test_a_to_many_with_only_meta_is_empty_without_a_request(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    # The sandbox answers {"meta": {"count": 0}} for relationships to types it does not serve,
    # as Outreach does for some relationships (facts section 6).
    task = await outreach.tasks.get(1)
    overrides = one(task.sequence_state_sequence_step_overrides)
    counter = RequestCounter(outreach_sandbox)

    assert (overrides.ids, overrides.related, overrides.count) == (None, None, 0)
    assert await overrides.collect() == []
    assert counter.take() == []


# ---------------------------------------------------------------- nested includes and cycles


async def test_nested_include_resolves_through_one_identity_map(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    prospects = await outreach.prospects.list(include=["account.owner"], page_size=1000).collect()
    counter = RequestCounter(outreach_sandbox)

    accounts: dict[int, Account] = {}
    owners: dict[int, User] = {}
    for prospect in prospects:
        account = await one(prospect.account).fetch()
        assert isinstance(account, Account)
        assert accounts.setdefault(account.id or 0, account) is account  # shared, not copied
        owner = await one(account.owner).fetch()
        assert isinstance(owner, User)
        assert owners.setdefault(owner.id or 0, owner) is owner
        # the prospect's own owner is a user too: when the include brought it, it is that model
        if one(prospect.owner).id in owners:
            assert await one(prospect.owner).fetch() is owners[one(prospect.owner).id]

    assert counter.take() == []
    assert len(accounts) == 20
    for account in accounts.values():
        stored = outreach_sandbox.store.get("account", account.id or 0)
        assert stored is not None
        assert one(account.owner).id == stored["relationships"]["owner"]


async def test_a_cycle_through_includes_comes_back_to_the_same_models(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    states = outreach_sandbox.store.table("sequenceState").records.values()
    active = next(s for s in states if s["attributes"]["state"] in ("active", "paused", "pending"))
    prospect_id = active["relationships"]["prospect"]
    # prospect -> its active sequence states -> their prospect (the primary resource again)
    prospect = await outreach.prospects.get(
        prospect_id, include=["activeSequenceStates.prospect", "account"]
    )
    counter = RequestCounter(outreach_sandbox)

    current: Prospect = prospect
    for _ in range(5):  # walk the cycle round and round
        states_now = await one(current.active_sequence_states).collect()
        assert states_now
        back = await one(states_now[0].prospect).fetch()
        assert back is prospect
        assert isinstance(back, Prospect)
        current = back

    assert counter.take() == []
    assert active["id"] in one(prospect.active_sequence_states).ids


async def test_include_paths_that_come_back_to_the_primary_collection_terminate(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    counter = RequestCounter(outreach_sandbox)
    states = await outreach.sequence_states.list(
        include=["prospect.activeSequenceStates.prospect", "prospect.account"], page_size=1000
    ).collect()
    assert len(counter.take()) == 1

    by_prospect: dict[int, Prospect] = {}
    for state in states:
        prospect = await one(state.prospect).fetch()
        assert isinstance(prospect, Prospect)
        assert by_prospect.setdefault(prospect.id or 0, prospect) is prospect
        assert await one(prospect.account).fetch() is not None

    assert counter.take() == []  # every prospect and account came in `included`


# ---------------------------------------------------------------- dangling ids


async def test_dangling_ids_are_named_or_given_as_none(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    tasks = await outreach.tasks.list(page_size=1000).collect()
    handles = [one(t.prospect) for t in tasks]
    gone = list(dict.fromkeys(h.id for h in handles))[3:6]
    for prospect_id in gone:
        await outreach.prospects.delete(prospect_id)

    with pytest.raises(MissingResourcesError) as raised:
        await outreach.prospects.resolve(handles)
    assert raised.value.ids == gone
    assert raised.value.type == "prospect"
    assert all(str(i) in str(raised.value) for i in gone)

    resolved = await outreach.prospects.resolve(handles, missing="none")
    for handle, prospect in zip(handles, resolved, strict=True):
        assert (prospect is None) == (handle.id in gone)
        assert prospect is None or prospect.id == handle.id

    dangling = next(h for h in handles if h.id in gone)
    with pytest.raises(NotFoundError) as not_found:
        await dangling.fetch()
    assert not_found.value.status == 404


# ---------------------------------------------------------------- cheap, picklable, closed


async def test_handles_hold_only_the_response_context_not_a_client_copy(
    outreach: OutreachClient,
) -> None:
    page = await anext(aiter(outreach.tasks.list(include=["prospect"], page_size=100).pages()))
    handles = [one(t.prospect) for t in page.items]

    contexts = {id(h._context) for h in handles}
    assert contexts == {id(page.context)}  # one identity map per response, shared
    assert all(t.__dict__[CONTEXT_KEY] is page.context for t in page.items)
    assert page.context._core is outreach  # type: ignore[union-attr]  # the client itself
    assert not hasattr(handles[0], "__dict__")
    assert sys.getsizeof(handles[0]) <= 100


async def test_pickled_models_keep_ids_and_types_but_not_the_client(
    outreach: OutreachClient,
) -> None:
    prospect = (await outreach.prospects.list(include=["account"], page_size=1000).collect())[0]
    task = (await outreach.tasks.list(page_size=1).collect(limit=1))[0]
    await one(prospect.account).fetch()  # a fetched handle: its target stays behind too
    with pytest.raises(TypeError):
        pickle.dumps(outreach)  # so a model that pickles cannot be carrying the client

    restored_prospect = pickle.loads(pickle.dumps(prospect))
    restored_task = pickle.loads(pickle.dumps(task))

    account, states = one(restored_prospect.account), one(restored_prospect.sequence_states)
    assert (account.type, account.id) == ("account", one(prospect.account).id)
    assert (states.type, states.related) == ("sequenceState", one(prospect.sequence_states).related)
    handle = one(restored_task.prospect)
    assert (handle.type, handle.id) == ("prospect", one(task.prospect).id)
    assert restored_task.state == task.state
    for detached in (account.fetch(), handle.fetch(), states.collect()):
        with pytest.raises(DetachedHandleError, match="no client behind it"):
            await detached


async def test_handles_from_a_closed_client_raise_a_clear_error(
    outreach_sandbox: Sandbox,
) -> None:
    async with OutreachClient(outreach_sandbox.token, base_url=outreach_sandbox.base_url) as o:
        tasks = await o.tasks.list(include=["account"], page_size=10).collect(limit=10)
        account = await o.accounts.get(1)
        fetched = await one(tasks[1].prospect).fetch()
    counter = RequestCounter(outreach_sandbox)

    with pytest.raises(DetachedHandleError, match="client this handle came from is closed"):
        await one(tasks[0].prospect).fetch()
    with pytest.raises(DetachedHandleError, match="client this handle came from is closed"):
        await one(tasks[1].prospect).fetch()  # fetched before the close: asking again needs I/O
    with pytest.raises(DetachedHandleError, match="closed"):
        await one(account.prospects).collect()
    with pytest.raises(ClientClosedError):
        await o.prospects.resolve(t.prospect for t in tasks)
    # what the handle has, or what the response carried, needs no client
    assert await one(tasks[1].prospect).fetch(cached=True) is fetched
    assert isinstance(await one(tasks[0].account).fetch(), Account)
    assert counter.take() == []
