"""``Sandbox``: a local Outreach API on loopback, as an async context manager.

.. code-block:: python

    async with Sandbox(seed=10_000) as sandbox:
        async with OutreachClient(sandbox.token, base_url=sandbox.base_url) as outreach:
            ...
        assert sandbox.store.count("prospect") == 10_000

A real aiohttp server on ``127.0.0.1`` (port 0 picks a free one): clients talk to it over HTTP
exactly as to Outreach, so everything between them and the wire is exercised.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from ..models import ALL_SPECS
from .app import RecordedRequest, build_app
from .backend import Backend
from .churn import Churn, churn_middleware
from .config import SandboxConfig
from .faults import FaultState
from .oauth import TokenAuthority
from .ratelimit import RateLimitState
from .routes import API_PREFIX
from .schema import Schema
from .seed import seed_store
from .store import Store
from .times import MonotonicClock
from .webhooks import WebhookDispatcher

__all__ = ["Sandbox"]

T = TypeVar("T")

_FREEZE_THRESHOLD = 10_000


class Sandbox:
    """A running sandbox: ``base_url``, ``token``, ``store`` and the ``requests`` log.

    Takes a :class:`SandboxConfig` or its fields as keywords (``Sandbox(seed=10_000)``).
    """

    def __init__(self, config: SandboxConfig | None = None, **options: Any) -> None:
        if config is not None and options:
            raise TypeError("pass either a SandboxConfig or its fields as keywords, not both")
        self.config = config if config is not None else SandboxConfig(**options)
        clock = self.config.clock
        schema = Schema(ALL_SPECS.values())
        #: every record, for assertions (``sandbox.store.get("prospect", 1)``)
        self.store = Store(schema.by_type.values(), MonotonicClock(clock))
        self.authority = TokenAuthority(
            clock=clock,
            token_lifetime=self.config.token_lifetime,
            mint_throttle=self.config.mint_throttle,
        )
        self.dispatcher = WebhookDispatcher(lambda: self.store.table("webhook"), clock=clock)
        self.backend = Backend(schema, self.store, self.dispatcher.publish)
        #: the records changed while serving (``churn=``); ``churn.updates`` counts them
        self.churn = Churn(self.config.churn, self.store, clock)
        #: every request received, in order (the Authorization header left out)
        self.requests: list[RecordedRequest] = []
        self.rate_limit_state = RateLimitState()
        self.fault_state = FaultState()
        #: a bearer token that never expires, acting for user 1
        self.token = self.authority.issue_static_token()
        self._runner: web.AppRunner | None = None
        self._origin = ""
        self._frozen = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>`` (the OAuth endpoints live under it)."""
        if not self._origin:
            raise RuntimeError("the sandbox is not started")
        return self._origin

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/api/v2``: what a client takes as its ``base_url``."""
        return self.origin + API_PREFIX

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint."""
        return self.origin + "/oauth/token"

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.origin.rsplit(":", 1)[1])

    async def start(self) -> Self:
        """Seed the store and start serving."""
        if self._runner is not None:
            return self
        self._loop = asyncio.get_running_loop()
        self._seed()
        app = build_app(
            self.config,
            self.backend,
            self.authority,
            log=self.requests if self.config.record_requests else None,
            rate_limit_state=self.rate_limit_state,
            fault_state=self.fault_state,
        )
        app.middlewares.append(churn_middleware(self.churn))
        self.churn.start()
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._origin = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self.backend.base_url = self.base_url
        return self

    def _seed(self) -> None:
        plan = seed_store(self.store, self.config.seed, self.config.random_seed)
        if plan.prospects >= _FREEZE_THRESHOLD:
            # Each full collection would walk every seeded record again (pages of 100,000
            # prospects served 3x slower); they live as long as the sandbox, so they are moved
            # out of the collector's reach until stop().
            gc.freeze()
            self._frozen = True

    async def stop(self) -> None:
        """Stop serving and finish the pending webhook deliveries."""
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
        await self.dispatcher.aclose()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def on_own_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await one of the sandbox's coroutines (``dispatcher.drain()``) on the loop it serves
        from: the ``outreach_sandbox`` fixture runs it in a thread with a loop of its own."""
        loop = self._loop
        if loop is None or loop is asyncio.get_running_loop():
            return await coroutine
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, loop))

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
