"""The value types of the generated filter TypedDicts (``ProspectFilter`` and the like).

What ``list(filter=...)`` takes, key by key; the query builder validates the same values at run
time (``_query.filter_clauses``), so a value mypy accepts is one the builder accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from .._relationships import ToOne
from .._types import NullTest, Ref

if TYPE_CHECKING:
    from ._base import Resource

__all__ = ["FilterValue", "RelationshipFilter"]

T = TypeVar("T")

#: an attribute filter: equals a value, any of several, or a null test (``IS_NULL``)
FilterValue: TypeAlias = "T | Sequence[T] | NullTest"

#: a relationship filter: a record (model, Ref, handle or id), any of several, a null test, or a
#: mapping of the target's filterable attributes (``{"id": 7}``, ``{"first_name": "Sally"}``)
RelationshipFilter: TypeAlias = (
    "Resource | Ref | ToOne[Any] | int | Sequence[Resource | Ref | int] | NullTest"
    " | Mapping[str, object]"
)
