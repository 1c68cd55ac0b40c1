"""Integration fixtures: the client against a real sandbox over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from outreach_async import OutreachClient
from outreach_async.sandbox import Sandbox


@pytest.fixture
async def outreach(outreach_sandbox: Sandbox) -> AsyncIterator[OutreachClient]:
    """A client talking to the test's sandbox."""
    async with OutreachClient(outreach_sandbox.token, base_url=outreach_sandbox.base_url) as client:
        yield client


def last_request(sandbox: Sandbox, method: str | None = None) -> Any:
    """The last request the sandbox received (of a method, when given)."""
    matching = [r for r in sandbox.requests if method is None or r.method == method]
    assert matching, f"no {method or ''} request reached the sandbox"
    return matching[-1]
