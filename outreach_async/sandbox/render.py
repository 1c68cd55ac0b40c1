"""Records to JSON:API resource objects, as Outreach renders them (outreach-api-facts.md §5, §6).

* ``{"type", "id", "attributes", "relationships", "links": {"self"}}`` with an integer id;
* every attribute present, nulls included, unless ``fields[type]`` asks for some only (then the
  others are absent, not null, and ``relationships`` is left out when none was asked for); never
  a write-only one (:data:`.schema.WRITE_ONLY`: mailbox passwords and the like);
* relationships in the forms :mod:`.schema` plans: to-one ``data``; to-many ``data`` +
  ``links.related`` + ``meta.count``; links-only; meta-only for types the API does not serve;
* ``include=account,account.owner`` puts the related records in a top-level ``included`` array,
  each once, never repeating a primary record.

:func:`parse_include` and :func:`parse_fields` validate the parameters (400 naming them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from .._schema import ResourceSpec
from .errors import bad_parameter
from .query import Record
from .schema import WRITE_ONLY, RelationshipPlan, Schema
from .store import Store

__all__ = [
    "META_FLAGS",
    "Fields",
    "IncludeTree",
    "Renderer",
    "parse_fields",
    "parse_include",
    "requested_meta",
]

#: ``fields[type]`` -> the wire names asked for
Fields: TypeAlias = Mapping[str, frozenset[str]]
#: relationship wire name -> the include tree below it
IncludeTree: TypeAlias = dict[str, "IncludeTree"]

_INCLUDABLE = frozenset({"to_one", "derived", "stored"})

#: Query flags that add keys to each resource's ``meta`` (facts §5, the hyper-schema meta blocks).
META_FLAGS = ("provideAuthorizationMeta", "provideDataConnections")


def requested_meta(query: Mapping[str, str], spec: ResourceSpec) -> dict[str, Any] | None:
    """The ``meta`` every resource of ``spec`` carries for the flags the query sets, or None.

    ``canWrite`` / ``canDelete`` follow the endpoint's operations (the sandbox's one user may do
    everything the API allows); no record has data connections.
    """
    meta: dict[str, Any] = {}
    if query.get(META_FLAGS[0], "").lower() == "true":
        meta.update(canWrite="update" in spec.operations, canDelete="delete" in spec.operations)
    if query.get(META_FLAGS[1], "").lower() == "true":
        meta["dataConnections"] = []
    return meta or None


def parse_include(value: str | None, spec: ResourceSpec, schema: Schema) -> IncludeTree:
    """``include=a,a.b`` as a tree, every step checked against the schema."""
    tree: IncludeTree = {}
    if not value:
        return tree
    for path in value.split(","):
        node, current = tree, spec
        for name in path.split("."):
            plan = schema.plan(current.type, name)
            if plan is None or plan.storage not in _INCLUDABLE or plan.spec.links_only:
                raise bad_parameter(
                    "includeParameter.unknownRelationship",
                    "include",
                    f"'{name}' is not a relationship of '{current.type}' that can be included.",
                )
            node = node.setdefault(name, {})
            current = schema.by_type[plan.target]
    return tree


def parse_fields(query: Iterable[tuple[str, str]], schema: Schema) -> dict[str, frozenset[str]]:
    """``fields[type]=a,b``; 400 ``fieldsParameter.unknownResourceField`` for a bad name."""
    fields: dict[str, frozenset[str]] = {}
    for key, value in query:
        if not (key.startswith("fields[") and key.endswith("]")):
            continue
        type_ = key[len("fields[") : -1]
        spec = schema.spec(type_)
        names = frozenset(n for n in value.split(",") if n)
        known = (
            set() if spec is None else set(spec.attribute_by_wire) | set(spec.relationship_by_wire)
        )
        unknown = sorted(names - known) if spec is not None else [type_]
        if unknown:
            raise bad_parameter(
                "fieldsParameter.unknownResourceField",
                key,
                f"'{unknown[0]}' is not a field of resource type '{type_}'.",
            )
        fields[type_] = names
    return fields


RelationshipRenderer: TypeAlias = Callable[[Record, str], dict[str, Any]]


class _TypeView:
    """Per-type rendering data computed once: the all-null attribute template and one small
    function per relationship (rendering is the hot path of every page)."""

    def __init__(self, spec: ResourceSpec, schema: Schema, renderer: Renderer) -> None:
        self.spec = spec
        #: write-only attributes a write may have stored: never rendered
        self.hidden = WRITE_ONLY.get(spec.type, frozenset())
        self.template: dict[str, Any] = dict.fromkeys(
            a.wire for a in spec.attributes if a.wire not in self.hidden
        )
        self.relationships: tuple[tuple[str, RelationshipRenderer], ...] = tuple(
            (plan.wire, _relationship_renderer(spec, plan, schema, renderer))
            for plan in schema.plans[spec.type]
        )


def _relationship_renderer(
    spec: ResourceSpec, plan: RelationshipPlan, schema: Schema, renderer: Renderer
) -> RelationshipRenderer:
    wire, target = plan.wire, plan.target
    if plan.storage == "to_one":

        def to_one(record: Record, base: str) -> dict[str, Any]:
            value = record["relationships"].get(wire)
            if value is None:
                return {"data": None}
            if isinstance(value, dict):  # polymorphic: stored with its type
                return {"data": {"type": value["type"], "id": value["id"]}}
            return {"data": {"type": target, "id": value}}

        return to_one
    if plan.storage == "unserved":
        shape = {"meta": {"count": 0}} if plan.spec.to_many else {"data": None}
        return lambda record, base: dict(shape)
    related = f"/{schema.by_type[target].path}?filter%5B{spec.type}%5D%5Bid%5D="
    if plan.spec.links_only:
        return lambda record, base: {"links": {"related": f"{base}{related}{record['id']}"}}

    ids_of = renderer.ids_function(plan)

    def to_many(record: Record, base: str) -> dict[str, Any]:
        data = [{"type": target, "id": i} for i in ids_of(record)]
        links = {"related": f"{base}{related}{record['id']}"}
        return {"data": data, "links": links, "meta": {"count": len(data)}}

    return to_many


class Renderer:
    """Renders records of one store; ``base`` (``http://host/api/v2``) is given per call."""

    def __init__(self, schema: Schema, store: Store) -> None:
        self.schema = schema
        self.store = store
        self._views: dict[str, _TypeView] = {}
        self._ids: dict[int, Callable[[Record], list[int]]] = {}

    def _view(self, type_: str) -> _TypeView:
        view = self._views.get(type_)
        if view is None:
            view = self._views[type_] = _TypeView(self.schema.by_type[type_], self.schema, self)
        return view

    # -- relationships ---------------------------------------------------------------------

    def ids_function(self, plan: RelationshipPlan) -> Callable[[Record], list[int]]:
        """A function giving the ids a to-many relationship holds, stored or computed."""
        wire = plan.wire
        if plan.storage == "stored":
            return lambda record: list(record["relationships"].get(wire) or ())
        if plan.storage != "derived" or plan.inverse is None:
            return lambda record: []
        table = self.store.table(plan.target)
        # The index object is built once and kept current by every write: safe to hold.
        index = table.reverse_index(plan.inverse)
        subset = plan.subset
        if subset is None:
            return lambda record: sorted(index.get(record["id"], ()))
        attribute, allowed = subset
        records = table.records

        def subset_ids(record: Record) -> list[int]:
            ids = index.get(record["id"], ())
            return sorted(i for i in ids if records[i]["attributes"].get(attribute) in allowed)

        return subset_ids

    def related_ids(self, record: Record, plan: RelationshipPlan) -> list[int]:
        """The ids a to-many relationship holds (stored or computed)."""
        function = self._ids.get(id(plan))  # plans live as long as the schema
        if function is None:
            function = self._ids[id(plan)] = self.ids_function(plan)
        return function(record)

    def related_identifiers(self, record: Record, plan: RelationshipPlan) -> list[tuple[str, int]]:
        """(type, id) of every record a relationship points at (for ``include``)."""
        if plan.storage == "to_one":
            value = record["relationships"].get(plan.wire)
            if value is None:
                return []
            if isinstance(value, dict):
                return [(value["type"], value["id"])]
            return [(plan.target, value)]
        return [(plan.target, i) for i in self.related_ids(record, plan)]

    # -- resources -------------------------------------------------------------------------

    def resource(
        self, type_: str, record: Record, base: str, fields: Fields | None = None
    ) -> dict[str, Any]:
        """One resource object."""
        view = self._view(type_)
        attributes = view.template.copy()
        attributes.update(record["attributes"])
        for hidden in view.hidden:
            attributes.pop(hidden, None)
        wanted = None if fields is None else fields.get(type_)
        relationships = view.relationships
        if wanted is not None:
            attributes = {k: v for k, v in attributes.items() if k in wanted}
            relationships = tuple(r for r in relationships if r[0] in wanted)
        resource: dict[str, Any] = {"type": type_, "id": record["id"], "attributes": attributes}
        if relationships or wanted is None:
            resource["relationships"] = {wire: draw(record, base) for wire, draw in relationships}
        resource["links"] = {"self": f"{base}/{view.spec.path}/{record['id']}"}
        return resource

    def included(
        self,
        type_: str,
        records: Sequence[Record],
        tree: IncludeTree,
        base: str,
        fields: Fields | None = None,
    ) -> list[dict[str, Any]]:
        """The ``included`` array for ``records`` of ``type_`` and an include tree."""
        seen = {(type_, r["id"]) for r in records}
        out: list[dict[str, Any]] = []
        level: list[tuple[str, Sequence[Record], IncludeTree]] = [(type_, records, tree)]
        while level:  # breadth first, one include depth per turn
            next_level: list[tuple[str, Sequence[Record], IncludeTree]] = []
            for source_type, sources, subtree in level:
                for name, below in subtree.items():
                    plan = self.schema.plan_by_wire[source_type][name]
                    found = self._follow(source_type, sources, plan, seen, out, base, fields)
                    for target_type, targets in found.items():
                        if below:
                            next_level.append((target_type, targets, below))
            level = next_level
        return out

    def _follow(
        self,
        source_type: str,
        sources: Sequence[Record],
        plan: RelationshipPlan,
        seen: set[tuple[str, int]],
        out: list[dict[str, Any]],
        base: str,
        fields: Fields | None,
    ) -> dict[str, list[Record]]:
        found: dict[str, list[Record]] = {}
        for source in sources:
            for target_type, target_id in self.related_identifiers(source, plan):
                target = self.store.get(target_type, target_id)
                if target is None:
                    continue
                found.setdefault(target_type, []).append(target)
                if (target_type, target_id) not in seen:
                    seen.add((target_type, target_id))
                    out.append(self.resource(target_type, target, base, fields))
        return found
