"""``export_resource`` never costs the user a file or a duplicate: a one-off export replaces its
file only when complete; an incremental export refuses a file its state does not know."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach_async import AuthenticationError, UntrackedOutputError
from outreach_async.export import CheckpointError, MemoryCheckpointStore, export_resource
from outreach_async.sandbox import Sandbox

from .helpers import ids_of, stored_ids
from .test_export_sandbox import client_for

pytestmark = pytest.mark.outreach_sandbox(seed=60)

PREVIOUS = b'{"type":"prospect","id":1,"firstName":"kept"}\n'


def names_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_a_one_off_export_that_fails_leaves_the_previous_file(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "p.jsonl"
    out.write_bytes(PREVIOUS)
    async with client_for(outreach_sandbox, token="wrong") as outreach:
        with pytest.raises(AuthenticationError):
            await export_resource(outreach, "prospects", out)
    assert out.read_bytes() == PREVIOUS
    assert names_in(tmp_path) == ["p.jsonl"]


async def test_a_one_off_export_replaces_the_file_once_complete(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "p.jsonl"
    out.write_bytes(PREVIOUS)
    async with client_for(outreach_sandbox) as outreach:
        result = await export_resource(outreach, "prospects", out, page_size=7)
    assert set(ids_of(out)) == stored_ids(outreach_sandbox)
    assert result.output == str(out)
    assert result.offset == out.stat().st_size
    assert names_in(tmp_path) == ["p.jsonl"]


async def test_a_sync_whose_state_was_lost_refuses_to_append(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "p.jsonl"
    async with client_for(outreach_sandbox) as outreach:
        await export_resource(outreach, "prospects", out, checkpoint=MemoryCheckpointStore())
        exported = out.read_bytes()
        with pytest.raises(UntrackedOutputError) as caught:
            await export_resource(outreach, "prospects", out, checkpoint=MemoryCheckpointStore())
        assert caught.value.output == str(out)
        assert out.read_bytes() == exported
        fresh = MemoryCheckpointStore()
        result = await export_resource(outreach, "prospects", out, checkpoint=fresh, restart=True)
    assert result.records == len(stored_ids(outreach_sandbox))
    assert out.read_bytes() == exported  # every record once, as the first run wrote them


async def test_a_checkpoint_of_the_wrong_shape_is_refused_and_restart_replaces_it(
    outreach_sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "p.jsonl"
    store = MemoryCheckpointStore()
    async with client_for(outreach_sandbox) as outreach:
        await export_resource(outreach, "prospects", out, checkpoint=store)
        exported = out.read_bytes()
        [key] = store.documents
        for wrong in ('{"version": 1, "base": []}', '{"version": 1, "output": 3, "offset": 0}'):
            store.documents[key] = wrong
            with pytest.raises(CheckpointError, match="a checkpoint holds") as caught:
                await export_resource(outreach, "prospects", out, checkpoint=store)
            assert caught.value.malformed
            assert out.read_bytes() == exported
        await export_resource(outreach, "prospects", out, checkpoint=store, restart=True)
        assert out.read_bytes() == exported
        again = await export_resource(outreach, "prospects", out, checkpoint=store)
    assert again.records == 0  # the restarted sync's checkpoint is whole again
    assert out.read_bytes() == exported


async def test_restart_is_for_local_syncs(outreach_sandbox: Sandbox, tmp_path: Path) -> None:
    async with client_for(outreach_sandbox) as outreach:
        with pytest.raises(ValueError, match="a fleet's shared plan"):
            await export_resource(
                outreach, "prospects", tmp_path / "p.jsonl", checkpoint=MemoryCheckpointStore(),
                partition="0/2", restart=True,
            )  # fmt: skip
