"""``tap-outreach-async``: the catalog, and a sync against the sandbox that is killed and resumed
from its last STATE, as a Singer target would hand it back."""

from __future__ import annotations

import asyncio
import io
import signal
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach_async.sandbox import FaultConfig, Sandbox
from outreach_async.singer import catalog, main, run, selected_streams

pytestmark = pytest.mark.outreach_sandbox(seed=400, faults=FaultConfig(latency=0.002))

STREAMS = ("accounts", "prospects")


def chosen(names: tuple[str, ...] = STREAMS, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    document = catalog()
    for stream in document["streams"]:
        if stream["tap_stream_id"] in names:
            stream["metadata"][0]["metadata"]["selected"] = True
            for entry in stream["metadata"][1:]:
                if entry["breadcrumb"][1] in drop:
                    entry["metadata"]["selected"] = False
    return document


def messages(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def test_discover_names_streams_as_tap_outreach_does_with_keys_and_replication() -> None:
    streams = {s["tap_stream_id"]: s for s in catalog()["streams"]}
    assert {"prospects", "sequence_states", "call_dispositions", "opportunities"} <= set(streams)
    prospects = streams["prospects"]
    assert prospects["key_properties"] == ["id"]
    root = prospects["metadata"][0]["metadata"]
    assert root["forced-replication-method"] == "INCREMENTAL"
    assert root["valid-replication-keys"] == ["updatedAt"]
    properties = prospects["schema"]["properties"]
    assert properties["updatedAt"] == {"type": ["null", "string"], "format": "date-time"}
    assert properties["account"] == {"type": ["null", "integer"]}
    assert properties["tags"]["items"] == {"type": ["null", "string"]}


def test_only_selected_streams_and_fields_are_synced() -> None:
    [stream] = selected_streams(chosen(("prospects",), drop=("title", "updatedAt")))
    assert stream.name == "prospects"
    assert stream.fields is not None
    assert "title" not in stream.fields
    assert "updatedAt" in stream.fields  # automatic: deselecting it changes nothing
    assert "title" not in stream.schema["properties"]
    assert "updatedAt" in stream.schema["properties"]
    with pytest.raises(ValueError, match="unknown stream 'nope'"):
        selected_streams({"streams": [{"tap_stream_id": "nope", "schema": {"selected": True}}]})


@given(st.lists(st.sampled_from([s["tap_stream_id"] for s in catalog()["streams"]]), unique=True))
def test_selection_is_exactly_what_the_catalog_selects(names: list[str]) -> None:
    assert [s.name for s in selected_streams(chosen(tuple(names)))] == sorted(names)


async def test_records_come_before_the_state_that_covers_them(outreach_sandbox: Sandbox) -> None:
    out = io.BytesIO()
    config = {"base_url": outreach_sandbox.base_url, "token": outreach_sandbox.token}
    sent = await run(config, selected_streams(chosen()), {}, out)
    sent_messages = messages(out.getvalue())
    assert sent == 400 + outreach_sandbox.store.count("account")
    assert [m["type"] for m in sent_messages][:1] == ["SCHEMA"]
    last_state = max(i for i, m in enumerate(sent_messages) if m["type"] == "STATE")
    assert all(m["type"] != "RECORD" for m in sent_messages[last_state:])
    records = [m["record"] for m in sent_messages if m["type"] == "RECORD"]
    ids = [r["id"] for r in records if r["type"] == "prospect"]
    assert sorted(ids) == sorted(outreach_sandbox.store.table("prospect").records)

    # the same state again: nothing new to send
    state = sent_messages[last_state]["value"]
    again = io.BytesIO()
    assert await run(config, selected_streams(chosen()), state, again) == 0


async def test_kill_9_then_resume_from_the_last_state_leaves_each_record_in_an_upserting_target(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_bytes(
        orjson.dumps(
            {
                "base_url": outreach_sandbox.base_url,
                "token": outreach_sandbox.token,
                "page_size": 25,
            }
        )
    )
    (tmp_path / "catalog.json").write_bytes(orjson.dumps(chosen()))
    tap = [sys.executable, "-c", "from outreach_async.singer import main; raise SystemExit(main())"]
    tap += ["--config", str(config), "--catalog", str(tmp_path / "catalog.json")]
    table: dict[tuple[str, int], dict[str, Any]] = {}  # what an upserting target keeps
    state: dict[str, Any] | None = None
    child = await asyncio.create_subprocess_exec(*tap, stdout=asyncio.subprocess.PIPE)
    assert child.stdout is not None
    records = 0
    async for line in child.stdout:
        message = orjson.loads(line)
        if message["type"] == "RECORD":
            table[(message["stream"], message["record"]["id"])] = message["record"]
            records += 1
            if records == 230:  # inside prospects, between two STATEs
                child.send_signal(signal.SIGKILL)
                break
        elif message["type"] == "STATE":
            state = message["value"]
    await child.wait()
    assert state is not None
    (tmp_path / "state.json").write_bytes(orjson.dumps(state))
    resumed = await asyncio.create_subprocess_exec(
        *tap, "--state", str(tmp_path / "state.json"), stdout=asyncio.subprocess.PIPE
    )
    output, _ = await resumed.communicate()
    assert resumed.returncode == 0
    again = [m for m in messages(output) if m["type"] == "RECORD"]
    for message in again:
        table[(message["stream"], message["record"]["id"])] = message["record"]
    total = 400 + outreach_sandbox.store.count("account")
    assert len(again) < total  # resumed, not started over
    assert {k for k in table if k[0] == "prospects"} == {
        ("prospects", i) for i in outreach_sandbox.store.table("prospect").records
    }
    assert len(table) == total


def test_bad_config_and_catalog_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "missing.json"), "--discover"]) == 2
    assert "cannot read the config" in capsys.readouterr().err
    (tmp_path / "c.json").write_text('{"base_url": "http://127.0.0.1:1/api/v2"}')
    (tmp_path / "cat.json").write_bytes(orjson.dumps(chosen()))
    assert (
        main(["--config", str(tmp_path / "c.json"), "--catalog", str(tmp_path / "cat.json")]) == 2
    )
    error = capsys.readouterr().err
    assert "the config needs 'token', or 'client_id'" in error
    assert len(error.strip().splitlines()) == 1
