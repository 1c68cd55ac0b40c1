"""outreach-async: typed models from ``prospects.list()``, or ``export_resource`` to JSON Lines."""

from __future__ import annotations

import array
from pathlib import Path

from outreach_async import OutreachClient
from outreach_async.export import export_resource

from ._protocol import RunSpec, run_client


async def fetch(spec: RunSpec, ids: array.array[int], out: Path | None) -> int:
    """Stream typed prospects, or export them (the library's own exactly-once path)."""
    async with OutreachClient(spec["token"], base_url=spec["base_url"]) as outreach:
        if out is not None:
            result = await export_resource(outreach, "prospects", out, page_size=spec["page_size"])
            return result.records
        async for prospect in outreach.prospects.list(page_size=spec["page_size"]):
            ids.append(prospect.id or 0)
    return len(ids)


if __name__ == "__main__":
    run_client(fetch)
