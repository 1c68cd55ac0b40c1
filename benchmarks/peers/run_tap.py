"""tap-outreach 1.2.2 (the Singer tap), run through its own ``main()`` against the sandbox.

The tap hard-codes Outreach's origin: ``OutreachClient.BASE_URL`` is a class constant and
``refresh()`` posts to the literal ``https://api.outreach.io/oauth/token``. This runner sets the
constant and rewrites that one origin on the tap's ``requests`` calls to the sandbox's; nothing
else of the tap changes. It gets a refresh token and client credentials the sandbox issued, a
catalog from its own ``discover()`` with only ``prospects`` selected, and its ``page_size``
config set as the other clients' page size. Its Singer messages (stdout) go to a file, as they
would to a target; the harness reads the record ids from there.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from ._protocol import RunResult, RunSpec, read_spec, timed, wait_for_go, write_result

OUTREACH_ORIGIN = "https://api.outreach.io"

tap_outreach = importlib.import_module("tap_outreach")
tap_client = importlib.import_module("tap_outreach.client")
tap_discover = importlib.import_module("tap_outreach.discover")
requests = importlib.import_module("requests")


def point_at_sandbox(origin: str) -> None:
    """Send the tap's API and token requests to ``origin`` instead of Outreach."""
    tap_client.OutreachClient.BASE_URL = f"{origin}/api/v2/"
    send = requests.Session.request

    def request(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(OUTREACH_ORIGIN + "/"):
            url = origin + url.removeprefix(OUTREACH_ORIGIN)
        return send(self, method, url, *args, **kwargs)

    requests.Session.request = request


def prospects_catalog() -> dict[str, Any]:
    """The tap's discovered catalog with only the prospects stream, selected."""
    catalog: dict[str, Any] = tap_discover.discover().to_dict()
    streams = [s for s in catalog["streams"] if s["tap_stream_id"] == "prospects"]
    for entry in streams[0]["metadata"]:
        if not entry["breadcrumb"]:  # the stream itself (a tuple before JSON)
            entry["metadata"]["selected"] = True
    return {"streams": streams}


def write_inputs(spec: RunSpec) -> list[str]:
    """The tap's config and catalog files; returns its command line."""
    oauth = spec["oauth"]
    config = {
        "start_date": "2000-01-01T00:00:00Z",
        "client_id": oauth["client_id"],
        "client_secret": oauth["client_secret"],
        "redirect_uri": "http://127.0.0.1/callback",
        "refresh_token": oauth["refresh_token"],
        "page_size": spec["page_size"],
    }
    config_path = Path(spec["scratch"], "tap-config.json")
    config_path.write_text(json.dumps(config))
    catalog_path = Path(spec["scratch"], "tap-catalog.json")
    catalog_path.write_text(json.dumps(prospects_catalog()))
    return ["tap-outreach", "--config", str(config_path), "--catalog", str(catalog_path)]


def count_records(path: Path) -> int:
    """RECORD messages in the tap's output."""
    with path.open("rb") as messages:
        return sum(1 for line in messages if line.startswith(b'{"type": "RECORD"'))


def main() -> None:
    """One run of the tap as the spec says; both modes are the same for a tap (it exports)."""
    spec = read_spec()
    point_at_sandbox(spec["oauth"]["origin"])
    sys.argv = write_inputs(spec)
    wait_for_go()
    path = Path(spec["scratch"], "singer.jsonl")
    with path.open("w") as out, contextlib.redirect_stdout(out):
        elapsed, error = timed(tap_outreach.main)
    records = count_records(path)
    result = RunResult(
        records=records,
        elapsed=elapsed,
        error=error,
        artefact="singer",
        path=str(path),
        peak_rss_mb=0,
    )
    write_result(spec, result)


if __name__ == "__main__":
    main()
