"""The sandbox's aiohttp application: the API handler behind its middlewares.

Middlewares, outermost first: the request log (sees everything, faults included), faults (a
gateway in front of Outreach: no rate-limit cost, no ``X-RateLimit-*`` headers), reads taking
turns (:func:`turn_taking_middleware`), bearer-token authentication (401 before anything is
counted), then the per-user rate limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import attrs
import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from .backend import Backend
from .config import SandboxConfig
from .faults import FaultState, fault_middleware
from .oauth import TokenAuthority, add_oauth_routes, auth_middleware
from .ratelimit import RateLimitState, rate_limit_middleware
from .routes import API_PREFIX, ApiHandler

__all__ = ["RecordedRequest", "build_app", "request_log_middleware", "turn_taking_middleware"]


@attrs.frozen
class RecordedRequest:
    """One request as the sandbox received it (the Authorization header left out)."""

    method: str
    path: str
    query: MultiDictProxy[str]
    #: the decoded JSON body, the text of another body, or None without a body
    body: object
    headers: CIMultiDictProxy[str]


def _decoded(raw: bytes) -> object:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def request_log_middleware(log: list[RecordedRequest]) -> Middleware:
    """Append every request to ``log`` before anything else sees it."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = CIMultiDict(request.headers)
        headers.popall("Authorization", None)
        body = _decoded(await request.read()) if request.body_exists else None
        log.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=MultiDictProxy(MultiDict(request.query)),
                body=body,
                headers=CIMultiDictProxy(headers),
            )
        )
        return await handler(request)

    return record


def turn_taking_middleware() -> Middleware:
    """Reads are answered one at a time, and new requests are taken in between two of them.

    The sandbox is one process: when the latency of several reads ends at once, their pages are
    rendered back to back, and requests arriving meanwhile are read only after the last one.
    Those then start their latency together, end it together and queue again: a convoy in which
    every read waits for all the others' rendering on every round trip, which latency on a real
    wire does not cause. Yielding to the loop once after each read (holding the turn) lets it
    take in what arrived, so each request's latency starts when it came."""
    turn = asyncio.Lock()

    @web.middleware
    async def take_turns(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "GET":
            return await handler(request)
        async with turn:
            response = await handler(request)
            await asyncio.sleep(0)  # the loop reads new requests before the next read's turn
        return response

    return take_turns


def build_app(
    config: SandboxConfig,
    backend: Backend,
    authority: TokenAuthority,
    *,
    log: list[RecordedRequest] | None = None,
    rate_limit_state: RateLimitState | None = None,
    fault_state: FaultState | None = None,
    clock: Callable[[], float] | None = None,
) -> web.Application:
    """The application serving ``backend`` with ``config``'s auth, limits and faults."""
    now = clock or config.clock
    middlewares: list[Middleware] = []
    if log is not None:
        middlewares.append(request_log_middleware(log))
    middlewares += [
        fault_middleware(config.faults, config.sleep, clock=now, state=fault_state),
        turn_taking_middleware(),
        auth_middleware(authority, unauthorized_body=config.unauthorized_body),
        rate_limit_middleware(config.rate_limit, now, state=rate_limit_state),
    ]
    app = web.Application(middlewares=middlewares, client_max_size=64 * 1024**2)
    add_oauth_routes(app, authority)
    handler = ApiHandler(backend, config.default_page_size, default_user=authority.user_id)
    app.router.add_route("*", API_PREFIX, handler.handle)
    app.router.add_route("*", API_PREFIX + "/{tail:.*}", handler.handle)
    return app
