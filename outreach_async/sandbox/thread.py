"""``SandboxThread``: a :class:`Sandbox` serving from an event loop of its own, in a thread.

.. code-block:: python

    with SandboxThread(seed=100) as sandbox:       # no event loop needed in the caller
        asyncio.run(my_sync_job(sandbox.base_url, sandbox.token))
        assert sandbox.store.count("prospect") == 100

Clients reach it over loopback HTTP exactly as they reach Outreach, so the caller may be
synchronous code, ``asyncio.run`` in a sync test, or an async test on any loop (pytest-asyncio,
anyio). This is what the ``outreach_sandbox`` pytest fixture yields. Read the sandbox's state
(``store``, ``requests``, ``authority``) between requests; a coroutine of the sandbox's own (such
as ``sandbox.dispatcher.drain()``) is awaited with :meth:`Sandbox.on_own_loop`.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any

from .config import SandboxConfig
from .server import Sandbox

__all__ = ["SandboxThread"]


class SandboxThread:
    """Start a sandbox in a daemon thread on ``with``; stop it and join the thread after."""

    def __init__(self, config: SandboxConfig | None = None, **options: Any) -> None:
        self.sandbox = Sandbox(config, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="outreach-sandbox", daemon=True
        )

    def __enter__(self) -> Sandbox:
        self._thread.start()
        try:
            self._run(self.sandbox.start())
        except BaseException:
            self._shut_down()
            raise
        return self.sandbox

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._run(self.sandbox.stop())
        finally:
            self._shut_down()

    def _run(self, coroutine: Any) -> Any:
        """Run a coroutine on the sandbox's loop and wait for its result here."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _shut_down(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
