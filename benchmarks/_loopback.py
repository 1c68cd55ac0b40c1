"""The benchmarks' own servers of ``GET /api/v2/prospects`` on loopback: the set-up they share
(the page server, the fast server, the churn server), each with its own handler."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler

from ._data import BASE

__all__ = ["loopback_socket", "serving_prospects"]


def loopback_socket() -> tuple[socket.socket, str]:
    """A socket bound to a free loopback port, and the API base URL it is to serve (known
    before the server starts, for handlers that write it into links)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock, BASE.format(port=sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serving_prospects(sock: socket.socket, prospects: Handler) -> AsyncIterator[None]:
    """``prospects`` answering ``GET /api/v2/prospects`` on ``sock`` (no access log)."""
    app = web.Application()
    app.router.add_get("/api/v2/prospects", prospects)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield
    finally:
        await runner.cleanup()
