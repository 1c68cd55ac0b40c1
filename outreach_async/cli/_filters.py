"""``--filter key=value`` arguments as the ``filter`` mapping ``list()`` takes. Pure.

Values are written as in Outreach's legacy query syntax (facts §4): ``a,b`` is any of,
``lo..hi`` a range (``inf``/``neginf`` or an empty side for open), ``__null__``/``null`` and
``__notnull__`` test for null. Keys are attribute or relationship names in either case; a
relationship's attributes are reached with a dot (``account.name=Acme``) and a bare
relationship means its id (``owner=1``). Text becomes the attribute's kind here (ints, numbers,
booleans); the query builder then checks names and values against the spec.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from outreach_async import IS_NULL, NOT_NULL, QueryError, Range

if TYPE_CHECKING:
    from outreach_async._schema import AttributeKind, ResourceSpec

__all__ = ["parse_filters"]

_NULLS = {"__null__": IS_NULL, "null": IS_NULL, "__notnull__": NOT_NULL}
_OPEN = {"", "inf", "neginf", "-inf"}


def parse_filters(spec: ResourceSpec, items: Iterable[str]) -> dict[str, Any]:
    """``["title=CEO", "owner=1,2", "account.name=Acme"]`` -> a ``filter`` mapping."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise QueryError(f"--filter takes key=value, got {item!r}")
        head, dot, attribute = key.partition(".")
        relationship = spec.relationship(head)
        if dot and relationship is not None:
            nested = out.setdefault(head, {})
            if not isinstance(nested, dict):
                raise QueryError(f"--filter {head} is given both as an id and by attribute")
            nested[attribute] = _value(text, "integer" if attribute == "id" else "any")
        elif dot:
            raise QueryError(f"--filter {key}: {head!r} is not a relationship of {spec.type}")
        else:
            if head in out:
                raise QueryError(f"--filter {head} is given more than once")
            out[head] = _value(text, _kind(spec, head))
    return out


def _kind(spec: ResourceSpec, name: str) -> AttributeKind:
    attribute = spec.attribute(name)
    if attribute is not None:
        return attribute.item_kind if attribute.kind == "array" else attribute.kind
    if name == "q":
        return "string"  # the search of the few searchable types (the builder checks which)
    if name == "id" or spec.relationship(name) is not None:
        return "integer"  # the ids of the records, or of a relationship's targets
    # Checked here, before the value: a typo's value would otherwise be read as an id.
    raise QueryError(f"cannot filter {spec.type} by {name!r}: no such field" + _closest(spec, name))


def _closest(spec: ResourceSpec, name: str) -> str:
    """``; did you mean title?``: the nearest filterable name, in the case the user wrote."""
    camel = any(c.isupper() for c in name)
    fields = [(a.name, a.wire) for a in spec.attributes if a.filterable]
    fields += [(r.name, r.wire) for r in spec.relationships if r.filterable]
    names = {"id"} | {wire if camel else name for name, wire in fields}
    close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _value(text: str, kind: AttributeKind) -> Any:
    text = text.strip()
    if text in _NULLS:
        return _NULLS[text]
    if ".." in text and kind != "string":
        lo, _, hi = text.partition("..")
        if lo.strip() in _OPEN and hi.strip() in _OPEN:
            raise QueryError(f"the range {text!r} has no bound")
        return Range(_bound(lo, kind), _bound(hi, kind))
    if "," in text:
        return [_scalar(part, kind) for part in text.split(",")]
    return _scalar(text, kind)


def _bound(text: str, kind: AttributeKind) -> Any:
    return None if text.strip() in _OPEN else _scalar(text, kind)


def _scalar(text: str, kind: AttributeKind) -> Any:
    text = text.strip()
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        raise QueryError(
            f"{text!r} is not a {'whole ' if kind == 'integer' else ''}number"
        ) from None
    if kind == "boolean":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise QueryError(f"{text!r} is not true or false")
        return lowered == "true"
    return text
