"""Webhook delivery from the sandbox: what Outreach POSTs to subscribers when resources change.

What it imitates (outreach-api-facts.md §9, outreach-common-patterns.txt "Respond to Platform
Events"):

- A webhook matches when it is active and its ``resource`` and ``action`` are ``*`` or equal.
- The body is JSON:API-styled: ``{"data": {type, id, attributes, relationships}, "meta":
  {deliveredAt, eventName: "<type>.<action>", jobId}}``. Created and updated events carry only
  the created or changed attributes (``updatedAt`` always); destroyed events carry the last known
  attributes and relationships. Payload version 2 adds a top-level ``beforeUpdate`` resource with
  the prior values of the changed attributes (the shape the api-evangelist AsyncAPI transcription
  gives; not confirmed from Outreach's own text).
- ``Outreach-Webhook-Signature``: lowercase hex HMAC-SHA256 of the raw body keyed with the
  secret, only when a secret is set; ``Outreach-Webhook-ID``: a UUID per delivery (kept across its
  retries so receivers can deduplicate).
- A 5 s timeout; a non-2xx answer is an acknowledgement and is NOT retried; network failures are
  retried 3 times 1 s apart; redirects are not followed (§9 "Retries and timeouts", §11.13).

The payload building and signing are pure functions; :class:`WebhookDispatcher` only schedules
and sends.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

# The house rule "only _transport imports the aiohttp client" is for the client library. The
# sandbox is a separate server package, and here it is itself a client of the user's webhook
# receiver, so it uses aiohttp.ClientSession directly.
import aiohttp
import attrs
import orjson

__all__ = [
    "Delivery",
    "WebhookDispatcher",
    "build_payload",
    "sign_body",
    "webhook_matches",
]

_CONTENT_TYPE = "application/vnd.api+json"
# Events whose payload carries every known attribute rather than only the changed ones.
_WHOLE_RESOURCE_ACTIONS = frozenset({"created", "destroyed"})


def sign_body(body: bytes, secret: str) -> str:
    """``Outreach-Webhook-Signature`` for ``body``: hex HMAC-SHA256 keyed with ``secret``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_matches(webhook: Mapping[str, Any], resource_type: str, action: str) -> bool:
    """Whether a stored webhook (wire form) wants the event ``resource_type.action``."""
    attributes = webhook.get("attributes", {})
    if attributes.get("active", True) is False:
        return False
    wanted_resource = attributes.get("resource") or "*"
    wanted_action = attributes.get("action") or "*"
    return wanted_resource in ("*", resource_type) and wanted_action in ("*", action)


def _relationship_value(relationship: Mapping[str, Any], flatten: bool) -> Any:
    data = relationship.get("data")
    return data if flatten else {"data": data}


def _relationships(
    resource: Mapping[str, Any], names: Iterable[str] | None, flatten: bool
) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    for name, relationship in (resource.get("relationships") or {}).items():
        # Links-only and meta-only relationships say nothing about what changed.
        if "data" not in relationship or (names is not None and name not in names):
            continue
        rendered[name] = _relationship_value(relationship, flatten)
    return rendered


def _changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return [name for name, value in after.items() if name not in before or before[name] != value]


