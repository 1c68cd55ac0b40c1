"""What every seeding step shares: the store, the plan, a seeded RNG and clock, and the ids made.

Records are written as raw wire-form dicts straight into the tables (no per-record validation):
the seed is the only writer and builds them right, which is what lets 100,000 prospects and
everything around them seed in a few seconds. Indexes are built lazily on first use, so the
relationships of records already added may still be changed here, before anything is served.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from .query import Record
from .seed_plan import SeedPlan
from .store import Store
from .times import format_epoch_ms

__all__ = ["ANCHOR_MS", "DAY_MS", "Seeding", "make_record"]

ANCHOR_MS = 1_704_067_200_000  # 2024-01-01T00:00:00.000Z: seeded history starts here
_YEAR_MS = 365 * 24 * 3600 * 1000
DAY_MS = 24 * 3600 * 1000


def make_record(id_: int, attributes: dict[str, Any], relationships: dict[str, Any]) -> Record:
    """A stored record (see :mod:`.store`)."""
    return {"id": id_, "attributes": attributes, "relationships": relationships}


class Seeding:
    """One seeding pass: adds records with seeded timestamps and remembers their ids by type."""

    def __init__(self, store: Store, plan: SeedPlan, rng: random.Random) -> None:
        self.store = store
        self.plan = plan
        self.rng = rng
        self._randrange = rng.randrange
        #: ids added by this pass (and, for ``user``, the acting user), by type, in order
        self.ids: dict[str, list[int]] = {}

    def stamps(self) -> tuple[str, str]:
        """A created/updated pair within the seeded year, updated up to 30 days later."""
        created = ANCHOR_MS + self._randrange(_YEAR_MS)
        updated = created + self._randrange(30 * DAY_MS)
        return format_epoch_ms(created), format_epoch_ms(updated)

    def add(self, type_: str, attributes: dict[str, Any], relationships: dict[str, Any]) -> int:
        """Add one record with the next id; timestamps only where the type has them."""
        table = self.store.table(type_)
        id_ = table.next_id
        created, updated = self.stamps()
        if table.has_created_at:
            attributes.setdefault("createdAt", created)
        if table.has_updated_at:
            attributes.setdefault("updatedAt", updated)
        table.add(make_record(id_, attributes, relationships))
        self.ids.setdefault(type_, []).append(id_)
        return id_

    def named(self, type_: str, rows: Iterable[dict[str, Any]]) -> list[int]:
        """Add reference records (stages, personas, ...) with no relationships; their ids."""
        return [self.add(type_, row, {}) for row in rows]

    def record(self, type_: str, id_: int) -> Record:
        """A record this seed made (KeyError otherwise)."""
        return self.store.table(type_).records[id_]

    def link(self, type_: str, id_: int, relationship: str, target: int) -> None:
        """Append ``target`` to a stored to-many relationship of a seeded record."""
        self.record(type_, id_)["relationships"].setdefault(relationship, []).append(target)

    def relate(self, type_: str, id_: int, **relationships: Any) -> None:
        """Set to-one relationships of a seeded record."""
        self.record(type_, id_)["relationships"].update(relationships)
