"""The sandbox's resource operations, below HTTP: create, update, delete, actions, reads.

Every change goes through :meth:`Backend.change` or :meth:`Backend.create` so that the server
timestamps, the per-type rules of :mod:`.lifecycle` and the webhook events (facts §9: created,
updated, destroyed and the named actions such as ``task.completed`` or
``sequenceState.finished``) happen the same way whichever route caused them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

from .._schema import ResourceSpec
from . import lifecycle
from .actions import run_action
from .batches import advance_batch
from .collection import QueryRunner
from .errors import not_found
from .query import Record
from .render import Renderer
from .schema import Schema
from .store import Store
from .writes import WriteDocument, check_required

__all__ = ["WEBHOOK_RESOURCES", "Backend", "Publisher"]

#: The resources Outreach delivers webhook events for (facts §9, the resource/action matrix);
#: ``*`` means all of these, not every type (a webhook's own changes are never delivered).
WEBHOOK_RESOURCES = frozenset(
    {
        "account",
        "call",
        "emailAddress",
        "import",
        "kaiaRecording",
        "mailing",
        "opportunity",
        "opportunityProspectRole",
        "prospect",
        "sequence",
        "sequenceState",
        "task",
        "user",
    }
)

#: ``publish(resource_type, action, resource, before)``: the webhook dispatcher's entry point
Publisher: TypeAlias = Callable[[str, str, Mapping[str, Any], "Mapping[str, Any] | None"], object]


class Backend:
    """Operations on one store; ``user_id`` is the user a request acts for."""

    def __init__(self, schema: Schema, store: Store, publish: Publisher | None = None) -> None:
        self.schema = schema
        self.store = store
        self.runner = QueryRunner(store, schema)
        self.renderer = Renderer(schema, store)
        self.publish = publish
        #: ``http://127.0.0.1:port/api/v2``: the base of ``links`` in webhook payloads
        self.base_url = ""

    # -- lookups ---------------------------------------------------------------------------

    def spec(self, type_: str) -> ResourceSpec:
        """The spec of a served type."""
        return self.schema.by_type[type_]

    def require(self, type_: str, id_: int) -> Record:
        """The record, or 404 ``resourceNotFound``."""
        record = self.store.get(type_, id_)
        if record is None:
            raise not_found(type_, id_)
        return record

    # -- webhooks --------------------------------------------------------------------------

    def _webhooks_listening(self, type_: str) -> bool:
        return (
            self.publish is not None
            and type_ in WEBHOOK_RESOURCES
            and self.store.count("webhook") > 0
        )

    def snapshot(self, type_: str, record: Record) -> dict[str, Any] | None:
        """The rendered resource before a change, when a webhook may need it (else None)."""
        if not self._webhooks_listening(type_):
            return None
        return self.renderer.resource(type_, record, self.base_url)

    def emit(
        self, type_: str, action: str, record: Record, before: Mapping[str, Any] | None = None
    ) -> None:
        """Tell the webhooks about one event on ``record`` (rendered as it is now)."""
        if self.publish is not None and self._webhooks_listening(type_):
            self.publish(
                type_, action, self.renderer.resource(type_, record, self.base_url), before
            )

    # -- writes ----------------------------------------------------------------------------

    def create(self, type_: str, document: WriteDocument, user_id: int | None) -> Record:
        """POST: check, apply the type's rules, insert, run side effects, publish ``created``."""
        check_required(type_, document)
        attributes, relationships = lifecycle.prepare_create(self, type_, document, user_id)
        record = self.store.insert(type_, attributes, relationships)
        self.emit(type_, "created", record)
        lifecycle.after_create(self, type_, record, document, user_id)
        return record

    def update(self, type_: str, id_: int, document: WriteDocument, user_id: int | None) -> Record:
        """PATCH: change only the given fields, publish ``updated`` if anything changed."""
        record = self.require(type_, id_)
        attributes, relationships = lifecycle.prepare_update(self, type_, record, document, user_id)
        return self.change(type_, id_, attributes, relationships)

    def change(
        self,
        type_: str,
        id_: int,
        attributes: Mapping[str, Any] | None = None,
        relationships: Mapping[str, Any] | None = None,
        event: str = "updated",
    ) -> Record:
        """Store a change made by the server or a client and publish ``event`` for it."""
        record = self.require(type_, id_)
        before = self.snapshot(type_, record)
        changed = self.store.update(type_, id_, attributes, relationships)
        if changed or event != "updated":
            self.emit(type_, event, record, before)
        return record

    def delete(self, type_: str, id_: int) -> None:
        """DELETE: remove the record, publish ``destroyed`` with its last known state."""
        record = self.require(type_, id_)
        last = self.snapshot(type_, record)
        self.store.delete(type_, id_)
        if last is not None and self.publish is not None:
            self.publish(type_, "destroyed", last, None)

    def act(
        self, type_: str, id_: int, name: str, params: Mapping[str, str], user_id: int | None
    ) -> Record:
        """A member action (``POST /{path}/{id}/actions/{name}``); 422 when the state forbids it."""
        self.require(type_, id_)
        run_action(self, type_, id_, name, params, user_id)
        return self.require(type_, id_)

    # -- reads -----------------------------------------------------------------------------

    def after_read(self, type_: str, records: Iterable[Record]) -> None:
        """Reads that move state: a compliance request advances one step per read, a running
        batch processes a share of its items (.batches)."""
        if type_ == "complianceRequest":
            for record in list(records):
                lifecycle.advance_compliance_request(self, record)
        elif type_ == "batch":
            for record in list(records):
                advance_batch(self, record)