def _changed_relationships(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    old = before.get("relationships") or {}
    new = after.get("relationships") or {}
    return [
        name
        for name, value in new.items()
        if "data" in value and (old.get(name) or {}).get("data") != value["data"]
    ]


def build_payload(
    resource_type: str,
    action: str,
    resource: Mapping[str, Any],
    before: Mapping[str, Any] | None = None,
    *,
    payload_version: int = 1,
    delivered_at: str,
    job_id: str,
    flatten_relationships: bool = False,
) -> dict[str, Any]:
    """The webhook body for one event, as a JSON-ready dict.

    ``resource`` and ``before`` are JSON:API resource objects (``type``, ``id``, ``attributes``,
    ``relationships``) after and before the change.
    """
    attributes: Mapping[str, Any] = resource.get("attributes") or {}
    data: dict[str, Any] = {"type": resource_type, "id": resource.get("id")}
    before_attributes: Mapping[str, Any] | None = None
    if action in _WHOLE_RESOURCE_ACTIONS or before is None:
        keep = {k: v for k, v in attributes.items() if action == "destroyed" or v is not None}
        data["attributes"] = keep
        data["relationships"] = _relationships(resource, None, flatten_relationships)
    else:
        before_attributes = before.get("attributes") or {}
        changed = _changed(before_attributes, attributes)
        if "updatedAt" in attributes and "updatedAt" not in changed:
            changed.append("updatedAt")  # always present (AMP sample, §9)
        data["attributes"] = {name: attributes[name] for name in changed}
        names = _changed_relationships(before, resource)
        data["relationships"] = _relationships(resource, names, flatten_relationships)
    payload: dict[str, Any] = {"data": data}
    if payload_version == 2 and before_attributes is not None:
        prior = {name: before_attributes.get(name) for name in data["attributes"]}
        payload["beforeUpdate"] = {"type": resource_type, "id": data["id"], "attributes": prior}
    payload["meta"] = {
        "deliveredAt": delivered_at,
        "eventName": f"{resource_type}.{action}",
        "jobId": job_id,
    }
    return payload


@attrs.frozen
class Delivery:
    """One event delivered (or not) to one webhook, for tests and the request log."""

    webhook_id: Any
    url: str
    event_name: str
    body: bytes
    headers: Mapping[str, str]
    #: The receiver's HTTP status, or None when no answer came.
    status: int | None
    #: What went wrong when no answer came (``"timeout"`` or the connection error).
    error: str | None
    attempts: int


@attrs.frozen
class _Outgoing:
    webhook_id: Any
    url: str
    event_name: str
    body: bytes
    headers: Mapping[str, str]


class WebhookDispatcher:
    """Delivers sandbox events to the registered webhooks, in the background.

    ``list_webhooks`` returns the stored webhooks in wire form (``{"id", "attributes": {url,
    resource, action, active, secret, payloadVersion}}``); it is read at each publish.
    """

    def __init__(
        self,
        list_webhooks: Callable[[], Iterable[Mapping[str, Any]]],
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = 5.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        retry_delay: float = 1.0,
        max_retries: int = 3,
        org_id: int | None = None,
        flatten_relationships: bool = False,
    ) -> None:
        self._list_webhooks = list_webhooks
        self._clock = clock
        self._timeout = timeout
        self._sleep = sleep
        self._retry_delay = retry_delay
        self._max_retries = max_retries
        self._org_id = org_id
        self._flatten = flatten_relationships
        self._pending: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        #: Every finished delivery, in the order they finished.
        self.deliveries: list[Delivery] = []

    def publish(
        self,
        resource_type: str,
        action: str,
        resource: Mapping[str, Any],
        before: Mapping[str, Any] | None = None,
    ) -> int:
        """Schedule the event's deliveries on the running loop; returns how many were scheduled.

        Call it after the change is stored; it never blocks and never raises for a receiver.
        """
        outgoing = [
            self._prepare(webhook, resource_type, action, resource, before)
            for webhook in self._list_webhooks()
            if webhook_matches(webhook, resource_type, action)
        ]
        loop = asyncio.get_running_loop()
        for item in outgoing:
            task = loop.create_task(self._deliver(item))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return len(outgoing)

    async def drain(self) -> None:
        """Wait until every scheduled delivery has finished (tests call this before asserting)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def aclose(self) -> None:
        """Finish the pending deliveries and close the HTTP session."""
        await self.drain()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _prepare(
        self,
        webhook: Mapping[str, Any],
        resource_type: str,
        action: str,
        resource: Mapping[str, Any],
        before: Mapping[str, Any] | None,
    ) -> _Outgoing:
        attributes = webhook.get("attributes", {})
        payload = build_payload(
            resource_type,
            action,
            resource,
            before,
            payload_version=int(attributes.get("payloadVersion") or 1),
            delivered_at=self._delivered_at(),
            job_id=str(uuid.uuid4()),
            flatten_relationships=self._flatten,
        )
        body = orjson.dumps(payload)
        return _Outgoing(
            webhook.get("id"),
            str(attributes.get("url", "")),
            payload["meta"]["eventName"],
            body,
            self._headers(attributes, body),
        )

    def _delivered_at(self) -> str:
        # Outreach sends an offset, not "Z", in meta.deliveredAt (§9, BAL and AMP samples).
        moment = datetime.fromtimestamp(self._clock(), UTC)
        return moment.isoformat(timespec="milliseconds")

    def _headers(self, attributes: Mapping[str, Any], body: bytes) -> dict[str, str]:
        headers = {"Content-Type": _CONTENT_TYPE, "Outreach-Webhook-ID": str(uuid.uuid4())}
        secret = attributes.get("secret")
        if secret:
            headers["Outreach-Webhook-Signature"] = sign_body(body, str(secret))
        if attributes.get("cleanupToken"):
            headers["outreach-webhook-cleanup-token"] = str(attributes["cleanupToken"])
        if self._org_id is not None:
            headers["outreach-org-id"] = str(self._org_id)
        return headers

    async def _deliver(self, item: _Outgoing) -> None:
        attempts = 0
        status: int | None = None
        error: str | None = None
        while True:
            attempts += 1
            status, error, retry = await self._attempt(item)
            if not retry or attempts > self._max_retries:
                break
            await self._sleep(self._retry_delay)
        self.deliveries.append(
            Delivery(
                item.webhook_id,
                item.url,
                item.event_name,
                item.body,
                item.headers,
                status,
                error,
                attempts,
            )
        )

    async def _attempt(self, item: _Outgoing) -> tuple[int | None, str | None, bool]:
        """One POST: ``(status, error, retry?)``. Only a network failure is worth a retry."""
        session = self._client()
        try:
            async with session.post(
                item.url,
                data=item.body,
                headers=item.headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as answer:
                await answer.read()
                return answer.status, None, False
        except TimeoutError:
            # The receiver may have got it; Outreach counts a timeout as a failed delivery.
            return None, "timeout", False
        except (aiohttp.ClientError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}", True

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session
