"""Fault injection: the spec parser, seeded planning, and each fault over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import aiohttp
import attrs
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from outreach_async.sandbox.faults import (
    FaultConfig,
    FaultPlan,
    FaultState,
    fault_middleware,
    plan_request,
)
from tests.clock import FakeClock

# -- the spec parser --


def test_spec_from_the_cli_example() -> None:
    config = FaultConfig.from_spec("503=0.05,502html=0.03,reset=0.03,latency=0.05")
    assert config == FaultConfig(
        error_rate_503=0.05, error_rate_502_html=0.03, reset_rate=0.03, latency=0.05
    )


def test_spec_reads_every_kind_of_item() -> None:
    config = FaultConfig.from_spec(
        " seed=7, 500=0.1, 502=0.2, reset_after_write=0.5, slow=0.01, slow_delay=40s,"
        " jitter=20ms, writes=true, heavy:mailing=500, heavy:sequenceState=200,"
        " maintenance=100..200, maintenance=300.5..400 "
    )
    assert config.seed == 7
    assert (config.error_rate_500, config.error_rate_502) == (0.1, 0.2)
    assert config.reset_after_write_rate == 0.5
    assert (config.slow_rate, config.slow_delay, config.jitter) == (0.01, 40.0, 0.02)
    assert config.apply_to_writes
    assert config.heavy_page_limits == {"mailing": 500, "sequenceState": 200}
    assert config.maintenance == [(100.0, 200.0), (300.5, 400.0)]
    assert FaultConfig.from_spec("") == FaultConfig()


@pytest.mark.parametrize(
    "spec",
    [
        "404=0.1",
        "503",
        "503=",
        "503=lots",
        "503=1.5",
        "500=0.6,502=0.6",
        "latency=-1",
        "latency=inf",
        "writes=maybe",
        "heavy:=5",
        "heavy:mailing=big",
        "maintenance=200",
        "maintenance=200..100",
    ],
)
def test_bad_specs_raise_value_error(spec: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        FaultConfig.from_spec(spec)


_rates = st.floats(min_value=0.0, max_value=0.2)
_seconds = st.floats(min_value=0.0, max_value=100.0)


@given(
    seed=st.integers(min_value=0, max_value=2**32),
    rates=st.tuples(_rates, _rates, _rates, _rates, _rates),
    after=_rates,
    timing=st.tuples(_seconds, _seconds, _rates, _seconds),
    writes=st.booleans(),
    heavy=st.dictionaries(
        st.from_regex(r"[a-zA-Z]{1,12}", fullmatch=True), st.integers(1, 1000), max_size=3
    ),
    windows=st.lists(st.tuples(_seconds, _seconds).map(sorted).map(tuple), max_size=3),
)
def test_to_spec_reads_back_into_an_equal_config(
    seed: int,
    rates: tuple[float, float, float, float, float],
    after: float,
    timing: tuple[float, float, float, float],
    writes: bool,
    heavy: dict[str, int],
    windows: list[tuple[float, float]],
) -> None:
    config = FaultConfig(
        seed=seed,
        error_rate_500=rates[0],
        error_rate_502=rates[1],
        error_rate_502_html=rates[2],
        error_rate_503=rates[3],
        reset_rate=rates[4],
        reset_after_write_rate=after,
        latency=timing[0],
        jitter=timing[1],
        slow_rate=timing[2],
        slow_delay=timing[3],
        apply_to_writes=writes,
        heavy_page_limits=heavy,
        maintenance=windows,
    )
    assert FaultConfig.from_spec(config.to_spec()) == config


@given(st.text(max_size=60))
def test_the_parser_only_ever_raises_value_error(spec: str) -> None:
    with contextlib.suppress(ValueError):
        FaultConfig.from_spec(spec)


# -- planning, pure --


def _plans(config: FaultConfig, method: str = "GET", count: int = 200) -> list[FaultPlan]:
    rng = random.Random(config.seed)
    return [plan_request(config, rng, method, "/api/v2/prospects", {}, 0.0) for _ in range(count)]


def test_the_same_seed_gives_the_same_faults_and_another_seed_others() -> None:
    config = FaultConfig(seed=3, error_rate_500=0.3, error_rate_503=0.3, jitter=1.0)
    assert _plans(config) == _plans(attrs.evolve(config))
    assert _plans(config) != _plans(attrs.evolve(config, seed=4))


def test_rates_are_honoured_over_many_requests() -> None:
    config = FaultConfig(error_rate_500=0.1, error_rate_502_html=0.05, reset_rate=0.05)
    kinds = [plan.before for plan in _plans(config, count=10_000)]
    assert 850 < kinds.count("error_500") < 1150
    assert 400 < kinds.count("error_502_html") < 600
    assert 400 < kinds.count("reset") < 600
    assert 7700 < kinds.count(None) < 8300


def test_every_request_draws_four_values_whatever_happens() -> None:
    config = FaultConfig(error_rate_500=0.5, maintenance=[(10.0, 20.0)])
    rng, reference = random.Random(1), random.Random(1)
    plan_request(config, rng, "GET", "/api/v2/prospects", {}, 15.0)
    plan_request(config, rng, "POST", "/api/v2/prospects", {}, 0.0)
    for _ in range(8):
        reference.random()
    assert rng.random() == reference.random()


def test_random_faults_spare_writes_unless_asked() -> None:
    config = FaultConfig(error_rate_500=1.0, slow_rate=1.0, slow_delay=9.0)
    assert {plan.before for plan in _plans(config, "POST", 20)} == {None}
    assert {plan.delay for plan in _plans(config, "POST", 20)} == {0.0}
    hit = FaultConfig(error_rate_500=1.0, apply_to_writes=True)
    assert {plan.before for plan in _plans(hit, "PATCH", 20)} == {"error_500"}


def test_reset_after_write_hits_writes_only() -> None:
    config = FaultConfig(reset_after_write_rate=1.0)
    assert all(plan.reset_after for plan in _plans(config, "POST", 20))
    assert not any(plan.reset_after for plan in _plans(config, "GET", 20))


def test_latency_adds_a_seeded_jitter_below_its_bound() -> None:
    delays = [plan.delay for plan in _plans(FaultConfig(latency=0.05, jitter=0.02))]
    assert all(0.05 <= delay < 0.07 for delay in delays)
    assert len(set(delays)) > 100


@pytest.mark.parametrize(
    ("path", "query", "heavy"),
    [
        ("/api/v2/mailings", {"page[size]": "1000"}, True),
        ("/api/v2/mailings", {"page[limit]": "501"}, True),
        ("/api/v2/mailings", {"page[size]": "500"}, False),
        ("/api/v2/mailings", {}, False),
        ("/api/v2/mailings/1", {"page[size]": "1000"}, False),
        ("/api/v2/prospects", {"page[size]": "1000"}, False),
        ("/api/v2/opportunities", {"page[size]": "101"}, True),
        ("/api/v2/mailings", {"page[size]": "x"}, False),
    ],
)
def test_heavy_pages_fail_above_their_limit(path: str, query: dict[str, str], heavy: bool) -> None:
    config = FaultConfig(heavy_page_limits={"mailing": 500, "opportunity": 100})
    plan = plan_request(config, random.Random(0), "GET", path, query, 0.0)
    assert (plan.before == "heavy_page") is heavy


def test_maintenance_windows_answer_everything_until_their_end() -> None:
    config = FaultConfig(maintenance=[(100.0, 200.0)])
    rng = random.Random(0)
    assert plan_request(config, rng, "POST", "/api/v2/x", {}, 100.0) == FaultPlan(
        before="maintenance", until=200.0
    )
    assert plan_request(config, rng, "GET", "/api/v2/x", {}, 200.0).before is None


# -- the middleware on loopback --


class Recorder:
    """The handler behind the faults: counts the requests that reached it."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.calls += 1
        return web.json_response({"ok": True}, status=201 if request.method == "POST" else 200)


