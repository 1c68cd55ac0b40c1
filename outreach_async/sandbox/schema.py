"""The sandbox's reading of the resource specs: paths, and how each relationship is kept and shown.

The specs (``outreach_async.models.ALL_SPECS``) say what a relationship is; the sandbox must also
decide where its ids live and how it renders (outreach-api-facts.md §6):

* ``to_one``: the record stores the target id; rendered ``{"data": {"type", "id"} | null}``.
* ``derived``: a to-many relationship whose target has a to-one relationship named after the
  source type (``sequence.sequenceSteps`` <- ``sequenceStep.sequence``). Its ids are computed from
  the target table, so both sides always agree; rendered with ``data`` + ``links.related`` +
  ``meta.count``, or ``links.related`` alone when the spec says links-only.
* ``stored``: any other to-many relationship of a served type (``prospect.opportunities``): the
  record stores a list of ids.
* ``unserved``: the target type has no endpoint (``user.phones`` -> ``phone``). Nothing can be
  fetched, so a to-one renders ``data: null`` and a to-many renders ``meta`` only, with neither
  ``data`` nor ``links``: the shape that crashed tap-outreach (facts §6, §11.5) and that clients
  must accept.

``links.related`` filters the target collection by the source *type*
(``opportunities?filter[prospect][id]=18``, facts §6); :mod:`.query` resolves that filter even
when the target has no relationship of that name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, TypeAlias

import attrs

from .._schema import RelationshipSpec, ResourceSpec

__all__ = ["POLYMORPHIC", "WRITE_ONLY", "RelationshipPlan", "Schema", "Storage"]

Storage: TypeAlias = Literal["to_one", "derived", "stored", "unserved"]

#: To-one relationships that may point at more than one type (task.subject: account | prospect,
#: facts §8.1 and the resources appendix). The record then stores ``{"type", "id"}``.
POLYMORPHIC: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("task", "subject"): ("prospect", "account"),
    ("call", "associatedId"): ("account", "opportunity"),
}

#: Attributes Outreach accepts on writes but never returns on reads: the OpenAPI badges them
#: "writeonly" ("The password of the mailbox. This attribute can be used to set the password,
#: but is not available for read."). The sandbox stores what a write sends and renders none of
#: them; a connector whose schema was built against real Outreach does not declare them.
WRITE_ONLY: Mapping[str, frozenset[str]] = {
    "mailbox": frozenset(
        {"password", "smtpPassword", "sendgridApiKey", "validateSend", "validateSync"}
    ),
    "accountNote": frozenset({"opportunityAssociationRule"}),
    "prospectNote": frozenset({"opportunityAssociationRule"}),
    "user": frozenset({"jobRoleByName"}),
}

#: Derived relationships that keep only some of the target records (attribute -> allowed values).
DERIVED_SUBSETS: Mapping[tuple[str, str], tuple[str, frozenset[str]]] = {
    ("prospect", "activeSequenceStates"): ("state", frozenset({"active", "paused", "pending"})),
}


@attrs.frozen
class RelationshipPlan:
    """How the sandbox keeps and renders one relationship."""

    spec: RelationshipSpec
    storage: Storage
    #: for ``derived``: the target's to-one relationship pointing back at the source
    inverse: str | None = None
    #: for ``derived`` subsets: (attribute, allowed values) the target records must have
    subset: tuple[str, frozenset[str]] | None = None

    @property
    def wire(self) -> str:
        return self.spec.wire

    @property
    def target(self) -> str:
        return self.spec.target


class Schema:
    """Every served resource spec, by type and by path, with relationship plans."""

    def __init__(self, specs: Iterable[ResourceSpec]) -> None:
        self.by_type: dict[str, ResourceSpec] = {spec.type: spec for spec in specs}
        self.by_path: dict[str, ResourceSpec] = {s.path: s for s in self.by_type.values()}
        self.plans: dict[str, tuple[RelationshipPlan, ...]] = {
            type_: tuple(self._plan(spec, r) for r in spec.relationships)
            for type_, spec in self.by_type.items()
        }
        self.plan_by_wire: dict[str, dict[str, RelationshipPlan]] = {
            type_: {plan.wire: plan for plan in plans} for type_, plans in self.plans.items()
        }

    def spec(self, type_: str) -> ResourceSpec | None:
        """The spec of a served type, or None."""
        return self.by_type.get(type_)

    def plan(self, type_: str, relationship: str) -> RelationshipPlan | None:
        """The plan of one relationship of ``type_`` (by wire name), or None."""
        return self.plan_by_wire.get(type_, {}).get(relationship)

    def _plan(self, source: ResourceSpec, relationship: RelationshipSpec) -> RelationshipPlan:
        target = self.by_type.get(relationship.target)
        if target is None:
            return RelationshipPlan(relationship, "unserved")
        if not relationship.to_many:
            return RelationshipPlan(relationship, "to_one")
        back = target.relationship_by_wire.get(source.type)
        if back is not None and not back.to_many and back.target == source.type:
            subset = DERIVED_SUBSETS.get((source.type, relationship.wire))
            return RelationshipPlan(relationship, "derived", back.wire, subset)
        return RelationshipPlan(relationship, "stored")
