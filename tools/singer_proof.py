"""Prove the Singer tap against a real Singer target (``nox -s singer``).

A seeded sandbox (in this process, on loopback) and a throwaway PostgreSQL; ``tap-outreach-async``
piped into meltanolabs' ``target-postgres`` (upserts on the key). The tap is SIGKILLed after a
number of records, the target finishes what it had and hands back its last STATE, the tap runs
again from it, and every selected stream's table must then hold each of the sandbox's records
exactly once, at its current version. Exits non-zero, saying why, when anything differs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import yarl

from outreach_async.sandbox import FaultConfig, Sandbox
from tests.postgres_server import postgres_server_url

STREAMS = ("prospects", "accounts", "users", "sequences", "tasks")
SCHEMA = "outreach"


def select(catalog: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    for stream in catalog["streams"]:
        if stream["tap_stream_id"] in names:
            stream["metadata"][0]["metadata"]["selected"] = True
    return catalog


async def pipe(tap: list[str], target: list[str], kill_after: int | None) -> tuple[int, str]:
    """Run tap | target; SIGKILL the tap after ``kill_after`` RECORDs. Returns the records the
    tap sent and the target's last STATE (JSON text)."""
    producer = await asyncio.create_subprocess_exec(*tap, stdout=asyncio.subprocess.PIPE)
    consumer = await asyncio.create_subprocess_exec(
        *target, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert producer.stdout is not None
    assert consumer.stdin is not None
    assert consumer.stdout is not None
    # The target's STATE lines are read as they come: a full pipe would stall the whole chain.
    states = asyncio.create_task(_lines(consumer.stdout))
    records = 0
    async for line in producer.stdout:
        consumer.stdin.write(line)
        await consumer.stdin.drain()
        if line.startswith(b'{"type":"RECORD"'):
            records += 1
            if kill_after is not None and records >= kill_after:
                producer.kill()  # SIGKILL: no cleanup, mid-page
                break
    await producer.stdout.read()  # what the killed tap left in the pipe is not forwarded
    await producer.wait()
    consumer.stdin.close()
    await consumer.stdin.wait_closed()
    if await consumer.wait() != 0:
        raise SystemExit(f"target-postgres failed with {consumer.returncode}")
    if kill_after is None and producer.returncode != 0:
        raise SystemExit(f"the tap failed with {producer.returncode}")
    emitted = [line for line in await states if line.startswith("{")]
    return records, emitted[-1] if emitted else "{}"


async def _lines(stream: asyncio.StreamReader) -> list[str]:
    return [line.decode().strip() async for line in stream]


def stored(sandbox: Sandbox, stream: str) -> dict[int, str | None]:
    """The sandbox's records of a stream (the types here are their paths less an s)."""
    table = sandbox.store.table(stream.removesuffix("s"))
    return {i: r["attributes"].get("updatedAt") for i, r in table.records.items()}


async def check(url: str, sandbox: Sandbox) -> list[str]:
    problems: list[str] = []
    conn = await asyncpg.connect(url)
    try:
        for name in STREAMS:
            rows = await conn.fetch(f'SELECT id, "updatedAt" FROM {SCHEMA}.{name}')
            ids = [r["id"] for r in rows]
            expected = stored(sandbox, name)
            if len(ids) != len(set(ids)):
                problems.append(f"{name}: {len(ids) - len(set(ids))} duplicate ids")
            if set(ids) != set(expected):
                missing, extra = set(expected) - set(ids), set(ids) - set(expected)
                problems.append(f"{name}: {len(missing)} missing, {len(extra)} unexpected ids")
            print(f"  {name}: {len(ids)} rows, {len(set(ids))} distinct, sandbox {len(expected)}")
    finally:
        await conn.close()
    return problems


async def main(seed: int, kill_after: int) -> int:
    with postgres_server_url() as url, tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        async with Sandbox(seed=seed, faults=FaultConfig(latency=0.002)) as sandbox:
            config = {"base_url": sandbox.base_url, "token": sandbox.token, "page_size": 100}
            (work / "config.json").write_text(json.dumps(config))
            found = await asyncio.create_subprocess_exec(
                "tap-outreach-async", "--config", str(work / "config.json"), "--discover",
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            catalog, _ = await found.communicate()
            (work / "catalog.json").write_text(json.dumps(select(json.loads(catalog), STREAMS)))
            pg = yarl.URL(url)
            target_config = {
                "host": pg.host, "port": pg.port, "user": pg.user, "password": "",
                "database": pg.path.lstrip("/"), "default_target_schema": SCHEMA,
                "load_method": "upsert", "add_record_metadata": False, "activate_version": False,
            }  # fmt: skip
            (work / "target.json").write_text(json.dumps(target_config))
            tap = ["tap-outreach-async", "--config", str(work / "config.json")]
            tap += ["--catalog", str(work / "catalog.json")]
            target = ["target-postgres", "--config", str(work / "target.json")]

            first, state = await pipe(tap, target, kill_after)
            print(f"run 1: killed the tap after {first} records; the target kept {state[:80]}...")
            (work / "state.json").write_text(state)
            second, state = await pipe([*tap, "--state", str(work / "state.json")], target, None)
            print(f"run 2: resumed from that STATE, {second} records to the end")
            total = sum(len(stored(sandbox, name)) for name in STREAMS)
            problems = await check(url, sandbox)
            if second >= total:
                problems.append(f"the second run sent {second} of {total}: it started over")
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    print("every stream holds each record exactly once" if not problems else "", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--kill-after", type=int, default=1500, help="RECORDs before SIGKILL")
    options = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(asyncio.run(main(options.seed, options.kill_after)))