def _app(
    config: FaultConfig, recorder: Recorder, state: FaultState, sleep: FakeClock | None = None
) -> web.Application:
    middleware = fault_middleware(
        config, (sleep if sleep is not None else FakeClock()).sleep, lambda: 150.0, state=state
    )
    app = web.Application(middlewares=[middleware])
    app.router.add_route("*", "/api/v2/{tail:.*}", recorder.handle)
    app.router.add_post("/oauth/token", recorder.handle)
    return app


@contextlib.asynccontextmanager
async def _served(app: web.Application) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.mark.parametrize(
    ("spec", "status", "content_type", "error_id"),
    [
        ("500=1", 500, "application/vnd.api+json", "internalServerError"),
        ("502=1", 502, "application/vnd.api+json", "badGateway"),
        ("502html=1", 502, "text/html", None),
        ("503=1", 503, "application/vnd.api+json", "serviceUnavailable"),
    ],
)
async def test_error_faults_answer_without_reaching_the_handler(
    spec: str, status: int, content_type: str, error_id: str | None
) -> None:
    recorder, state = Recorder(), FaultState()
    async with _served(_app(FaultConfig.from_spec(spec), recorder, state)) as client:
        answer = await client.get("/api/v2/prospects")
        body = await answer.read()
    assert answer.status == status
    assert answer.content_type == content_type
    if error_id is None:
        assert b"<h1>502 Bad Gateway</h1>" in body
    else:
        assert orjson.loads(body)["errors"][0]["id"] == error_id
    assert recorder.calls == 0
    assert state.requests == 1
    assert sum(state.injected.values()) == 1


