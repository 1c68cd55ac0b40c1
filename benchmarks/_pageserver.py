"""A loopback server of pre-rendered pages, in its own process, so client benchmarks measure
the client.

Ten pages of records are encoded once up front (``_data``: every attribute and relationship, a
1000-prospect page is about 7 MB) and served in turn by cursor, each with its own ``links``,
so a 100-page collection costs the server a join per page, not 700 MB; the same pages are served
on one port per latency (``0`` and ``0.05``: the same collection without and with 50 ms a page).
The server runs in a child process, as Outreach's servers are not on the client's machine:
a server in the client's event loop would stop answering while the client decodes, and no
client could overlap decoding with the wire.

    python -m benchmarks._pageserver TOTAL PAGE_SIZE LATENCY [LATENCY ...]

prints one base URL per latency, in order, then serves until terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
from collections.abc import AsyncIterator, Sequence

import attrs
from aiohttp import web

from outreach_async import Prospect

from ._data import BASE, resource_object
from ._loopback import loopback_socket, serving_prospects
from ._rounds import process_cpu_s

#: Distinct pages of records; page ``i`` serves the records of page ``i % DISTINCT``.
DISTINCT = 10


def encoded_pages(total: int, page_size: int, base: str) -> list[bytes]:
    """The ``data`` arrays (encoded) of the distinct pages of a ``total``-record collection."""
    rng = random.Random(7)
    spec = Prospect.__resource_spec__
    count = min(DISTINCT, -(-total // page_size))
    return [
        json.dumps(
            [resource_object(spec, i * page_size + j + 1, rng, base) for j in range(page_size)]
        ).encode()
        for i in range(count)
    ]


def page_body(data: list[bytes], index: int, total: int, page_size: int, base: str) -> bytes:
    """Page ``index`` (0-based): its records, and a next link unless it is the last page."""
    pages = -(-total // page_size)
    records = data[index % len(data)]
    if index == pages - 1 and total % page_size:  # a short last page
        records = json.dumps(json.loads(records)[: total % page_size]).encode()
    links = {"first": f"{base}/prospects?page%5Bsize%5D={page_size}"}
    if index + 1 < pages:
        links["next"] = f"{base}/prospects?page%5Bafter%5D={index + 1}&page%5Bsize%5D={page_size}"
    # one copy of the records (a chain of + would copy the 7 MB once per operand)
    return b"".join([b'{"data":', records, b',"links":', json.dumps(links).encode(), b"}"])


@contextlib.asynccontextmanager
async def _serve(
    total: int, page_size: int, data: list[bytes], latency: float
) -> AsyncIterator[str]:
    sock, base = loopback_socket()

    async def serve(request: web.Request) -> web.Response:
        if latency:
            await asyncio.sleep(latency)
        index = int(request.query.get("page[after]", "0"))
        body = page_body(data, index, total, page_size, base)
        return web.Response(body=body, content_type="application/vnd.api+json")

    async with serving_prospects(sock, serve):
        yield base


async def serve_forever(total: int, page_size: int, latencies: Sequence[float]) -> None:
    """Serve the pages on one port per latency; print the base URLs; wait to be terminated."""
    # the records' own links name port 0: no client here follows them
    data = encoded_pages(total, page_size, BASE.format(port=0))
    async with contextlib.AsyncExitStack() as servers:
        for latency in latencies:
            base = await servers.enter_async_context(_serve(total, page_size, data, latency))
            print(base, flush=True)
        await asyncio.Event().wait()


@attrs.frozen
class PageServers:
    """The running server: one base URL per latency, in order, and the child's process id."""

    bases: list[str]
    pid: int

    def cpu_seconds(self) -> float | None:
        """CPU seconds the server's process has used so far (None where ``/proc`` is not)."""
        try:
            return process_cpu_s(self.pid)
        except OSError:
            return None


@contextlib.asynccontextmanager
async def page_servers(
    total: int, page_size: int, latencies: Sequence[float]
) -> AsyncIterator[PageServers]:
    """The server in a child process; yields its base URL for each latency, in order."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks._pageserver", str(total), str(page_size),
        *map(str, latencies), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    try:
        bases = [
            (await asyncio.wait_for(child.stdout.readline(), 600)).decode().strip()
            for _ in latencies
        ]
        if not all(bases):
            raise RuntimeError("the page server exited before it served")
        yield PageServers(bases, child.pid)
    finally:
        child.terminate()
        await child.wait()


if __name__ == "__main__":
    total_, size_, *latencies_ = sys.argv[1:]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(int(total_), int(size_), [float(x) for x in latencies_]))
