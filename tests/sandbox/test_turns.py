"""Reads whose latency ends together take turns, and the loop takes in new requests between
them (:func:`outreach_async.sandbox.app.turn_taking_middleware`)."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from outreach_async.sandbox.app import turn_taking_middleware
from outreach_async.sandbox.faults import FaultConfig, FaultState, fault_middleware


async def test_reads_released_together_let_the_loop_run_between_them() -> None:
    """Two reads wait out their latency together (an injected sleep both wake from at once).
    The first to run schedules a callback, standing for the loop's reading of a new request: with
    turns it runs before the second read, so a request that arrived during one render is
    taken in (and starts its latency) before the next render, not after all of them."""
    events: list[str] = []
    latency_over = asyncio.Event()
    sleeping: list[float] = []
    both_sleeping = asyncio.Event()

    async def sleep(seconds: float) -> None:
        sleeping.append(seconds)
        if len(sleeping) == 2:
            both_sleeping.set()
        await latency_over.wait()

    async def read(request: web.Request) -> web.Response:
        if not events:  # the first read to run, whichever it is
            asyncio.get_running_loop().call_soon(events.append, "loop turn")
        events.append("read")
        return web.json_response({})

    for turns, expected in (
        (True, ["read", "loop turn", "read"]),
        (False, ["read", "read", "loop turn"]),
    ):
        events.clear()
        latency_over.clear()
        sleeping.clear()
        both_sleeping.clear()
        middlewares = [fault_middleware(FaultConfig(latency=1.0), sleep, state=FaultState())]
        if turns:
            middlewares.append(turn_taking_middleware())
        app = web.Application(middlewares=middlewares)
        app.router.add_get("/api/v2/prospects", read)
        async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
            url = server.make_url("/api/v2/prospects")
            answers = [asyncio.create_task(session.get(url)) for _ in range(2)]
            await both_sleeping.wait()
            latency_over.set()
            for answer in answers:
                (await answer).release()
        assert events == expected, f"turns={turns}"
