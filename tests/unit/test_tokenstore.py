"""Token stores: the file store's atomic, owner-only writes, and OAuth2Refresh wired to a store."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict
from yarl import URL

from outreach_async._http import Response
from outreach_async.auth import (
    FileTokenStore,
    OAuth2Refresh,
    TokenSet,
    TokenStore,
    TokenStoreError,
)
from outreach_async.auth._tokens import token_set_from_json, token_set_to_json
from tests.clock import FakeClock

TOKEN_URL = URL("https://api.outreach.test/oauth/token")
SAVED = TokenSet(access_token="access-0", refresh_token="refresh-0", expires_at=1_700_007_200.0)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: whatever the store creates is then readable by all unless the
    store itself forbids it."""
    previous = os.umask(0)
    yield
    os.umask(previous)


# -- the file store -------------------------------------------------------------------------


async def test_a_missing_file_loads_as_nothing(tmp_path: Path) -> None:
    assert await FileTokenStore(tmp_path / "tokens.json").load() is None


async def test_what_is_saved_loads_back(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    await store.save(SAVED)
    assert await store.load() == SAVED
    assert await FileTokenStore(tmp_path / "tokens.json").load() == SAVED  # a new process
    assert orjson.loads((tmp_path / "tokens.json").read_bytes())["refresh_token"] == "refresh-0"


async def test_the_file_is_owner_only_even_under_an_open_umask(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{}")
    path.chmod(0o644)  # an old file readable by all is replaced, not reused
    await FileTokenStore(path).save(SAVED)
    assert mode_of(path) == 0o600


async def test_the_temporary_file_is_owner_only_from_its_creation(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[int] = []
    real_mkstemp = tempfile.mkstemp

    def watching_mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        fd, name = real_mkstemp(*args, **kwargs)
        created.append(stat.S_IMODE(os.stat(name).st_mode))  # before a byte is written
        return fd, name

    monkeypatch.setattr("outreach_async.auth._filestore.tempfile.mkstemp", watching_mkstemp)
    await FileTokenStore(tmp_path / "tokens.json").save(SAVED)
    assert created == [0o600]


async def test_a_missing_directory_is_created_owner_only(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "config" / "outreach-async" / "tokens.json"
    await FileTokenStore(path).save(SAVED)
    assert mode_of(path.parent) == 0o700
    assert await FileTokenStore(path).load() == SAVED


async def test_a_failed_write_leaves_the_old_tokens_and_no_litter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tokens.json"
    store = FileTokenStore(path)
    await store.save(SAVED)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("outreach_async.auth._filestore.os.fsync", disk_full)
    newer = TokenSet(access_token="access-1", refresh_token="refresh-1", expires_at=None)
    with pytest.raises(OSError, match="No space"):
        await store.save(newer)
    assert await store.load() == SAVED
    assert sorted(os.listdir(tmp_path)) == ["tokens.json"]


async def test_concurrent_saves_leave_one_whole_token_set(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    sets = [TokenSet(f"access-{n}", f"refresh-{n}", float(n)) for n in range(20)]
    await asyncio.gather(*(store.save(s) for s in sets))
    assert await store.load() in sets
    assert os.listdir(tmp_path) == ["tokens.json"]


async def test_a_corrupt_file_raises_without_showing_its_content(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('{"access_token": "secret-access-token"}')
    with pytest.raises(TokenStoreError) as caught:
        await FileTokenStore(path).load()
    assert str(path) in str(caught.value)
    assert "secret-access-token" not in str(caught.value)


async def test_a_file_others_can_read_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.json"
    path.write_bytes(token_set_to_json(SAVED))
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="outreach_async"):
        assert await FileTokenStore(path).load() == SAVED
    assert "chmod 600" in caplog.text
    assert "refresh-0" not in caplog.text


def test_the_repr_names_the_path_only(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    assert isinstance(store, TokenStore)
    assert repr(store) == f"FileTokenStore({str(tmp_path / 'tokens.json')!r})"


# -- the JSON form ----------------------------------------------------------------------------

token_sets = st.builds(
    TokenSet,
    access_token=st.text(),
    refresh_token=st.text(min_size=1),
    expires_at=st.none() | st.floats(allow_nan=False, allow_infinity=False),
)


@given(token_sets)
def test_the_json_form_round_trips(tokens: TokenSet) -> None:
    assert token_set_from_json(token_set_to_json(tokens)) == tokens


@given(st.binary() | st.text().map(str.encode))
def test_reading_any_bytes_gives_a_token_set_or_a_store_error(raw: bytes) -> None:
    try:
        result = token_set_from_json(raw)
    except TokenStoreError:
        return
    assert isinstance(result, TokenSet)


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"access_token": "a"},
        {"access_token": "a", "refresh_token": ""},
        {"access_token": 1, "refresh_token": "r"},
        {"access_token": "a", "refresh_token": "r", "expires_at": "soon"},
        {"access_token": "a", "refresh_token": "r", "expires_at": True},
    ],
)
def test_documents_that_are_not_token_sets_are_refused(document: object) -> None:
    with pytest.raises(TokenStoreError):
        token_set_from_json(orjson.dumps(document))


# -- OAuth2Refresh.from_store -------------------------------------------------------------------


class MemoryStore(TokenStore):
    """A store that records each save, and what the provider used meanwhile."""

    def __init__(self, tokens: TokenSet | None) -> None:
        self.tokens = tokens
        self.saves: list[TokenSet] = []

    async def load(self) -> TokenSet | None:
        return self.tokens

    async def save(self, tokens: TokenSet) -> None:
        await asyncio.sleep(0)
        self.saves.append(tokens)
        self.tokens = tokens


class RotatingEndpoint:
    """A token endpoint that rotates the refresh token on every grant."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []

    async def __call__(self, url: URL, data: Mapping[str, str]) -> Response:
        self.forms.append(dict(data))
        n = len(self.forms)
        body = {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}", "expires_in": 7200}
        return Response(200, CIMultiDict(), orjson.dumps(body), url, "POST")


async def test_from_an_empty_store_says_to_log_in_first() -> None:
    with pytest.raises(TokenStoreError, match="auth login"):
        await OAuth2Refresh.from_store(MemoryStore(None), client_id="id", client_secret="secret")


async def test_the_saved_access_token_is_used_until_it_is_due(fake_clock: FakeClock) -> None:
    store = MemoryStore(SAVED)
    endpoint = RotatingEndpoint()
    provider = await OAuth2Refresh.from_store(
        store, client_id="id", client_secret="secret", token_url=TOKEN_URL, clock=fake_clock.time
    )
    provider.bind(endpoint)
    assert await provider.token() == "access-0"
    assert endpoint.forms == []


async def test_every_rotated_token_is_saved_before_use_then_on_refresh_runs(
    fake_clock: FakeClock,
) -> None:
    store = MemoryStore(TokenSet("access-0", "refresh-0", fake_clock.time() - 1))  # expired
    endpoint = RotatingEndpoint()
    seen: list[tuple[str, int]] = []
    provider: OAuth2Refresh

    def on_refresh(tokens: TokenSet) -> None:
        seen.append((tokens.refresh_token, len(store.saves)))

    provider = await OAuth2Refresh.from_store(
        store,
        client_id="id",
        client_secret="secret",
        token_url=TOKEN_URL,
        on_refresh=on_refresh,
        clock=fake_clock.time,
        sleep=fake_clock.sleep,
    )
    provider.bind(endpoint)
    assert await provider.token() == "access-1"
    assert endpoint.forms[0]["refresh_token"] == "refresh-0"
    assert store.saves == [TokenSet("access-1", "refresh-1", fake_clock.time() + 7200)]
    assert seen == [("refresh-1", 1)]  # the user's callback ran after the save

    assert await provider.refresh("access-1")  # a 401: the next rotation is saved too
    assert [s.refresh_token for s in store.saves] == ["refresh-1", "refresh-2"]
    assert endpoint.forms[1]["refresh_token"] == "refresh-1"


async def test_a_restarted_process_continues_from_the_file(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    path = tmp_path / "tokens.json"
    await FileTokenStore(path).save(TokenSet("access-0", "refresh-0", fake_clock.time() - 1))
    endpoint = RotatingEndpoint()
    options: dict[str, Any] = {"token_url": TOKEN_URL, "clock": fake_clock.time}
    first = await OAuth2Refresh.from_store(
        FileTokenStore(path), client_id="id", client_secret="s", **options
    )
    first.bind(endpoint)
    assert await first.token() == "access-1"

    fake_clock.advance(7200)  # the process ends; a new one starts after expiry
    second = await OAuth2Refresh.from_store(
        FileTokenStore(path), client_id="id", client_secret="s", **options
    )
    second.bind(endpoint)
    assert await second.token() == "access-2"
    assert [form["refresh_token"] for form in endpoint.forms] == ["refresh-0", "refresh-1"]
