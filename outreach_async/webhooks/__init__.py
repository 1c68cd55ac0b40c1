"""Outreach webhooks: verify a delivery, parse it into a typed event, or serve a receiver.

::

    from outreach_async.webhooks import verify_signature, parse_event, webhook_app

    verify_signature(raw_body, headers["Outreach-Webhook-Signature"], secret)  # bool
    event = parse_event(raw_body, headers, secret=secret)  # WebhookEvent
    app = webhook_app(handler, secret=secret)  # aiohttp.web.Application that acks at once

The pure part (:func:`verify_signature`, :func:`parse_event`) does no I/O and works with any web
framework; :func:`webhook_app` is an aiohttp.web server built on it.
"""

from ._apply import EventSink, SinkEventHandler, flat_record
from ._events import (
    DELIVERY_ID_HEADER,
    ORG_ID_HEADER,
    SIGNATURE_HEADER,
    WebhookEvent,
    WebhookPayloadError,
    parse_event,
    verify_signature,
)
from ._receiver import WEBHOOK_STATS, Handler, WebhookStats, webhook_app

__all__ = [
    "DELIVERY_ID_HEADER",
    "EventSink",
    "ORG_ID_HEADER",
    "SIGNATURE_HEADER",
    "SinkEventHandler",
    "WEBHOOK_STATS",
    "Handler",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookStats",
    "flat_record",
    "parse_event",
    "verify_signature",
    "webhook_app",
]
