"""``sandbox serve`` options and serving, and the ``outreach_sandbox`` pytest fixture."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import pytest

from outreach_async.sandbox import Sandbox, SandboxConfig
from outreach_async.sandbox.cli import _serve, build_parser, config_from_args, parse_rate_limit
from outreach_async.sandbox.pytest_plugin import sandbox_options


@pytest.mark.parametrize(
    ("text", "limit", "window"),
    [
        ("10000", 10_000, 3600.0),
        ("100/60s", 100, 60.0),
        ("5/1s", 5, 1.0),
        ("20/5m", 20, 300.0),
        ("3/250ms", 3, 0.25),
        ("9/2", 9, 2.0),
    ],
)
def test_rate_limit_option(text: str, limit: int, window: float) -> None:
    config = parse_rate_limit(text)
    assert (config.limit, config.window, config.enabled) == (limit, window, True)


def test_rate_limit_off_and_bad_values() -> None:
    assert parse_rate_limit("off").enabled is False
    for bad in ("0", "ten", "10/soon", "10/0s"):
        with pytest.raises(ValueError):  # noqa: PT011 - each message names the bad text
            parse_rate_limit(bad)


def test_serve_options_become_a_sandbox_config() -> None:
    args = build_parser().parse_args(
        [
            "--port",
            "0",
            "--seed",
            "25",
            "--random-seed",
            "4",
            "--rate-limit",
            "50/10s",
            "--two-value-remaining",
            "--latency",
            "20ms",
            "--faults",
            "503=0.1,seed=3",
        ]
    )
    config = config_from_args(args)
    assert (config.port, config.seed, config.random_seed) == (0, 25, 4)
    assert (config.rate_limit.limit, config.rate_limit.window) == (50, 10.0)
    assert config.rate_limit.two_value_remaining is True
    assert config.faults.latency == pytest.approx(0.02)
    assert (config.faults.error_rate_503, config.faults.seed) == (0.1, 3)
    defaults = config_from_args(build_parser().parse_args([]))
    assert (defaults.port, defaults.seed, defaults.rate_limit.limit) == (8787, 10_000, 10_000)


async def test_serve_prints_how_to_connect_and_stops_on_request() -> None:
    out, stop = io.StringIO(), asyncio.Event()
    config = SandboxConfig(port=0, seed=5)
    serving = asyncio.create_task(_serve(config, out, stop))
    for _ in range(200):
        if "Ctrl-C" in out.getvalue():
            break
        await asyncio.sleep(0.01)
    lines = dict(line.strip().split("=", 1) for line in out.getvalue().splitlines() if "=" in line)
    headers = {"Authorization": f"Bearer {lines['OUTREACH_TOKEN']}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(lines["OUTREACH_BASE_URL"] + "/prospects") as response,
    ):
        assert response.status == 200
        assert len((await response.json(content_type=None))["data"]) == 5
    stop.set()
    await asyncio.wait_for(serving, 5)


# -- the pytest fixture ---------------------------------------------------------------------


@pytest.mark.outreach_sandbox(seed=7)
async def test_fixture_takes_options_from_the_marker(outreach_sandbox: Sandbox) -> None:
    assert outreach_sandbox.store.count("prospect") == 7
    assert outreach_sandbox.base_url.startswith("http://127.0.0.1:")
    assert outreach_sandbox.base_url.endswith("/api/v2")


@pytest.mark.outreach_sandbox(seed=3)
@pytest.mark.parametrize("outreach_sandbox", [{"seed": 4, "random_seed": 2}], indirect=True)
async def test_fixture_parameters_override_the_marker(outreach_sandbox: Sandbox) -> None:
    assert outreach_sandbox.store.count("prospect") == 4
    assert outreach_sandbox.config.random_seed == 2


@pytest.mark.outreach_sandbox(seed=1, random_seed=5)
class TestMarkersNest:
    @pytest.mark.outreach_sandbox(seed=2)
    def test_the_closest_marker_wins_field_by_field(self, request: pytest.FixtureRequest) -> None:
        assert sandbox_options(request) == {"seed": 2, "random_seed": 5}


async def test_the_sandbox_logs_requests_without_the_token(outreach_sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {outreach_sandbox.token}", "X-Trace": "1"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(outreach_sandbox.base_url + "/users", params={"page[size]": "2"}),
    ):
        pass
    (logged,) = outreach_sandbox.requests
    assert (logged.method, logged.path, dict(logged.query)) == (
        "GET",
        "/api/v2/users",
        {"page[size]": "2"},
    )
    assert logged.headers["X-Trace"] == "1"
    assert "Authorization" not in logged.headers
    assert logged.body is None
