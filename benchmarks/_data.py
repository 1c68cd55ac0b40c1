"""Realistic JSON:API pages for the client benchmarks, built from the generated specs.

A prospect carries every attribute (230 with the custom fields, most of them null as in real
tenants) and all 21 relationships: 1000 of them make a page of about 7 MB (the attribute
names alone are 4 KB a record).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

from outreach_async import AttributeSpec, RelationshipSpec, ResourceSpec
from outreach_async.models import Prospect

BASE = "http://127.0.0.1:{port}/api/v2"
_WORDS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell"]


def _value(attribute: AttributeSpec, rng: random.Random, i: int) -> Any:
    if attribute.name.startswith("custom"):
        return f"c{i % 97}" if int(attribute.name[6:]) <= 5 else None
    if rng.random() < 0.5:  # real tenants leave about half of the standard fields empty
        return None
    kind = attribute.kind
    if kind == "datetime":
        moment = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randrange(10**8))
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if kind == "date":
        return "1990-05-17"
    if kind == "integer":
        return rng.randrange(1000)
    if kind == "number":
        return round(rng.random() * 100, 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return [f"{rng.choice(_WORDS)}{i}@example.com"]
    if kind == "object":
        return {"k": i}
    return f"{rng.choice(_WORDS)} {i % 1000}"


def _relationship(rel: RelationshipSpec, owner_id: int, base: str) -> dict[str, Any]:
    related = f"{base}/{rel.target}s?filter%5Bprospect%5D%5Bid%5D={owner_id}"
    if rel.links_only:
        return {"links": {"related": related}}
    if rel.to_many:
        return {"data": [], "links": {"related": related}, "meta": {"count": 0}}
    return {"data": {"type": rel.target, "id": owner_id % 50 + 1}}


def resource_object(spec: ResourceSpec, id_: int, rng: random.Random, base: str) -> dict[str, Any]:
    """One resource object with every attribute and relationship."""
    return {
        "type": spec.type,
        "id": id_,
        "attributes": {a.wire: _value(a, rng, id_) for a in spec.attributes},
        "relationships": {r.wire: _relationship(r, id_, base) for r in spec.relationships},
        "links": {"self": f"{base}/{spec.path}/{id_}"},
    }


def prospect_pages(total: int, page_size: int, port: int, *, seed: int = 7) -> list[bytes]:
    """The encoded pages of a ``total``-prospect collection, linked by absolute next links."""
    rng = random.Random(seed)
    base = BASE.format(port=port)
    spec = Prospect.__resource_spec__
    pages: list[bytes] = []
    count = (total + page_size - 1) // page_size
    for index in range(count):
        first = index * page_size
        data = [
            resource_object(spec, first + i + 1, rng, base)
            for i in range(min(page_size, total - first))
        ]
        links = {"first": f"{base}/prospects?page%5Bsize%5D={page_size}"}
        if index + 1 < count:
            links["next"] = (
                f"{base}/prospects?page%5Bafter%5D={index + 1}&page%5Bsize%5D={page_size}"
            )
        pages.append(json.dumps({"data": data, "links": links}).encode())
    return pages
