"""Query parameters for listing and fetching: ``filter``, ``sort``, ``include``, ``fields``,
``page[size]`` and ``count``, built from Python values and checked against a :class:`ResourceSpec`.

Pure: no I/O. A bad name or value raises :class:`QueryError` (naming the valid choices) before any
request exists. The facts implemented here are in ``outreach-api-facts.md``: §3 (page size 1..1000,
``count``), §4 (sort; the filters are built in :mod:`._filters`) and §5 (include, sparse
fieldsets).

Parameters come back as ``(name, value)`` pairs, unencoded, ordered as Rails' ``to_query`` orders
them (by the percent-encoded name; repeated ``[]`` values keep their order), so a query we build
compares equal to the one Outreach echoes back in ``links.next``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeAlias

from ._exceptions import QueryError, valid_choices
from ._filters import Params, filter_params
from ._schema import ResourceSpec
from ._wire import snake_to_camel

if TYPE_CHECKING:
    from .models._base import Resource

__all__ = [
    "MAX_PAGE_SIZE",
    "FieldsKey",
    "Params",
    "build_get_params",
    "build_list_params",
    "camel_name",
]

#: a sparse-fieldset key: a model class, a resource type name, or a spec
FieldsKey: TypeAlias = "type[Resource] | ResourceSpec | str"

#: Outreach's largest page (§3); the default is 50
MAX_PAGE_SIZE = 1000
SORT_BY_RELATIONSHIP_DEPRECATED = (
    "sorting by a relationship attribute was deprecated by Outreach in May 2023"
)


# --- public entry points ---------------------------------------------------------------------


def build_list_params(
    spec: ResourceSpec,
    *,
    filter: Mapping[str, object] | None = None,
    sort: str | Sequence[str] | None = None,
    include: str | Sequence[str] | None = None,
    fields: Mapping[FieldsKey, str | Sequence[str]] | None = None,
    page_size: int | None = None,
    count: bool | None = None,
    specs: Mapping[str, ResourceSpec],
) -> Params:
    """The query parameters of ``GET /{path}``, validated against ``spec``.

    ``specs`` maps each resource type to its spec, to check include paths hop by hop and fields
    keyed by type. Raises :class:`QueryError` for any name or value the API would not accept.
    """
    params: Params = []
    if filter:
        params += filter_params(spec, filter, specs)
    if sort is not None:
        params += [("sort", sort_value(spec, sort))]
    params += _get_params(spec, include, fields, specs)
    if page_size is not None:
        params += [("page[size]", page_size_value(page_size))]
    if count is not None:
        params += [("count", _bool_value(count, "count"))]
    return rails_order(params)


def build_get_params(
    spec: ResourceSpec,
    *,
    include: str | Sequence[str] | None = None,
    fields: Mapping[FieldsKey, str | Sequence[str]] | None = None,
    specs: Mapping[str, ResourceSpec],
) -> Params:
    """The query parameters of ``GET /{path}/{id}``: ``include`` and ``fields`` only."""
    return rails_order(_get_params(spec, include, fields, specs))


def camel_name(spec: ResourceSpec, name: str) -> str:
    """The wire (camelCase) name of an attribute or relationship given in either case."""
    found = spec.attribute(name) or spec.relationship(name)
    if found is None:
        choices = [a.name for a in spec.attributes] + [r.name for r in spec.relationships]
        raise QueryError(
            f"{spec.type} has no attribute or relationship {name!r}" + valid_choices(choices)
        )
    return found.wire


def rails_order(params: Iterable[tuple[str, str]]) -> Params:
    """Order parameters as Rails' ``to_query`` does: by percent-encoded name, stably."""
    return sorted(params, key=lambda item: urllib.parse.quote(item[0], safe="") + "=")


# --- sort, include, fields, page size ----------------------------------------------------------


def sort_value(spec: ResourceSpec, sort: str | Sequence[str]) -> str:
    """``-updatedAt,name`` from ``"-updated_at"``, ``"-updatedAt,name"`` or a list of keys."""
    return ",".join(_sort_key(spec, key) for key in split_names(sort, "sort"))


