"""The models' storage contract end to end: evolve then update, sparse fieldsets and the typed
server stamps, against the sandbox over loopback."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from outreach_async import Account, FieldNotLoadedError, OutreachClient, Prospect
from outreach_async.sandbox import Sandbox

from .conftest import last_request

pytestmark = pytest.mark.outreach_sandbox(seed=None)


async def test_evolve_then_update_sends_only_what_changed(
    outreach: OutreachClient, outreach_sandbox: Sandbox
) -> None:
    acme = await outreach.accounts.create(Account(name="Acme"))
    sally = await outreach.prospects.create(Prospect(first_name="Sally", account=acme))
    read = await outreach.prospects.get(sally.id)

    renamed = attrs.evolve(read, first_name="X")
    assert renamed.changed_fields() == ["first_name"]
    updated = await outreach.prospects.update(renamed)

    sent = last_request(outreach_sandbox, "PATCH")
    assert sent.body == {
        "data": {"type": "prospect", "id": sally.id, "attributes": {"firstName": "X"}}
    }
    assert updated.first_name == "X"
    assert read.first_name == "Sally"  # the original is untouched
    assert renamed.created_at == read.created_at  # the stamps come along with the copy


async def test_stamps_are_datetimes_and_a_sparse_fieldset_without_them_says_so(
    outreach: OutreachClient,
) -> None:
    acme = await outreach.accounts.create(Account(name="Acme"))
    assert isinstance(acme.updated_at, dt.datetime)
    assert acme.updated_at.year >= 2024  # no narrowing needed

    sparse = await outreach.accounts.get(acme.id, fields={Account: ["name"]})
    assert sparse.name == "Acme"
    with pytest.raises(FieldNotLoadedError, match=r"updated_at.*fields="):
        _ = sparse.updated_at
    assert getattr(sparse, "created_at", None) is None  # an AttributeError underneath


async def test_a_draft_has_no_id_until_created(outreach: OutreachClient) -> None:
    draft = Account(name="Acme")
    with pytest.raises(FieldNotLoadedError, match="no id until it is created"):
        _ = draft.id
    assert getattr(draft, "id", None) is None
    created = await outreach.accounts.create(draft)
    assert isinstance(created.id, int)
