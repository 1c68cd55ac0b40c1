"""``tap-outreach-async``: a Singer tap on top of the exporter.

Each selected stream is an incremental export (:func:`outreach_async.export.export_resource`)
whose output writes Singer ``RECORD`` messages and whose checkpoint store is the tap's state: the
exporter writes records, flushes, and only then saves a checkpoint, which the tap emits as a
``STATE`` message. A target that persists a ``STATE`` after the records before it, as Singer
targets do, can hand it back (``--state``) after any interruption: the tap resumes from it, and
the records after it are sent again (a target that upserts on the key keeps each once).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from outreach_async import OAuth2Refresh, OutreachClient, TokenProvider
from outreach_async.cli import UsageError, report
from outreach_async.export import Output, export_resource
from outreach_async.models import MODELS

from ._catalog import Stream, catalog, selected_streams

__all__ = ["SingerOutput", "SingerState", "main", "run"]

Document = dict[str, Any]


def _message(value: Document) -> bytes:
    return orjson.dumps(value) + b"\n"


class SingerOutput(Output):
    """Writes each exported record as a ``RECORD`` message of ``stream``."""

    def __init__(self, stream: str, out: BinaryIO) -> None:
        self.name = f"singer:{stream}"
        self._out = out
        self._offset = 0
        self._prefix = b'{"type":"RECORD","stream":' + orjson.dumps(stream) + b',"record":'

    @property
    def offset(self) -> int:
        return self._offset

    def write(self, data: bytes) -> None:
        messages = b"".join(self._prefix + line + b"}\n" for line in data.splitlines() if line)
        self._out.write(messages)
        self._offset += len(messages)

    def sync(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.flush()


class SingerState:
    """The tap's state as the exporter's checkpoint store: ``bookmarks[stream].checkpoints``
    holds the export's checkpoints, and every save emits the whole state as a ``STATE``."""

    def __init__(self, state: Document, stream: str, out: BinaryIO) -> None:
        self.state = state
        self._out = out
        bookmarks = state.setdefault("bookmarks", {})
        self._checkpoints: Document = bookmarks.setdefault(stream, {}).setdefault("checkpoints", {})

    async def load(self, key: str) -> Document | None:
        value = self._checkpoints.get(key)
        return value if isinstance(value, dict) else None

    async def save(self, key: str, value: Document) -> None:
        self._checkpoints[key] = value
        self._out.write(_message({"type": "STATE", "value": self.state}))
        self._out.flush()

    async def create(self, key: str, value: Document) -> Document:
        if key not in self._checkpoints:
            await self.save(key, value)
        return dict(self._checkpoints[key])

    async def replace(self, key: str, expected: Document | None, value: Document) -> bool:
        if self._checkpoints.get(key) != expected:
            return False
        await self.save(key, value)
        return True

    async def close(self) -> None:
        return None


def _load_json(path: str, what: str) -> Document:
    try:
        value = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"the {what} {path} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise UsageError(f"the {what} {path} is not a JSON object")
    return value


def _auth(config: Document) -> str | TokenProvider:
    if token := config.get("token"):
        return str(token)
    needed = ("client_id", "client_secret", "refresh_token")
    missing = [k for k in needed if not config.get(k)]
    if missing:
        raise UsageError(
            "the config needs 'token', or 'client_id', 'client_secret' and 'refresh_token' "
            f"(missing: {', '.join(missing)})"
        )
    options: Document = {k: str(config[k]) for k in needed}
    if config.get("token_url"):
        options["token_url"] = str(config["token_url"])
    return OAuth2Refresh(**options)


def _client(config: Document) -> OutreachClient:
    auth = _auth(config)
    if base_url := config.get("base_url"):
        return OutreachClient(auth, base_url=str(base_url))
    return OutreachClient(auth)


async def run(config: Document, streams: Sequence[Stream], state: Document, out: BinaryIO) -> int:
    """Sync ``streams``: SCHEMA, then RECORDs and STATEs; returns the records sent."""
    sent = 0
    async with _client(config) as client:
        for stream in streams:
            watermark = [stream.spec.watermark] if stream.spec.watermark else []
            out.write(
                _message(
                    {
                        "type": "SCHEMA",
                        "stream": stream.name,
                        "schema": stream.schema,
                        "key_properties": ["id"],
                        "bookmark_properties": watermark,
                    }
                )
            )
            result = await export_resource(
                client,
                MODELS[stream.spec.type],
                SingerOutput(stream.name, out),
                checkpoint=SingerState(state, stream.name, out),
                since=config.get("start_date"),
                fields=list(stream.fields) if stream.fields is not None else None,
                page_size=int(config.get("page_size", 1000)),
            )
            sent += result.records
    out.flush()
    return sent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tap-outreach-async",
        description="Singer tap for Outreach (outreach-async): SCHEMA, RECORD and STATE on stdout.",
    )
    parser.add_argument("--config", "-c", required=True, help="config JSON file")
    parser.add_argument("--discover", action="store_true", help="print the catalog")
    parser.add_argument("--catalog", "--properties", dest="catalog", help="catalog JSON file")
    parser.add_argument("--state", "-s", help="state JSON file (a target's last STATE)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The console script; returns the exit status (0, 2 bad input, 3 API or network)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        config = _load_json(args.config, "config")
        if args.discover:
            sys.stdout.buffer.write(orjson.dumps(catalog(), option=orjson.OPT_INDENT_2) + b"\n")
            return 0
        if args.catalog is None:
            raise UsageError("pass --catalog (see --discover), or --discover")
        try:
            streams = selected_streams(_load_json(args.catalog, "catalog"))
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        state = _load_json(args.state, "state") if args.state else {}
        state = state.get("value", state) if state.get("type") == "STATE" else state
        asyncio.run(run(config, streams, state, sys.stdout.buffer))
        return 0
    except BaseException as exc:
        return report(exc, parser.prog, sys.stderr)
