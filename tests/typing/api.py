"""What mypy infers for relationships, repositories and paginators (checked, never run).

``typing.assert_type`` fails the type check when an inferred type drifts; a line marked
``type: ignore[...]`` must stay an error (``mypy --strict`` reports an unused ignore).
"""

from __future__ import annotations

import datetime as dt
from typing import assert_type

from outreach_async import (
    IS_NULL,
    UNSET,
    Account,
    Event,
    OutreachClient,
    Page,
    Paginator,
    Prospect,
    Repository,
    Task,
    ToMany,
    ToOne,
    UnsetType,
    User,
    since,
)
from outreach_async.models import ProspectChanges, ProspectFilter


async def handles(task: Task, prospect: Prospect, account: Account) -> None:
    """Relationship fields are typed handles (or UNSET when the response did not carry them)."""
    assert_type(task.prospect, ToOne[Prospect] | UnsetType)
    assert_type(prospect.account, ToOne[Account] | UnsetType)
    assert_type(account.prospects, ToMany[Prospect] | UnsetType)
    if task.prospect is not UNSET:  # UNSET is an enum member: `is not` narrows
        assert_type(task.prospect, ToOne[Prospect])
        assert_type(task.prospect.id, int | None)
        assert_type(await task.prospect.fetch(), Prospect | None)
    if isinstance(prospect.account, ToOne):
        assert_type(prospect.account, ToOne[Account])
        assert_type(await prospect.account.fetch(), Account | None)
    if account.prospects is not UNSET:
        assert_type(account.prospects.ids, list[int] | None)
        assert_type(await account.prospects.collect(), list[Prospect])
        async for member in account.prospects:
            assert_type(member, Prospect)


async def repositories(outreach: OutreachClient, tasks: list[Task]) -> None:
    """Repositories and paginators carry their model type through."""
    typed: Repository[Prospect] = outreach.prospects  # a Repository, with typed inputs
    assert_type(typed, Repository[Prospect])
    assert_type(outreach.repository(User), Repository[User])
    listing = outreach.prospects.list(filter={"title": "CEO"}, include=["account"])
    assert_type(listing, Paginator[Prospect])
    assert_type(await listing.first(), Prospect | None)
    assert_type(await listing.collect(limit=10), list[Prospect])
    async for page in listing.pages():
        assert_type(page, Page[Prospect])
        assert_type(page.items, list[Prospect])
    async for one in listing:
        assert_type(one, Prospect)
    assert_type(await outreach.prospects.get(1), Prospect)


async def resolving(outreach: OutreachClient, tasks: list[Task], prospects: list[Prospect]) -> None:
    """``resolve`` takes the fields as they are (UNSET included) and answers in kind."""
    resolved = await outreach.prospects.resolve(t.prospect for t in tasks)
    assert_type(resolved, list[Prospect | None])
    accounts = await outreach.accounts.resolve([p.account for p in prospects])
    assert_type(accounts, list[Account | None])
    # handles of another resource type are refused by mypy (and at run time, by QueryError)
    await outreach.prospects.resolve(p.account for p in prospects)  # type: ignore[misc]


async def stored_fields(outreach: OutreachClient, event: Event, prospect: Prospect) -> None:
    """Ids are ints and the server stamps datetimes: no narrowing before using them."""
    assert_type(prospect.id, int)
    assert_type(event.updated_at, dt.datetime)
    assert_type(event.updated_at.year, int)
    assert_type(prospect.created_at, dt.datetime)
    assert_type(prospect.title, str | UnsetType | None)  # other fields may be absent or null
    assert_type(await outreach.prospects.get(prospect.id), Prospect)


async def typed_inputs(outreach: OutreachClient, account: Account) -> None:
    """update() and list(filter=...) take the resource's TypedDicts; a plain dict literal too."""
    changes: ProspectChanges = {"title": "CEO", "account": account, "tags": ["vip"]}
    assert_type(await outreach.prospects.update(1, **changes), Prospect)
    wanted: ProspectFilter = {"title": ["CEO", "CTO"], "updated_at": since(dt.date(2024, 1, 1))}
    assert_type(outreach.prospects.list(filter=wanted), Paginator[Prospect])
    outreach.tasks.list(filter={"state": "incomplete", "owner": {"id": 1}})
    outreach.prospects.list(filter={"engaged_at": IS_NULL, "account": [1, 2]})
