"""Running the two connectors against a sandbox, each in its own process, and what they said.

:func:`run_tap` runs tap-outreach in this environment (``nox -s connectors`` installs it);
:class:`Airbyte` runs ``source-outreach`` in a Python 3.10 environment of its own. Both get
OAuth credentials the sandbox issued (a refresh token, the client id and secret) and the
sandbox's origin; each repoints only Outreach's origin (see their runner modules).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import attrs

from outreach_async import ResourceSpec
from outreach_async.models import ALL_SPECS
from outreach_async.sandbox import Sandbox, SandboxConfig
from outreach_async.sandbox.cli import build_parser, config_from_args

__all__ = [
    "Airbyte",
    "AirbyteRead",
    "TapSync",
    "credentials",
    "default_config",
    "run_tap",
    "stream_spec",
]

RUNNER = Path(__file__).with_name("run_airbyte.py")
#: a whole sync or read must end within this (the throttled Airbyte read takes about 35 min)
TIME_CAP = 3600.0


def default_config(**changes: object) -> SandboxConfig:
    """``outreach-async sandbox serve``'s defaults on a free port, with ``changes``."""
    config = config_from_args(build_parser().parse_args(["--port", "0"]))
    for name, value in changes.items():
        setattr(config, name, value)
    return config


def credentials(sandbox: Sandbox) -> dict[str, str]:
    """What a connector that mints its own tokens needs: origin, client, a fresh refresh token."""
    authority = sandbox.authority
    return {
        "origin": sandbox.origin,
        "client_id": authority.client_id,
        "client_secret": authority.client_secret,
        "refresh_token": authority.issue_refresh_token(),
    }


# -- tap-outreach ------------------------------------------------------------------------------


@attrs.frozen
class TapSync:
    """One tap-outreach sync: its records and schema violations per stream, and its error."""

    records: dict[str, int]
    invalid_records: dict[str, int]
    api_records: dict[str, int]
    api_invalid: dict[str, int]
    #: keys Outreach returns that the tap's (older) schemas do not declare, by stream
    api_newer_keys: dict[str, list[str]]
    examples: list[str]
    error: str | None
    seconds: float


def run_tap(sandbox: Sandbox, scratch: Path) -> TapSync:
    """Sync every tap-outreach stream from ``sandbox``; check its output against its schemas."""
    scratch.mkdir(parents=True, exist_ok=True)
    spec = {**credentials(sandbox), "scratch": str(scratch)}
    command = [sys.executable, "-m", "benchmarks.connectors.run_tap", json.dumps(spec)]
    started = time.monotonic()
    with (scratch / "tap.log").open("w") as log:  # the tap logs every request
        subprocess.run(command, check=True, timeout=TIME_CAP, stdout=log, stderr=log)
    seconds = time.monotonic() - started
    result = json.loads((scratch / "result.json").read_text())
    records, invalid, examples = _check_singer(scratch / "singer.jsonl")
    return TapSync(
        records=records,
        invalid_records=invalid,
        api_records=result["api_records"],
        api_invalid=result["api_invalid"],
        api_newer_keys=result["api_newer_keys"],
        examples=examples + result["api_examples"],
        error=result["error"],
        seconds=seconds,
    )


def _check_singer(path: Path) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """RECORD messages per stream, and those that fail the stream's SCHEMA message."""
    # the tap's own validator (singer-python pins jsonschema); this runs in its environment
    jsonschema = importlib.import_module("jsonschema")

    validators: dict[str, Any] = {}
    records: Counter[str] = Counter()
    invalid: Counter[str] = Counter()
    examples: list[str] = []
    with path.open() as messages:
        for line in messages:
            message = json.loads(line)
            if message["type"] == "SCHEMA":
                validators[message["stream"]] = jsonschema.Draft4Validator(message["schema"])
            elif message["type"] == "RECORD":
                stream = message["stream"]
                records[stream] += 1
                errors = [e.message for e in validators[stream].iter_errors(message["record"])]
                if errors:
                    invalid[stream] += 1
                    examples.append(f"{stream} {message['record'].get('id')}: {errors[0]}")
    return dict(records), dict(invalid), examples[:20]


# -- Airbyte -----------------------------------------------------------------------------------