def _sort_key(spec: ResourceSpec, key: str) -> str:
    descending = key.startswith("-")
    name = key.removeprefix("-")
    if "." in name:  # facts §4: sort=prospect.firstName is gone
        raise QueryError(f"cannot sort {spec.type} by {name!r}: {SORT_BY_RELATIONSHIP_DEPRECATED}")
    attribute = spec.attribute(name)
    if attribute is not None and attribute.sortable:
        wire = attribute.wire
    elif attribute is None and name == "id":
        wire = "id"
    else:
        problem = "is not sortable" if attribute is not None else "is not an attribute"
        choices = ["id"] + [a.name for a in spec.attributes if a.sortable]
        raise QueryError(
            f"cannot sort {spec.type} by {name!r}: it {problem}" + valid_choices(choices)
        )
    return ("-" if descending else "") + wire


def include_value(
    spec: ResourceSpec, include: str | Sequence[str], specs: Mapping[str, ResourceSpec]
) -> str:
    """``account,account.owner``: relationship paths checked hop by hop, in wire names."""
    paths = [include_path(spec, path, specs) for path in split_names(include, "include")]
    return ",".join(dict.fromkeys(paths))


def include_path(spec: ResourceSpec, path: str, specs: Mapping[str, ResourceSpec]) -> str:
    """One dotted include path (``account.owner``) in wire names, validated hop by hop."""
    current: ResourceSpec | None = spec
    wires: list[str] = []
    for hop in path.split("."):
        if current is None:
            raise QueryError(f"include {path!r}: cannot check {hop!r}, unknown type")
        relationship = current.relationship(hop)
        if relationship is None:
            raise QueryError(
                f"include {path!r}: {current.type} has no relationship {hop!r}"
                + valid_choices(r.name for r in current.relationships)
            )
        wires.append(relationship.wire)
        current = specs.get(relationship.target)
    return ".".join(wires)


def fields_params(
    fields: Mapping[FieldsKey, str | Sequence[str]], specs: Mapping[str, ResourceSpec]
) -> Params:
    """``fields[type]=a,b`` for each type; names are attributes or relationships of the type."""
    params: dict[str, str] = {}
    for key, names in fields.items():
        spec = fields_spec(key, specs)
        param = f"fields[{spec.type}]"
        if param in params:
            raise QueryError(f"{param} is given more than once")
        wires = [camel_name(spec, name) for name in split_names(names, param)]
        if not wires:
            raise QueryError(f"{param} names no fields")
        params[param] = ",".join(dict.fromkeys(wires))
    return list(params.items())


def fields_spec(key: object, specs: Mapping[str, ResourceSpec]) -> ResourceSpec:
    """The spec a ``fields`` key names: a spec, a model class, or a type name in either case."""
    if isinstance(key, ResourceSpec):
        return key
    spec = getattr(key, "__resource_spec__", None)
    if isinstance(spec, ResourceSpec):
        return spec
    if isinstance(key, str):
        found = specs.get(key) or specs.get(snake_to_camel(key))
        if found is not None:
            return found
    raise QueryError(f"fields: unknown resource type {key!r}" + valid_choices(specs))


def page_size_value(page_size: object) -> str:
    """``page[size]``: an int from 1 to 1000 (§3)."""
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise QueryError(f"page_size must be an int, got {page_size!r}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise QueryError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    return str(page_size)


def _bool_value(value: object, name: str) -> str:
    if not isinstance(value, bool):
        raise QueryError(f"{name} must be a bool, got {value!r}")
    return "true" if value else "false"


def _get_params(
    spec: ResourceSpec,
    include: str | Sequence[str] | None,
    fields: Mapping[FieldsKey, str | Sequence[str]] | None,
    specs: Mapping[str, ResourceSpec],
) -> Params:
    params: Params = []
    if include is not None and (value := include_value(spec, include, specs)):
        params.append(("include", value))
    if fields:
        params += fields_params(fields, specs)
    return params


# --- names -------------------------------------------------------------------------------------


def split_names(value: object, what: str) -> list[str]:
    """Names from a str (comma-separated allowed) or a list of them; blanks are errors."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence | set | frozenset):
        raise QueryError(f"{what} expects a str or a list of str, got {value!r}")
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise QueryError(f"{what} expects a str or a list of str, got {item!r}")
        names += [part.strip() for part in item.split(",")]
    if any(not name for name in names):
        raise QueryError(f"{what} has an empty name in {value!r}")
    return names
