"""A loopback server that serves pre-rendered pages, so client benchmarks measure the client.

The sandbox renders pages on the fly; here every page is encoded once up front and served from
memory by cursor, optionally after a fixed latency, which isolates the client's own cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

from aiohttp import web

from ._data import prospect_pages


@contextlib.asynccontextmanager
async def page_server(
    total: int, page_size: int = 1000, latency: float = 0.0
) -> AsyncIterator[str]:
    """Serve ``total`` prospects; yields the API base URL (``http://127.0.0.1:PORT/api/v2``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    pages = prospect_pages(total, page_size, port)

    async def serve(request: web.Request) -> web.Response:
        if latency:
            await asyncio.sleep(latency)
        index = int(request.query.get("page[after]", "0"))
        return web.Response(body=pages[index], content_type="application/vnd.api+json")

    app = web.Application()
    app.router.add_get("/api/v2/prospects", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{port}/api/v2"
    finally:
        await runner.cleanup()
