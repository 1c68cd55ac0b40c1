"""The export's JSON Lines from simdjson's wire path equal those of the orjson path, over real
loopback HTTP against the sandbox (the orjson path is what runs without pysimdjson)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from outreach_async import OutreachClient, _jsonapi
from outreach_async.export import export_resource
from outreach_async.models import RecordFlattener
from outreach_async.sandbox import Sandbox

pytestmark = pytest.mark.outreach_sandbox(seed=120)


async def _export(sandbox: Sandbox, out: Path) -> list[bytes]:
    async with OutreachClient(sandbox.token, base_url=sandbox.base_url) as outreach:
        result = await export_resource(outreach, "prospects", out, page_size=50)
    lines = await asyncio.to_thread(out.read_bytes)
    assert result.records == len(lines.splitlines()) == 120
    return lines.splitlines()


async def test_without_simdjson_the_export_writes_the_same_records(
    outreach_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[bytes | None] = []
    wire_line = RecordFlattener.wire_line

    def counted(self: RecordFlattener, resource: Any) -> bytes | None:
        made.append(line := wire_line(self, resource))
        return line

    monkeypatch.setattr(RecordFlattener, "wire_line", counted)
    fast = await _export(outreach_sandbox, tmp_path / "fast.jsonl")
    assert len(made) >= 120
    assert None not in made
    made.clear()
    monkeypatch.setattr(_jsonapi, "simdjson", None)  # as if pysimdjson could not be imported
    slow = await _export(outreach_sandbox, tmp_path / "slow.jsonl")
    assert made == []
    assert [orjson.loads(line) for line in fast] == [orjson.loads(line) for line in slow]