@attrs.frozen
class AirbyteRead:
    """One ``read``: records per stream, schema violations, the log's errors, its time.

    ``disagreements`` are violations where the connector's schema contradicts Outreach's
    OpenAPI (``templates.tags`` declared a string; Outreach's OpenAPI, and the connector's
    own prospects, accounts and sequences schemas, say an array of strings) and the record
    follows the OpenAPI; ``invalid`` are all the others.
    """

    records: dict[str, int]
    invalid: list[str]
    disagreements: list[str]
    errors: list[str]
    seconds: float


def stream_spec(stream: str) -> ResourceSpec | None:
    """The resource a connector's stream reads (``call_dispositions`` -> callDisposition)."""
    path = "".join(w if i == 0 else w.title() for i, w in enumerate(stream.split("_")))
    return next((s for s in ALL_SPECS.values() if s.path == path), None)


def _openapi_kind(stream: str, field: str) -> str | None:
    """The kind Outreach's OpenAPI gives ``field`` of a stream's resource (None if unknown)."""
    spec = stream_spec(stream)
    attribute = spec.attribute_by_wire.get(field) if spec else None
    return attribute.kind if attribute else None


def _sort_violations(found: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    invalid: list[str] = []
    disagreements: list[str] = []
    for v in found:
        text = f"{v['stream']}.{v['field']}: {v['message']} ({v['records']} records)"
        follows_openapi = v["value_type"] == "list" and _openapi_kind(v["stream"], v["field"])
        (disagreements if follows_openapi == "array" else invalid).append(text)
    return invalid, disagreements


@attrs.define
class Airbyte:
    """``source-outreach`` in its own interpreter (``python``), against one sandbox."""

    python: str
    sandbox: Sandbox
    scratch: Path

    def _run(self, *args: str, out: Path) -> float:
        command = [self.python, str(RUNNER), self.sandbox.origin, *args]
        started = time.monotonic()
        with out.open("w") as stdout:
            subprocess.run(command, check=False, timeout=TIME_CAP, stdout=stdout)
        return time.monotonic() - started

    def write_config(self, start_date: str = "2000-01-01T00:00:00Z") -> Path:
        """A connector config with fresh credentials from the sandbox."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        creds = credentials(self.sandbox)
        config = {
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": creds["refresh_token"],
            "redirect_uri": "http://127.0.0.1/callback",
            "start_date": start_date,
        }
        path = self.scratch / "airbyte-config.json"
        path.write_text(json.dumps(config))
        return path

    def check(self, config: Path) -> str:
        """``check``: the connection status the connector reports (SUCCEEDED or FAILED ...)."""
        out = self.scratch / "check.jsonl"
        self._run("check", "--config", str(config), out=out)
        for message in _messages(out):
            if message.get("type") == "CONNECTION_STATUS":
                status = message["connectionStatus"]
                return " ".join(str(v) for v in (status["status"], status.get("message")) if v)
        return "no CONNECTION_STATUS message"

    def discover(self, config: Path) -> list[dict[str, Any]]:
        """``discover``: the streams of the catalog it reports."""
        out = self.scratch / "discover.jsonl"
        self._run("discover", "--config", str(config), out=out)
        for message in _messages(out):
            if message.get("type") == "CATALOG":
                streams: list[dict[str, Any]] = message["catalog"]["streams"]
                return streams
        return []

    def read(
        self, config: Path, streams: list[dict[str, Any]], names: list[str] | None = None
    ) -> AirbyteRead:
        """``read`` of ``names`` (all by default), full refresh; records checked against the
        streams' schemas."""
        wanted = [s for s in streams if names is None or s["name"] in names]
        catalog = {
            "streams": [
                {"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
                for s in wanted
            ]
        }
        catalog_path = self.scratch / "airbyte-catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        out = self.scratch / "read.jsonl"
        seconds = self._run(
            "read", "--config", str(config), "--catalog", str(catalog_path), out=out
        )
        checked = self.scratch / "validate.json"
        self._run("validate", str(catalog_path), str(out), out=checked)
        summary = json.loads(checked.read_text())
        invalid, disagreements = _sort_violations(summary["violations"])
        errors = [
            m["log"]["message"][:300]
            for m in _messages(out)
            if m.get("type") == "LOG" and m["log"].get("level") in ("ERROR", "FATAL")
        ]
        return AirbyteRead(summary["records"], invalid, disagreements, errors, seconds)


def _messages(path: Path) -> list[dict[str, Any]]:
    """The JSON messages a connector printed (other lines skipped), RECORDs left out."""
    messages = []
    with path.open() as lines:
        for line in lines:
            if not line.startswith("{") or '"type": "RECORD"' in line[:30]:
                continue
            try:
                messages.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return messages
