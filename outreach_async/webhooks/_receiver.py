"""The webhook receiver: an aiohttp.web application that verifies, acknowledges at once, and
hands events to your handler through a bounded queue.

Why it is shaped this way (outreach-api-facts.md §9, "Retries and timeouts"):

- Outreach waits 5 s for an answer, so the answer never waits for the handler: the event is
  queued and 200 goes back right away; worker tasks run the handler.
- Outreach does not resend after any HTTP answer (a 500 or 503 counts as acknowledged), only
  after network failures. A full queue therefore answers 503 at once and logs an error naming the
  event, rather than blocking past the 5 s (which Outreach would count as a failed delivery).
- Network-failure retries can deliver an event twice; deliveries are deduplicated by
  :attr:`WebhookEvent.id` within a window of recent ids. Handlers should still be idempotent:
  whether a retry keeps its ``Outreach-Webhook-ID`` is not documented. Deduplication is not
  replay protection either: the signature covers the body, not the delivery-id header.

This module is a server; it does not use the aiohttp client.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
from aiohttp import web

from .._exceptions import WebhookVerificationError
from ._events import WebhookEvent, WebhookPayloadError, parse_event

__all__ = ["WEBHOOK_STATS", "Handler", "WebhookStats", "webhook_app"]

logger = logging.getLogger("outreach_async.webhooks")

#: what ``webhook_app`` calls for each event: a coroutine function or a plain function
Handler = Callable[[WebhookEvent], Any]


@attrs.define
class WebhookStats:
    """Counters of one receiver, readable at ``app[WEBHOOK_STATS]``."""

    #: POSTs that reached the receiver
    received: int = 0
    #: deliveries with a missing or wrong signature (answered 401)
    rejected: int = 0
    #: verified deliveries whose body is not a webhook event (answered 400; lost)
    malformed: int = 0
    #: deliveries of an event already accepted (answered 200; the handler is not called again)
    duplicates: int = 0
    #: events refused because the queue was full (answered 503; lost: Outreach does not resend)
    dropped: int = 0
    #: events the handler finished
    handled: int = 0
    #: events whose handler raised (logged with the traceback)
    failed: int = 0


#: the :class:`WebhookStats` of an application made by :func:`webhook_app`
WEBHOOK_STATS = web.AppKey("outreach_webhook_stats", WebhookStats)


class _RecentIds:
    """The last ``size`` accepted event ids, oldest forgotten first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        if self._size <= 0:
            return
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)


def _is_async(handler: Handler) -> bool:
    call = type(handler).__call__  # async callable objects (async def __call__) count too
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


async def _call(handler: Handler, event: WebhookEvent) -> None:
    if _is_async(handler):
        await handler(event)
        return
    # A plain function may block (a database write): run it off the loop, so that
    # acknowledgements keep going out while it works.
    result = await asyncio.to_thread(handler, event)
    if inspect.isawaitable(result):
        await result


class _Receiver:
    def __init__(
        self,
        handler: Handler,
        secret: str | bytes | None,
        *,
        queue_size: int,
        workers: int,
        dedup_window: int,
        drain_timeout: float | None,
    ) -> None:
        self.handler = handler
        self.secret = secret
        self.workers = workers
        self.drain_timeout = drain_timeout
        self.queue: asyncio.Queue[WebhookEvent] = asyncio.Queue(maxsize=queue_size)
        self.recent = _RecentIds(dedup_window)
        self.stats = WebhookStats()

    async def receive(self, request: web.Request) -> web.Response:
        self.stats.received += 1
        body = await request.read()
        try:
            event = parse_event(body, request.headers, secret=self.secret)
        except WebhookVerificationError as exc:
            self.stats.rejected += 1
            logger.warning("webhook rejected from %s: %s", request.remote, exc)
            return web.Response(status=401, text="invalid signature")
        except WebhookPayloadError as exc:
            self.stats.malformed += 1
            logger.error("webhook body unreadable, event lost: %s", exc)
            return web.Response(status=400, text="malformed webhook payload")
        return self._enqueue(event)

    def _enqueue(self, event: WebhookEvent) -> web.Response:
        # No await between the check and the add: concurrent duplicates cannot both pass.
        if event.id in self.recent:
            self.stats.duplicates += 1
            logger.debug("duplicate webhook %s (%s) dropped", event.name, event.id)
            return web.Response(text="duplicate")
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.stats.dropped += 1
            logger.error(
                "webhook queue full (%d): %s %s id=%s resource_id=%s LOST, Outreach will not"
                " resend; reconcile by listing changes since %s",
                self.queue.maxsize,
                event.name,
                event.resource_type,
                event.id,
                event.resource_id,
                event.delivered_at,
            )
            return web.Response(status=503, text="webhook queue full")
        self.recent.add(event.id)
        return web.Response(text="ok")

    async def work(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await _call(self.handler, event)
            except Exception:
                self.stats.failed += 1
                logger.exception("webhook handler failed on %s id=%s", event.name, event.id)
            else:
                self.stats.handled += 1
            finally:
                self.queue.task_done()

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(self.work()) for _ in range(self.workers)]
        yield
        # Cleanup runs after the server stopped taking requests: finish what was acknowledged.
        try:
            await asyncio.wait_for(self.queue.join(), self.drain_timeout)
        except TimeoutError:
            logger.error("webhook receiver stopped with %d events not handled", self.queue.qsize())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _check_arguments(
    secret: str | bytes | None, queue_size: int, workers: int, dedup_window: int
) -> None:
    if secret is not None and not secret:
        raise ValueError("the webhook secret is empty; pass secret=None to accept unsigned posts")
    if queue_size < 1:
        raise ValueError("queue_size must be at least 1 (the queue is bounded on purpose)")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if dedup_window < 0:
        raise ValueError("dedup_window must not be negative")


def webhook_app(
    handler: Handler,
    *,
    secret: str | bytes | None,
    queue_size: int = 1000,
    workers: int = 1,
    dedup_window: int = 10_000,
    path: str = "/",
    drain_timeout: float | None = 30.0,
) -> web.Application:
    """An aiohttp application that receives Outreach webhooks and calls ``handler(event)``.

    ``POST path``: a missing or wrong signature answers 401; a verified body that is not a
    webhook event answers 400; an event already accepted (same :attr:`WebhookEvent.id` among the
    last ``dedup_window``) answers 200 without calling the handler again; otherwise the event is
    queued and 200 goes back at once. When ``queue_size`` events are waiting, 503 (logged as an
    error: Outreach does not resend). ``workers`` tasks, started with the application, call the
    handler: a coroutine function is awaited, a plain function runs in a thread. A handler that
    raises is logged and counted; the worker goes on. At cleanup the queue is drained (at most
    ``drain_timeout`` seconds). Counters: ``app[WEBHOOK_STATS]``.

    ``secret`` is the webhook's secret; ``None`` accepts unsigned deliveries (webhooks created
    without a secret). Serve it with ``web.run_app(app)`` or mount it with ``add_subapp``.
    """
    _check_arguments(secret, queue_size, workers, dedup_window)
    receiver = _Receiver(
        handler,
        secret,
        queue_size=queue_size,
        workers=workers,
        dedup_window=dedup_window,
        drain_timeout=drain_timeout,
    )
    app = web.Application()
    app[WEBHOOK_STATS] = receiver.stats
    app.router.add_post(path, receiver.receive)
    app.cleanup_ctx.append(receiver.lifecycle)
    return app
