"""The floor: a hand-written aiohttp + ``json`` loop over ``links.next``.

What a user writes in an afternoon: a bearer header, ``json.loads``, and the usual retry (sleep
``Retry-After`` on 429; back off and retry a 5xx or a dropped connection, five attempts).
"""

from __future__ import annotations

import array
import asyncio
import json
from pathlib import Path
from typing import IO, Any

import aiohttp

from ._protocol import RunSpec, run_client

ATTEMPTS = 5


async def _get_page(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    for attempt in range(ATTEMPTS):
        try:
            async with session.get(url) as response:
                if response.status == 429:
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                if response.status < 500:
                    response.raise_for_status()
                    document: dict[str, Any] = json.loads(await response.read())
                    return document
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.25 * 2**attempt)
    raise RuntimeError(f"gave up on {url} after {ATTEMPTS} attempts")


async def _pages(spec: RunSpec, ids: array.array[int], out: IO[str] | None) -> None:
    headers = {"Authorization": f"Bearer {spec['token']}"}
    url: str | None = f"{spec['base_url']}/prospects?page%5Bsize%5D={spec['page_size']}"
    async with aiohttp.ClientSession(headers=headers) as session:
        while url:
            document = await _get_page(session, url)
            for record in document["data"]:
                ids.append(record["id"])
                if out is not None:
                    out.write(json.dumps(record) + "\n")
            url = document.get("links", {}).get("next")


async def fetch(spec: RunSpec, ids: array.array[int], out: Path | None) -> int:
    """Every prospect, page by page; written as the API sent it in export mode."""
    if out is None:
        await _pages(spec, ids, None)
    else:
        with out.open("w") as sink:
            await _pages(spec, ids, sink)
    return len(ids)


if __name__ == "__main__":
    run_client(fetch)
