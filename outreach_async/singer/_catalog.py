"""The Singer catalog: one stream per listable resource type, JSON Schemas from the specs. Pure.

A stream's records are the export's flat records (:mod:`outreach_async.export`): ``type``,
``id``, the attributes by wire (camelCase) name, each relationship as an id or a list of ids.
Stream names are the resource paths in snake_case (``prospects``, ``sequence_states``), as
tap-outreach names them, so a Meltano project keeps its stream selection when it swaps taps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from outreach_async import ResourceSpec
from outreach_async._wire import camel_to_snake
from outreach_async.models import ALL_SPECS

__all__ = ["Stream", "catalog", "schema", "selected_streams", "stream_name"]

Document = dict[str, Any]

_SCALARS: dict[str, Document] = {
    "string": {"type": ["null", "string"]},
    "integer": {"type": ["null", "integer"]},
    "number": {"type": ["null", "number"]},
    "boolean": {"type": ["null", "boolean"]},
    "datetime": {"type": ["null", "string"], "format": "date-time"},
    "date": {"type": ["null", "string"], "format": "date"},
    "object": {"type": ["null", "object"]},
    "any": {},
}


def stream_name(spec: ResourceSpec) -> str:
    """``sequenceStates`` -> ``sequence_states``."""
    return camel_to_snake(spec.path)


def _attribute_schema(kind: str, item_kind: str) -> Document:
    if kind == "array":
        items = _SCALARS.get(item_kind, {}) if item_kind != "array" else {}
        return {"type": ["null", "array"], "items": items}
    return dict(_SCALARS.get(kind, {}))


def schema(spec: ResourceSpec) -> Document:
    """The JSON Schema of one stream's records."""
    properties: Document = {"type": {"type": ["string"]}, "id": {"type": ["integer"]}}
    for attribute in spec.attributes:
        properties[attribute.wire] = _attribute_schema(attribute.kind, attribute.item_kind)
    for relationship in spec.relationships:
        if relationship.to_many and relationship.links_only:
            continue
        properties[relationship.wire] = (
            {"type": ["null", "array"], "items": {"type": ["integer"]}}
            if relationship.to_many
            else {"type": ["null", "integer"]}
        )
    return {"type": ["object"], "properties": properties}


def _metadata(spec: ResourceSpec) -> list[Document]:
    root: Document = {
        "inclusion": "available",
        "table-key-properties": ["id"],
        "forced-replication-method": "INCREMENTAL",
    }
    if spec.watermark is not None:
        root["valid-replication-keys"] = [spec.watermark]
    automatic = {"id", "type", spec.watermark}
    fields = [
        {
            "breadcrumb": ["properties", name],
            "metadata": {"inclusion": "automatic" if name in automatic else "available"},
        }
        for name in schema(spec)["properties"]
    ]
    return [{"breadcrumb": [], "metadata": root}, *fields]


def listable_specs() -> list[ResourceSpec]:
    return sorted(
        (s for s in ALL_SPECS.values() if "list" in s.operations), key=lambda s: stream_name(s)
    )


def catalog() -> Document:
    """What ``--discover`` prints."""
    return {
        "streams": [
            {
                "tap_stream_id": stream_name(spec),
                "stream": stream_name(spec),
                "key_properties": ["id"],
                "schema": schema(spec),
                "metadata": _metadata(spec),
            }
            for spec in listable_specs()
        ]
    }


@attrs.frozen
class Stream:
    """A stream the catalog selects, with the fields it keeps (None: all)."""

    name: str
    spec: ResourceSpec
    schema: Document
    fields: tuple[str, ...] | None


def _selected(entries: Iterable[Mapping[str, Any]], breadcrumb: list[str]) -> bool | None:
    for entry in entries:
        if list(entry.get("breadcrumb", [])) == breadcrumb:
            value = entry.get("metadata", {}).get("selected")
            return value if isinstance(value, bool) else None
    return None


def selected_streams(document: Mapping[str, Any]) -> list[Stream]:
    """The streams a catalog selects (root metadata ``selected: true``, or the legacy
    ``schema.selected``), each with the fields not deselected. Unknown stream names raise
    ValueError naming them."""
    by_name = {stream_name(s): s for s in listable_specs()}
    chosen: list[Stream] = []
    for entry in document.get("streams", []):
        name = entry.get("tap_stream_id") or entry.get("stream")
        metadata = entry.get("metadata", [])
        picked = _selected(metadata, []) or entry.get("schema", {}).get("selected") is True
        if not picked:
            continue
        if name not in by_name:
            raise ValueError(f"the catalog selects an unknown stream {name!r}")
        spec = by_name[name]
        full = schema(spec)
        dropped = {
            str(e["breadcrumb"][1])
            for e in metadata
            if len(e.get("breadcrumb", [])) == 2 and e.get("metadata", {}).get("selected") is False
        } - {"id", "type", spec.watermark}
        kept = [p for p in full["properties"] if p not in dropped]
        properties = {p: full["properties"][p] for p in kept}
        fields = tuple(p for p in kept if p not in ("id", "type")) if dropped else None
        chosen.append(Stream(name, spec, {**full, "properties": properties}, fields))
    return chosen
