"""Apply webhook events to where the data lives: the only way to learn of deletions.

Outreach lists a deleted record never again, so an incremental sync cannot see deletions; only a
``<type>.destroyed`` webhook tells. :class:`SinkEventHandler` applies events to one
:class:`EventSink` per resource type (the database sinks of :mod:`outreach_async.sinks` are
such sinks):

- ``created``, ``updated`` and any other action that carries attributes: the fields the event
  carried are upserted; an event older than the stored row's ``updatedAt`` (deliveries arrive in
  any order) only fills fields the row does not hold yet, so a late delivery never undoes a
  newer one or a newer sync;
- ``destroyed``: the row gets ``deleted_at`` (the delivery time), and keeps its last values.

Outreach does not retry a failed delivery (facts §9), so a periodic incremental sync of the same
tables must run too: it brings what a lost delivery missed, and never clears ``deleted_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..models import RecordFlattener, model_for_type
from ._events import WebhookEvent, _resource_object

__all__ = ["EventSink", "SinkEventHandler", "flat_record"]


class EventSink(Protocol):
    """What a sink offers webhook events."""

    async def apply_partial(self, record: Mapping[str, Any]) -> None:
        """Upsert the fields ``record`` (a flat export record) carries, unless the stored version
        is newer."""

    async def mark_deleted(self, ids: list[int], at: dt.datetime) -> None:
        """Mark these ids deleted at ``at`` (inserting a tombstone for an id not yet stored)."""


def flat_record(event: WebhookEvent) -> dict[str, Any] | None:
    """The event's resource as a flat export record (``type``, ``id``, the attributes it carried
    by wire name, each relationship it carried as an id or a list of ids); None for a type this
    library has no model for."""
    cls = model_for_type(event.resource_type)
    if cls is None:
        return None
    spec = cls.__resource_spec__
    return RecordFlattener(spec).from_wire(_resource_object(event.raw, spec))


class SinkEventHandler:
    """A webhook handler (``webhook_app(SinkEventHandler(...), secret=...)``, or ``await
    handler(event)`` from any framework) that keeps sinks current, deletions included.

    ``sinks`` maps resource types (``"prospect"``) to their sinks; events of other types are
    ignored. ``clock`` dates a deletion whose delivery has no ``deliveredAt``.
    """

    def __init__(
        self,
        sinks: Mapping[str, EventSink],
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.sinks = dict(sinks)
        self._clock = clock

    async def __call__(self, event: WebhookEvent) -> None:
        sink = self.sinks.get(event.resource_type)
        if sink is None or not isinstance(event.resource_id, int):
            return
        if event.action == "destroyed":
            await sink.mark_deleted([event.resource_id], event.delivered_at or self._clock())
        elif (record := flat_record(event)) is not None:
            await sink.apply_partial(record)
