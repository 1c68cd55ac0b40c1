"""tap-outreach 1.2.2 syncing every one of its streams from a sandbox, and what it was sent.

``python -m benchmarks.connectors.run_tap SPEC_JSON`` (SPEC: origin, OAuth credentials and a
scratch directory). The tap's origin is repointed as in the peers benchmark
(:func:`benchmarks.peers.run_tap.point_at_sandbox`) and nothing else of it changes: its own
``discover()`` catalog with every stream selected, its default page size, its own ``main()``.
Its Singer messages go to ``singer.jsonl`` in the scratch directory, as they would to a target.

The tap's ``Transformer`` silently drops any attribute its schema does not declare, so its
output alone cannot show an extra key (the mailbox passwords this harness was written to catch).
So each page the tap receives is also checked here, as the tap sees it: flattened as the tap
flattens it (id, attributes, and ``<relationship>Id`` for the foreign keys the tap keeps) and
validated against the tap's own schema for the stream. The tap's schemas predate attributes
Outreach has added since (``account.naicsCodes``, ``opportunity.forecastCategory``, ...): a key
the schema does not declare is a failure unless Outreach's OpenAPI lists it as an attribute it
returns on reads; those are reported as newer than the tap. ``result.json`` gets the counts,
those keys and the first violations.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.peers.run_tap import point_at_sandbox
from outreach_async.models import ALL_SPECS
from outreach_async.sandbox.schema import WRITE_ONLY

tap_outreach = importlib.import_module("tap_outreach")
tap_discover = importlib.import_module("tap_outreach.discover")
tap_sync = importlib.import_module("tap_outreach.sync")
jsonschema = importlib.import_module("jsonschema")
requests = importlib.import_module("requests")

#: violations kept in result.json (the count is always exact)
_KEEP = 20


def full_catalog() -> dict[str, Any]:
    """The tap's discovered catalog with every stream selected."""
    catalog: dict[str, Any] = tap_discover.discover().to_dict()
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if not entry["breadcrumb"]:  # the stream itself
                entry["metadata"]["selected"] = True
    return catalog


def flatten(record: dict[str, Any], fks: list[str]) -> dict[str, Any]:
    """A JSON:API resource as tap-outreach's ``process_records`` flattens it."""
    flat: dict[str, Any] = {"id": record["id"], **record["attributes"]}
    for name, value in (record.get("relationships") or {}).items():
        key = f"{name}Id"
        data = value.get("data") if isinstance(value, dict) else None
        if key in fks and isinstance(data, dict):
            flat[key] = data["id"]
    return flat


class PageChecker:
    """Validates every record of every API page the tap receives against the tap's schema."""

    def __init__(self, catalog: dict[str, Any]) -> None:
        configs = tap_sync.STREAM_CONFIGS
        self.stream_by_path = {f"/api/v2/{c['url_path']}": name for name, c in configs.items()}
        self.validators = {
            s["tap_stream_id"]: jsonschema.Draft4Validator(s["schema"]) for s in catalog["streams"]
        }
        self.declared = {
            s["tap_stream_id"]: set(s["schema"]["properties"]) for s in catalog["streams"]
        }
        self.readable = {name: _readable(c["url_path"]) for name, c in configs.items()}
        self.fks = {name: list(c.get("fks", ())) for name, c in configs.items()}
        self.records: Counter[str] = Counter()
        self.invalid: Counter[str] = Counter()
        self.newer: dict[str, set[str]] = {}
        self.examples: list[str] = []

    def check(self, url: str, body: Any) -> None:
        stream = self.stream_by_path.get(urlsplit(url).path)
        if stream is None or not isinstance(body, dict):
            return
        for record in body.get("data") or ():
            self.records[stream] += 1
            flat = flatten(record, self.fks[stream])
            errors = [e.message for e in self.validators[stream].iter_errors(flat)]
            undeclared = set(flat) - self.declared[stream]
            if undeclared and undeclared <= self.readable[stream]:
                self.newer.setdefault(stream, set()).update(undeclared)
                errors = [e for e in errors if "Additional properties" not in e]
            if errors:
                self.invalid[stream] += 1
                if len(self.examples) < _KEEP:
                    self.examples.append(f"{stream} {record['id']}: {errors[0]}")


def _readable(path: str) -> set[str]:
    """The attributes Outreach's OpenAPI gives the resource at ``path``, less the write-only."""
    spec = next(s for s in ALL_SPECS.values() if s.path == path)
    return set(spec.attribute_by_wire) - WRITE_ONLY.get(spec.type, frozenset())


def observe(checker: PageChecker) -> None:
    """Hand every JSON answer the tap's session receives to ``checker`` (after it is received;
    what the tap gets is untouched)."""
    request = requests.Session.request

    def observed(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        response = request(self, method, url, *args, **kwargs)
        if method == "GET" and response.status_code == 200:
            checker.check(response.url, response.json())
        return response

    requests.Session.request = observed


def main() -> None:
    spec = json.loads(sys.argv[1])
    scratch = Path(spec["scratch"])
    config = {
        "start_date": "2000-01-01T00:00:00Z",
        "client_id": spec["client_id"],
        "client_secret": spec["client_secret"],
        "redirect_uri": "http://127.0.0.1/callback",
        "refresh_token": spec["refresh_token"],
    }
    catalog = full_catalog()
    (scratch / "tap-config.json").write_text(json.dumps(config))
    (scratch / "tap-catalog.json").write_text(json.dumps(catalog))
    point_at_sandbox(spec["origin"])
    checker = PageChecker(catalog)
    observe(checker)
    sys.argv = ["tap-outreach", "--config", str(scratch / "tap-config.json")]
    sys.argv += ["--catalog", str(scratch / "tap-catalog.json")]
    error = None
    with (scratch / "singer.jsonl").open("w") as out, contextlib.redirect_stdout(out):
        try:
            tap_outreach.main()
        except Exception as exc:  # reported, not raised: the harness says what failed
            error = f"{type(exc).__name__}: {exc}"
    result = {
        "api_records": dict(checker.records),
        "api_invalid": dict(checker.invalid),
        "api_examples": checker.examples,
        "api_newer_keys": {stream: sorted(keys) for stream, keys in checker.newer.items()},
        "error": error,
    }
    (scratch / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
