"""Churn: the sandbox changes records at a steady rate of its own clock while it serves."""

from __future__ import annotations

import pytest

from outreach_async import OutreachClient
from outreach_async.sandbox import ChurnConfig, Sandbox, SandboxConfig
from outreach_async.sandbox.churn import MAX_BACKLOG
from outreach_async.sandbox.cli import build_parser, config_from_args
from tests.clock import FakeClock

T0 = 1_800_000_000.0


def stamps(sandbox: Sandbox, type_: str = "prospect") -> dict[int, str]:
    return {
        id_: r["attributes"]["updatedAt"] for id_, r in sandbox.store.table(type_).records.items()
    }


async def test_records_change_at_the_rate_of_the_clock_and_move_to_the_end() -> None:
    clock = FakeClock(T0)
    async with Sandbox(seed=100, churn="20/s", clock=clock) as sandbox:
        before = stamps(sandbox)
        async with OutreachClient(sandbox.token, base_url=sandbox.base_url) as outreach:
            await outreach.prospects.list().first()
            assert sandbox.churn.updates == 0  # no time passed: nothing changed
            clock.now += 2.5
            newest = await outreach.prospects.list(sort="-updatedAt").collect(limit=5)
        assert sandbox.churn.updates == 50
        after = stamps(sandbox)
        changed = {i for i in before if after[i] != before[i]}
        assert 0 < len(changed) <= 50
        assert {p.id for p in newest} <= changed  # a changed record sorts after the others
        assert all(after[i] > max(before.values()) for i in changed)
        assert all(p.custom1 and p.custom1.startswith("churn ") for p in newest)


async def test_the_same_seed_and_clock_change_the_same_records() -> None:
    async def changed(random_seed: int) -> list[str]:
        clock = FakeClock(T0)
        config = ChurnConfig(rate=40, random_seed=random_seed)
        async with Sandbox(seed=200, churn=config, clock=clock) as sandbox:
            clock.now += 1.0
            sandbox.churn.catch_up()
            clock.now += 1.0
            sandbox.churn.catch_up()
            return [r["attributes"].get("custom1") for r in sandbox.store.table("prospect")]

    assert await changed(3) == await changed(3)
    assert await changed(3) != await changed(4)


async def test_several_types_change_in_turn() -> None:
    clock = FakeClock(T0)
    config = ChurnConfig.from_spec("600/m:prospect,account")
    async with Sandbox(seed=50, churn=config, clock=clock) as sandbox:
        accounts = stamps(sandbox, "account")
        clock.now += 1.0
        assert sandbox.churn.catch_up() == 10
        assert stamps(sandbox, "account") != accounts


async def test_a_long_idle_backlog_is_capped() -> None:
    clock = FakeClock(T0)
    async with Sandbox(seed=20, churn=100, clock=clock) as sandbox:
        clock.now += 3600.0
        assert sandbox.churn.catch_up() == MAX_BACKLOG
        assert sandbox.churn.catch_up() == 0


def test_specs_and_the_command_line() -> None:
    assert ChurnConfig.from_spec("100/s").rate == 100
    assert ChurnConfig.from_spec("6000/m").rate == 100
    assert ChurnConfig.from_spec("off").rate == 0
    assert SandboxConfig(churn="5/ms").churn.rate == 5000
    assert SandboxConfig(churn=2.5).churn.rate == 2.5
    assert SandboxConfig(churn=None).churn == ChurnConfig()
    with pytest.raises(ValueError, match="not a churn rate"):
        ChurnConfig.from_spec("fast")
    args = build_parser().parse_args(["--churn", "100/s:prospect,account"])
    assert config_from_args(args).churn == ChurnConfig(rate=100, types=("prospect", "account"))
    assert config_from_args(build_parser().parse_args([])).churn.rate == 0


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="no resource type prospekt"):
        Sandbox(churn="1/s:prospekt")


@pytest.mark.outreach_sandbox(seed=30, churn="1000/s")
async def test_the_fixture_takes_churn(outreach_sandbox: Sandbox) -> None:
    assert outreach_sandbox.churn.config.rate == 1000
