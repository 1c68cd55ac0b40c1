"""What ``Repository.resolve`` needs besides the requests: which handles the responses already
answer, and how the remaining ids are cut into ``filter[id]`` batches. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

from .._exceptions import QueryError
from .._relationships import ToOne
from .._schema import ResourceSpec
from ..models._base import Resource

__all__ = ["MAX_BATCH_CHARS", "MAX_BATCH_IDS", "id_batches", "resolve_locally"]

R = TypeVar("R", bound=Resource)

# Outreach serves at most 1000 records per page; beyond ~6000 characters of ids a URL risks
# hitting proxies' limits (8 KiB is common), so batches also stop there.
MAX_BATCH_IDS = 1000
MAX_BATCH_CHARS = 6000


def resolve_locally(
    spec: ResourceSpec, handles: Sequence[ToOne[R] | None]
) -> tuple[dict[int, R], list[int]]:
    """What the handles' responses already hold (by id), and the ids left to fetch: each
    once, in first-seen order."""
    found: dict[int, R] = {}
    wanted: dict[int, None] = {}
    for handle in handles:
        if handle is None:
            continue
        check_handle(spec, handle)
        if handle.id is None or handle.id in found:
            continue
        local = handle._target or _from_included(handle)
        if local is not None:
            found[handle.id] = local  # type: ignore[assignment]
            wanted.pop(handle.id, None)
        else:
            wanted[handle.id] = None
    return found, list(wanted)


def check_handle(spec: ResourceSpec, handle: object) -> None:
    """A to-one handle of ``spec``'s type, or :class:`QueryError` before any request."""
    # Ids are only unique per type: an account id looked up among prospects would find
    # some other prospect, silently.
    if not isinstance(handle, ToOne):
        raise QueryError(f"resolve takes to-one handles, got {type(handle).__name__}")
    if handle.type != spec.type:
        raise QueryError(
            f"{spec.path}.resolve got a {handle.type!r} handle; resolve it with the "
            f"repository of {handle.type!r} resources"
        )


def _from_included(handle: ToOne[Any]) -> Resource | None:
    context = handle._context
    if context is None or handle.id is None:
        return None
    return cast("Resource | None", context.included(handle.type, handle.id))  # models only


def id_batches(ids: list[int]) -> list[list[int]]:
    """``ids`` cut, in order, into runs of at most 1000 whose ``filter[id]`` value (ids joined
    by commas) stays within the character budget."""
    batches: list[list[int]] = []
    current: list[int] = []
    chars = 0
    for id_ in ids:
        # The id and its comma: yarl sends "," as is in a query (a sub-delimiter, RFC 3986), so
        # 1000 five-digit ids fit one request. (Counting it as "%2C" cut them at 750.)
        width = len(str(id_)) + 1
        if current and (len(current) >= MAX_BATCH_IDS or chars + width > MAX_BATCH_CHARS):
            batches.append(current)
            current, chars = [], 0
        current.append(id_)
        chars += width
    if current:
        batches.append(current)
    return batches
