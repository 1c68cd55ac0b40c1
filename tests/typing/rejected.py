"""Inputs mypy must reject: ``tests/typing/test_mypy.py`` runs ``mypy --strict`` on this file and
checks that exactly the lines marked with an error code fail, with that code. Never run; left
out of the project's own mypy run (pyproject ``[tool.mypy] exclude``)."""

from __future__ import annotations

import datetime as dt

from outreach_async import Event, OutreachClient, Prospect


async def misspelled_inputs(outreach: OutreachClient, event: Event) -> None:
    await outreach.prospects.update(1, frist_name="Sally")  # error: call-arg
    await outreach.prospects.update(1, created_at=dt.datetime.now(dt.UTC))  # error: call-arg
    await outreach.prospects.update(1, title=3)  # error: arg-type
    outreach.prospects.list(filter={"titel": "CEO"})  # error: arg-type
    outreach.tasks.list(filter={"owner": {"id": 1}, "stat": "incomplete"})  # error: arg-type
    Prospect(created_at=dt.datetime.now(dt.UTC))  # error: call-arg
    event.updated_at = dt.datetime.now(dt.UTC)  # error: assignment