async def test_maintenance_is_503_with_an_iso_retry_after() -> None:
    config = FaultConfig(maintenance=[(100.0, 1_700_000_000.0)])
    recorder, state = Recorder(), FaultState()
    async with _served(_app(config, recorder, state)) as client:
        answer = await client.post("/api/v2/prospects", data=b"{}")
        body = orjson.loads(await answer.read())
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "2023-11-14T22:13:20.000Z"
    [error] = body["errors"]
    assert error["id"] == "scheduledServerMaintenance"
    assert error["detail"].endswith("please try again at 2023-11-14T22:13:20.000Z.")
    assert recorder.calls == 0
    assert state.injected["maintenance"] == 1


async def test_reset_before_the_handler_drops_the_request() -> None:
    recorder, state = Recorder(), FaultState()
    async with _served(_app(FaultConfig(reset_rate=1.0), recorder, state)) as client:
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.get("/api/v2/prospects")
    assert recorder.calls == 0
    assert state.injected["reset"] == 1


async def test_reset_after_a_write_lets_it_take_effect_unanswered() -> None:
    recorder, state = Recorder(), FaultState()
    config = FaultConfig(reset_after_write_rate=1.0)
    async with _served(_app(config, recorder, state)) as client:
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.post("/api/v2/prospects", data=b'{"data": {}}')
        assert recorder.calls == 1
        read = await client.get("/api/v2/prospects")
    assert read.status == 200
    assert recorder.calls == 2
    assert state.injected["reset_after_write"] == 1


async def test_latency_and_jitter_go_through_the_injected_sleep() -> None:
    recorder, sleep = Recorder(), FakeClock()
    config = FaultConfig(latency=2.0, jitter=1.0, seed=5)
    async with _served(_app(config, recorder, FaultState(), sleep)) as client:
        for _ in range(3):
            assert (await client.get("/api/v2/prospects")).status == 200
    expected = [plan.delay for plan in _plans(config, count=3)]
    assert sleep.sleeps == expected
    assert all(2.0 <= wait < 3.0 for wait in sleep.sleeps)


async def test_a_slow_answer_holds_the_request_past_the_client_timeout() -> None:
    """The slow answer waits ``slow_delay`` through the injected sleep, which here never ends:
    the client gives up (cancelled by the test, as its timeout would) and the handler is never
    reached. No real time passes."""
    recorder, state = Recorder(), FaultState()
    asked: list[float] = []
    waiting = asyncio.Event()

    async def sleep_forever(seconds: float) -> None:
        asked.append(seconds)
        waiting.set()
        await asyncio.Event().wait()

    config = FaultConfig(slow_rate=1.0, slow_delay=35.0)
    middleware = fault_middleware(config, sleep_forever, clock=lambda: 0.0, state=state)
    app = web.Application(middlewares=[middleware])
    app.router.add_get("/api/v2/prospects", recorder.handle)
    async with _served(app) as client:
        request = asyncio.ensure_future(client.get("/api/v2/prospects"))
        await asyncio.wait_for(waiting.wait(), 30)  # a hang guard, not a timing
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
    assert asked == [35.0]
    assert state.injected["slow"] == 1
    assert recorder.calls == 0


async def test_a_heavy_page_is_an_html_502() -> None:
    recorder, state = Recorder(), FaultState()
    config = FaultConfig(heavy_page_limits={"mailing": 500})
    async with _served(_app(config, recorder, state)) as client:
        heavy = await client.get("/api/v2/mailings", params={"page[size]": "1000"})
        light = await client.get("/api/v2/mailings", params={"page[size]": "500"})
    assert (heavy.status, heavy.content_type) == (502, "text/html")
    assert light.status == 200
    assert state.injected["heavy_page"] == 1


async def test_paths_outside_the_api_are_never_faulted() -> None:
    recorder, state = Recorder(), FaultState()
    async with _served(_app(FaultConfig(error_rate_500=1.0), recorder, state)) as client:
        answer = await client.post("/oauth/token")
    assert answer.status == 201
    assert state.requests == 0
