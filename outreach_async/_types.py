"""Small value types shared by the models, the query builder and the repositories.

Everything here is pure: no I/O, no aiohttp.
"""

from __future__ import annotations

import datetime as _dt
import enum
from typing import Any, Final, Literal, TypeAlias

import attrs

__all__ = [
    "IS_NULL",
    "NOT_NULL",
    "UNSET",
    "NullTest",
    "Range",
    "Ref",
    "UnsetType",
    "since",
    "until",
]


class UnsetType(enum.Enum):
    """The type of :data:`UNSET`: "not carried by the response / not set by the user".

    Distinct from ``None``, which is JSON ``null`` on the wire. An enum with one member gives a
    singleton that pickles, compares by identity and narrows under mypy (``x is UNSET``).
    """

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> Literal[False]:
        return False


UNSET: Final = UnsetType.UNSET


class NullTest(enum.Enum):
    """Filter values that test for null (`__null__`) or not null (`__notnull__`)."""

    IS_NULL = "__null__"
    NOT_NULL = "__notnull__"

    def __repr__(self) -> str:
        return self.name


IS_NULL: Final = NullTest.IS_NULL
NOT_NULL: Final = NullTest.NOT_NULL

RangeBound: TypeAlias = "int | float | str | _dt.datetime | _dt.date | None"


@attrs.frozen
class Range:
    """An inclusive range filter; ``None`` on either side means open (`inf` / `neginf`)."""

    lo: RangeBound = None
    hi: RangeBound = None

    def __attrs_post_init__(self) -> None:
        if self.lo is None and self.hi is None:
            raise ValueError("Range needs at least one bound")


def since(lo: RangeBound) -> Range:
    """Everything at or after ``lo`` (``filter[updatedAt]=lo..inf``)."""
    return Range(lo, None)


def until(hi: RangeBound) -> Range:
    """Everything at or before ``hi`` (``filter[updatedAt]=neginf..hi``)."""
    return Range(None, hi)


@attrs.frozen
class Ref:
    """A reference to a resource by type and id, used to write a relationship.

    ``Ref("task", 1, meta={"complete": True})`` carries relationship meta (logging a call that
    completes its task).
    """

    type: str
    id: int
    meta: dict[str, Any] | None = attrs.field(default=None, eq=False)
