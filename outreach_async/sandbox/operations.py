"""What actions, bulk-action effects and lifecycle rules need from the backend, and no more.

:mod:`.actions`, :mod:`.batches` and :mod:`.lifecycle` are called by :class:`~.backend.Backend`
and act back on it: they read and write the store and publish changes. Typed against this
protocol instead of the whole ``Backend``, they import nothing that imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .._schema import ResourceSpec
from .collection import QueryRunner
from .query import Record
from .schema import Schema
from .store import Store

__all__ = ["Operations"]


class Operations(Protocol):
    """The backend as the rules see it (:class:`~.backend.Backend` implements it)."""

    @property
    def store(self) -> Store:
        """The records (and the clock the server stamps times with)."""

    @property
    def schema(self) -> Schema:
        """The served resource types."""

    @property
    def runner(self) -> QueryRunner:
        """Filters and sorts records as a collection GET does (bulk actions pick their targets)."""

    def spec(self, type_: str) -> ResourceSpec:
        """The spec of a served type."""

    def require(self, type_: str, id_: int) -> Record:
        """The record, or 404 ``resourceNotFound``."""

    def change(
        self,
        type_: str,
        id_: int,
        attributes: Mapping[str, Any] | None = None,
        relationships: Mapping[str, Any] | None = None,
        event: str = "updated",
    ) -> Record:
        """Store a change and publish ``event`` for it to the webhooks."""

    def delete(self, type_: str, id_: int) -> None:
        """Remove a record and publish ``destroyed``."""
