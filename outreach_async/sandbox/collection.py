"""Running parsed filters and sorts against the store, with an ordered-rows cache.

A page request costs a binary search and the rendering of one page: the ordered, filtered rows
of a query are computed once and kept while the store does not change (the cache keys on
:attr:`Store.version`), so paging through 100,000 records sorts them once. Relationship filters
by id use the store's reverse indexes instead of a scan (``tasks?filter[prospect][id]=18``, the
shape of every ``links.related``). Filters that look at other records (``filter[account][name]``,
reverse and derived relationships) are turned into id sets here, against the store.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from .query import (
    AnyOf,
    AttributeTarget,
    Between,
    FieldFilter,
    Filter,
    Predicate,
    Record,
    RelationshipTarget,
    ReverseTarget,
    SearchFilter,
    Test,
    array_passes,
    compile_attribute_filter,
    compile_filters,
    compile_relationship_ids,
)
from .schema import RelationshipPlan, Schema
from .sorting import SortKey, order_records
from .store import Store

__all__ = ["QueryRunner"]

_SEARCHED = ("name", "firstName", "lastName", "emails", "domain", "company")

#: Collection indexes that hide some records unless the request filters on the attribute itself:
#: "Only named accounts will show up on the collection index" (facts §6, OAS account.named), and
#: unnamed templates are "unavailable ... from the API index action" (common patterns).
_INDEX_VISIBILITY: dict[str, tuple[str, Callable[[Record], bool]]] = {
    "account": ("named", lambda r: r["attributes"].get("named") is not False),
    "template": ("name", lambda r: bool(r["attributes"].get("name"))),
}

_CacheKey = tuple[str, tuple[Filter, ...], tuple[SortKey, ...], bool]


class QueryRunner:
    """Answers "which records, in which order" for a type, a filter set and a sort."""

    def __init__(self, store: Store, schema: Schema, cache_size: int = 64) -> None:
        self.store = store
        self.schema = schema
        self._cache: OrderedDict[_CacheKey, tuple[int, list[Record]]] = OrderedDict()
        self._cache_size = cache_size
        self._kinds: dict[tuple[str, str, bool], tuple[int, bool]] = {}

    def rows(
        self,
        type_: str,
        filters: tuple[Filter, ...],
        sort: tuple[SortKey, ...],
        *,
        index: bool = True,
    ) -> list[Record]:
        """The matching records in order; ``index`` applies the collection-index visibility."""
        key: _CacheKey = (type_, filters, sort, index)
        version = self.store.version
        cached = self._cache.get(key)
        if cached is not None and cached[0] == version:
            self._cache.move_to_end(key)
            return cached[1]
        found = self._range_of_the_order(type_, filters, sort, index)
        rows = (
            found
            if found is not None
            else order_records(self._matching(type_, filters, index), sort)
        )
        self._cache[key] = (version, rows)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return rows

    def _range_of_the_order(
        self, type_: str, filters: tuple[Filter, ...], sort: tuple[SortKey, ...], index: bool
    ) -> list[Record] | None:
        """A range on the one attribute the rows are sorted by (``filter[updatedAt]=a..b&sort=
        updatedAt``: every page of an export's span) as a slice of the unfiltered order, found
        by bisection, instead of a scan and a sort of the whole table: the same rows in the same
        order, since the values in a range are contiguous in an order of those values. None
        when the query is not that, or a value cannot be compared with the bounds."""
        if len(filters) != 1 or len(sort) != 1:
            return None
        (found,), (key,) = filters, sort
        if not (
            isinstance(found, FieldFilter)
            and isinstance(found.target, AttributeTarget)
            and not found.target.is_array
            and found.target.wire == key.wire != "id"
            and len(found.tests) == 1
            and isinstance(found.tests[0], Between)
            and _INDEX_VISIBILITY.get(type_, ("",))[0] != key.wire  # shown when filtered on
        ):
            return None
        ordered = self.rows(type_, (), sort, index=index)
        # values of one kind (writes check kinds) are what makes a range contiguous in the order
        if not self._one_kind(type_, key.wire, index, ordered):
            return None
        place = _place_in_range(found.tests[0], key.wire, key.descending)
        try:
            start = bisect.bisect_left(ordered, 1, key=place)
            end = bisect.bisect_right(ordered, 1, lo=start, key=place)
        except TypeError:
            return None
        return ordered[start:end]

    def _one_kind(self, type_: str, wire: str, index: bool, rows: Sequence[Record]) -> bool:
        """Whether the non-null values of ``wire`` in ``rows`` are all of one type (looked at
        once while the store does not change)."""
        key, version = (type_, wire, index), self.store.version
        known = self._kinds.get(key)
        if known is None or known[0] != version:
            kinds = {type(r["attributes"].get(wire)) for r in rows} - {type(None)}
            known = self._kinds[key] = (version, len(kinds) <= 1)
        return known[1]

    def _matching(self, type_: str, filters: tuple[Filter, ...], index: bool) -> list[Record]:
        predicates = [self._predicate(type_, f) for f in filters]
        visibility = _INDEX_VISIBILITY.get(type_)
        if index and visibility is not None and not _filters_attribute(filters, visibility[0]):
            predicates.append(visibility[1])
        predicate = compile_filters(predicates)
        table = self.store.table(type_).records
        candidates = self._candidates(type_, filters)
        source: Iterable[Record] = (
            table.values() if candidates is None else (table[i] for i in sorted(candidates))
        )
        return [record for record in source if predicate(record)]

    def _candidates(self, type_: str, filters: tuple[Filter, ...]) -> set[int] | None:
        """Ids that can match, from reverse indexes of to-one id filters; None means all."""
        found: set[int] | None = None
        table = self.store.table(type_)
        for f in filters:
            if not isinstance(f, FieldFilter) or not _only_any_of(f):
                continue
            target = f.target
            if not isinstance(target, RelationshipTarget) or target.attribute != "id":
                continue
            plan = self.schema.plan(type_, target.relationship)
            if plan is None or plan.storage != "to_one":
                continue
            index = table.reverse_index(target.relationship)
            ids: set[int] = set()
            for value in _any_of_values(f):
                ids |= index.get(value, set())
            found = ids if found is None else found & ids
        return found

    # -- predicates ------------------------------------------------------------------------

    def _predicate(self, type_: str, f: Filter) -> Predicate:
        if isinstance(f, SearchFilter):
            return _search_predicate(f.text)
        target = f.target
        if isinstance(target, AttributeTarget):
            return compile_attribute_filter(target.wire, target.is_array, f.tests)
        if isinstance(target, ReverseTarget):
            return _id_in(self._reverse_ids(type_, target.source_type, f.tests))
        plan = self.schema.plan(type_, target.relationship)
        assert plan is not None  # the parser only accepts relationships of the type
        return self._relationship_predicate(plan, target, f.tests)

    def _relationship_predicate(
        self, plan: RelationshipPlan, target: RelationshipTarget, tests: tuple[Test, ...]
    ) -> Predicate:
        if plan.storage == "unserved":
            matches_nothing = all(array_passes([], t) for t in tests)
            return lambda record: matches_nothing
        if plan.storage == "derived":
            return _id_in(self._derived_sources(plan, target, tests))
        if target.attribute != "id":
            tests = (AnyOf(frozenset(self._matching_ids(target, tests))),)
        return compile_relationship_ids(plan.wire, plan.storage == "stored", tests)

    def _matching_ids(self, target: RelationshipTarget, tests: tuple[Test, ...]) -> set[int]:
        predicate = compile_attribute_filter(target.attribute, target.is_array, tests)
        return {r["id"] for r in self.store.table(target.target_type) if predicate(r)}

    def _derived_sources(
        self, plan: RelationshipPlan, target: RelationshipTarget, tests: tuple[Test, ...]
    ) -> set[int]:
        # Ids of the source records some of whose related targets pass the tests.
        predicate = compile_attribute_filter(target.attribute, target.is_array, tests)
        inverse = plan.inverse or ""
        subset = plan.subset
        sources: set[int] = set()
        for record in self.store.table(plan.target):
            if subset is not None and record["attributes"].get(subset[0]) not in subset[1]:
                continue
            source = record["relationships"].get(inverse)
            if source is not None and predicate(record):
                sources.add(source)
        return sources

    def _reverse_ids(self, type_: str, source_type: str, tests: tuple[Test, ...]) -> set[int]:
        # filter[prospect][id]=18 on opportunities: the ids prospect 18 stores in its lists.
        plans = [
            p for p in self.schema.plans[source_type] if p.target == type_ and p.storage == "stored"
        ]
        table = self.store.table(source_type)
        sources: Iterable[Record]
        if len(tests) == 1 and isinstance(tests[0], AnyOf):  # the links.related case: no scan
            found = (table.records.get(i) for i in tests[0].values if isinstance(i, int))
            sources = [r for r in found if r is not None]
        else:
            predicate = compile_attribute_filter("id", False, tests)
            sources = [r for r in table if predicate(r)]
        ids: set[int] = set()
        for record in sources:
            for plan in plans:
                ids.update(record["relationships"].get(plan.wire) or ())
        return ids


def _place_in_range(test: Between, wire: str, descending: bool) -> Callable[[Record], int]:
    """0, 1 or 2 for a record before, within or after ``test``'s range in the order (ascending,
    nulls last; descending, nulls first): non-decreasing along the order."""
    lo, hi = test.lo, test.hi

    def place(record: Record) -> int:
        value = record["attributes"].get(wire)
        if value is None:
            return 0 if descending else 2
        below = lo is not None and (value < lo or (value == lo and not test.lo_inclusive))
        above = hi is not None and (value > hi or (value == hi and not test.hi_inclusive))
        if below:
            return 2 if descending else 0
        if above:
            return 0 if descending else 2
        return 1

    return place


def _id_in(ids: set[int]) -> Predicate:
    return lambda record: record["id"] in ids


def _only_any_of(f: FieldFilter) -> bool:
    return len(f.tests) == 1 and isinstance(f.tests[0], AnyOf)


def _any_of_values(f: FieldFilter) -> Sequence[int]:
    test = f.tests[0]
    assert isinstance(test, AnyOf)
    return [v for v in test.values if isinstance(v, int)]


def _filters_attribute(filters: tuple[Filter, ...], wire: str) -> bool:
    return any(
        isinstance(f, FieldFilter)
        and isinstance(f.target, AttributeTarget)
        and f.target.wire == wire
        for f in filters
    )


def _search_predicate(text: str) -> Predicate:
    """``filter[q]``: a case-insensitive prefix of a name, an email, a domain or a company."""
    prefix = text.casefold()

    def matches(record: Record) -> bool:
        attributes = record["attributes"]
        for wire in _SEARCHED:
            value = attributes.get(wire)
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, str) and v.casefold().startswith(prefix) for v in values):
                return True
        return False

    return matches
