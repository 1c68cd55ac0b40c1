"""Airbyte's ``source-outreach`` 1.0.30, run through its own entry point against a sandbox.

Runs in the connector's own environment (Python 3.10: the connector declares < 3.12 and its
airbyte-cdk 0.90 fails at import on 3.11), so it imports nothing of this project::

    python run_airbyte.py ORIGIN check|discover|read --config ... [--catalog ...]
    python run_airbyte.py ORIGIN validate CATALOG MESSAGES

The connector's manifest hard-codes ``https://api.outreach.io`` (``url_base`` and the token
endpoint). The one change made here: every HTTP request to that origin is sent to ``ORIGIN``
instead, at the ``requests`` adapter, below the connector and its CDK. Everything else (paging,
its per-stream token mints, backoff, cursors) is the connector's own. ``validate`` checks each
RECORD message of a read against its stream's JSON schema from the catalog, with the
``jsonschema`` the connector's CDK brings, and prints a JSON summary of the violations.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections import Counter
from typing import Any

OUTREACH_ORIGIN = "https://api.outreach.io"


def point_at(origin: str) -> None:
    """Send every request for Outreach's origin to ``origin`` (same path and query)."""
    adapters = importlib.import_module("requests.adapters")
    send = adapters.HTTPAdapter.send

    def send_to_origin(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.url.startswith(OUTREACH_ORIGIN + "/"):
            request.url = origin + request.url[len(OUTREACH_ORIGIN) :]
        return send(self, request, *args, **kwargs)

    adapters.HTTPAdapter.send = send_to_origin


def validate(catalog_path: str, messages_path: str) -> dict[str, Any]:
    """Records per stream, and each distinct schema violation of a read's messages (stream,
    top-level field, message, the value's JSON type) with how many records had it."""
    jsonschema = importlib.import_module("jsonschema")
    with open(catalog_path) as file:
        catalog = json.load(file)
    validators = {
        entry["stream"]["name"]: jsonschema.Draft7Validator(entry["stream"]["json_schema"])
        for entry in catalog["streams"]
    }
    records: Counter[str] = Counter()
    violations: Counter[tuple[str, str, str, str]] = Counter()
    with open(messages_path) as file:
        for line in file:
            if '"RECORD"' not in line[:40]:
                continue
            message = json.loads(line)
            if message.get("type") != "RECORD":
                continue
            stream, data = message["record"]["stream"], message["record"]["data"]
            records[stream] += 1
            for error in validators[stream].iter_errors(data):
                field = str(error.path[0]) if error.path else ""
                kind = type(error.instance).__name__
                violations[(stream, field, error.message[:200], kind)] += 1
    found = [
        {"stream": s, "field": f, "message": m, "value_type": k, "records": n}
        for (s, f, m, k), n in sorted(violations.items())
    ]
    return {"records": dict(records), "violations": found}


def main(argv: list[str]) -> None:
    origin, command, rest = argv[0], argv[1], argv[2:]
    if command == "validate":
        print(json.dumps(validate(rest[0], rest[1])))
        return
    point_at(origin)
    source = importlib.import_module("source_outreach").SourceOutreach()
    importlib.import_module("airbyte_cdk.entrypoint").launch(source, [command, *rest])


if __name__ == "__main__":
    main(sys.argv[1:])
