"""qvantel's jsonapi-client 0.9.10 in async mode: ``Session(enable_async=True).iterate()``.

Imported by name so the project's type check does not need the peer installed.
"""

from __future__ import annotations

import array
import importlib
import json
from pathlib import Path
from typing import IO, Any

from ._protocol import RunSpec, run_client

jsonapi_client = importlib.import_module("jsonapi_client")


async def _iterate(session: Any, spec: RunSpec, ids: array.array[int], out: IO[str] | None) -> None:
    modifier = jsonapi_client.Modifier(f"page[size]={spec['page_size']}")
    async for resource in session.iterate("prospects", modifier):
        ids.append(int(resource.id))
        if out is not None:
            out.write(json.dumps(resource.json) + "\n")


async def fetch(spec: RunSpec, ids: array.array[int], out: Path | None) -> int:
    """Every prospect through the library's paginating iterator (it follows ``links.next``)."""
    headers = {"Authorization": f"Bearer {spec['token']}"}
    # The session opens its aiohttp session in __init__, so it is built inside the loop.
    session = jsonapi_client.Session(
        spec["base_url"], enable_async=True, request_kwargs={"headers": headers}
    )
    try:
        if out is None:
            await _iterate(session, spec, ids, None)
        else:
            with out.open("w") as sink:
                await _iterate(session, spec, ids, sink)
    finally:
        await session.close()
    return len(ids)


if __name__ == "__main__":
    run_client(fetch)
