"""Checkpoint stores: save/load, create-if-absent, compare-and-set, survival across reopen."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from outreach_async.export import (
    CheckpointError,
    CheckpointStore,
    MemoryCheckpointStore,
    RedisCheckpointStore,
    SQLiteCheckpointStore,
    checkpoint_key,
)


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CheckpointStore]:
    made: CheckpointStore
    if request.param == "memory":
        made = MemoryCheckpointStore()
    elif request.param == "sqlite":
        made = SQLiteCheckpointStore(tmp_path / "sync.db")
    else:
        url = request.getfixturevalue("redis_url")
        made = RedisCheckpointStore.from_url(url, prefix=f"test:{uuid.uuid4().hex}:")
    yield made
    await made.close()


async def test_save_then_load_returns_the_document(store: CheckpointStore) -> None:
    assert await store.load("k") is None
    await store.save("k", {"offset": 10, "spans": {"0": {"seen": [1, 2]}}})
    assert await store.load("k") == {"offset": 10, "spans": {"0": {"seen": [1, 2]}}}
    await store.save("k", {"offset": 20})
    assert await store.load("k") == {"offset": 20}


async def test_create_keeps_the_first_value(store: CheckpointStore) -> None:
    assert await store.create("plan", {"generation": 1, "by": "a"}) == {"generation": 1, "by": "a"}
    assert await store.create("plan", {"generation": 1, "by": "b"}) == {"generation": 1, "by": "a"}


async def test_replace_is_a_compare_and_set(store: CheckpointStore) -> None:
    assert await store.replace("plan", None, {"generation": 1})
    assert not await store.replace("plan", None, {"generation": 9})
    assert not await store.replace("plan", {"generation": 2}, {"generation": 3})
    # key order does not matter: documents compare as canonical JSON
    await store.save("plan", {"generation": 1, "spans": []})
    assert await store.replace("plan", {"spans": [], "generation": 1}, {"generation": 2})
    assert await store.load("plan") == {"generation": 2}


async def test_sqlite_checkpoints_survive_reopening(tmp_path: Path) -> None:
    first = SQLiteCheckpointStore(tmp_path / "sync.db")
    await first.save("k", {"offset": 5})
    await first.close()
    second = SQLiteCheckpointStore(tmp_path / "sync.db")
    assert await second.load("k") == {"offset": 5}
    await second.close()


async def test_a_corrupt_state_file_raises_checkpoint_error(tmp_path: Path) -> None:
    path = tmp_path / "sync.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CheckpointError, match=r"sync\.db"):
        await SQLiteCheckpointStore(path).load("k")


async def test_a_non_json_value_raises_checkpoint_error() -> None:
    store = MemoryCheckpointStore()
    store.documents["k"] = "{not json"
    with pytest.raises(CheckpointError, match="not valid JSON"):
        await store.load("k")


def test_keys_differ_by_query_and_not_by_key_order() -> None:
    a = checkpoint_key("prospect", {"filter": [["filter[title]", "CEO"]], "fields": None})
    b = checkpoint_key("prospect", {"fields": None, "filter": [["filter[title]", "CEO"]]})
    c = checkpoint_key("prospect", {"filter": [["filter[title]", "CTO"]], "fields": None})
    assert a == b != c
    assert a.startswith("prospect:")
