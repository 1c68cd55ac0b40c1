"""An unreachable host fails fast: a refused port within the connect deadline, a name that does
not resolve at once. Virtual time: nothing waits for real, and the seconds counted are the
client's own waits (the limiter's and the retries')."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from outreach_async import ConnectError, Hooks, OutreachClient, RetryPolicy
from outreach_async._hooks import RetryEvent
from outreach_async.export import export_resource
from tests.ports import unused_port

from ..integration.virtual_time import VirtualClock, virtual_client


async def test_a_refused_port_gives_up_within_ten_seconds_and_shows_each_retry(
    tmp_path: Path,
) -> None:
    clock, retries = VirtualClock(), list[RetryEvent]()
    hooks = Hooks(on_retry=retries.append)
    out = tmp_path / "p.jsonl"
    out.write_bytes(b"previous\n")
    base_url = f"http://127.0.0.1:{unused_port()}/api/v2"
    async with clock.running(), virtual_client(clock, base_url, "t", hooks=hooks) as client:
        with pytest.raises(ConnectError, match="cannot connect") as caught:
            await export_resource(client, "prospects", out, progress=lambda done, total: None)
    # Before: every refused attempt kept its rate-limit ticket through the backoff, so the
    # export's two requests (records and the count) took turns waiting 10 s each: ~100 s.
    assert clock.elapsed <= 10.0
    assert caught.value.sent is False
    assert len(retries) >= 2
    assert all(r.error == "ConnectError" and r.status is None for r in retries)
    assert out.read_bytes() == b"previous\n"


class NoSuchName(aiohttp.abc.AbstractResolver):
    """A resolver that knows no name, as for ``.invalid`` (no network needed)."""

    def __init__(self) -> None:
        self.lookups = 0

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> Any:
        self.lookups += 1
        raise OSError(socket.EAI_NONAME, "Name or service not known")

    async def close(self) -> None:
        return None


async def test_a_name_that_does_not_resolve_is_not_retried() -> None:
    clock, retries, resolver = VirtualClock(), list[RetryEvent](), NoSuchName()
    connector = aiohttp.TCPConnector(resolver=resolver)
    async with (
        clock.running(),
        aiohttp.ClientSession(connector=connector) as session,
        OutreachClient(
            "t",
            base_url="http://outreach.invalid/api/v2",
            session=session,
            hooks=Hooks(on_retry=retries.append),
            sleep=clock.sleep,
            clock=clock.time,
            wall_clock=clock.time,
        ) as client,
    ):
        with pytest.raises(ConnectError, match=r"cannot resolve the host name 'outreach\.invalid'"):
            await client.prospects.list().first()
    assert resolver.lookups == 1
    assert retries == []
    assert clock.elapsed == 0.0


async def test_a_deadline_of_zero_makes_a_refused_connection_final() -> None:
    clock, retries = VirtualClock(), list[RetryEvent]()
    base_url = f"http://127.0.0.1:{unused_port()}/api/v2"
    policy = RetryPolicy(connect_deadline=0.0)
    async with (
        clock.running(),
        virtual_client(
            clock, base_url, "t", retry=policy, hooks=Hooks(on_retry=retries.append)
        ) as client,
    ):
        with pytest.raises(ConnectError):
            await client.prospects.list().first()
    assert retries == []
