"""pytest plugin: the ``outreach_sandbox`` fixture, a started :class:`Sandbox` per test.

Installed with outreach-async (entry point ``pytest11``); ``pip install outreach-async pytest`` is
all a project needs::

    async def test_export(outreach_sandbox):
        async with OutreachClient(outreach_sandbox.token, base_url=outreach_sandbox.base_url) as o:
            ...

    def test_sync_code(outreach_sandbox):
        run_my_job(outreach_sandbox.base_url, outreach_sandbox.token)

The sandbox serves from a thread with an event loop of its own (:class:`SandboxThread`), so the
fixture is an ordinary synchronous one: sync tests use it, and so do async tests on any loop. An
``async def`` test that asks for it and that no async plugin (pytest-asyncio, anyio) runs is run
here, on a fresh event loop; with such a plugin installed, that plugin runs it as usual.

Options are :class:`SandboxConfig` fields, from (later wins) the ``--outreach-sandbox-seed``
command-line option, the ``outreach_sandbox`` marker and indirect parametrisation::

    @pytest.mark.outreach_sandbox(seed=1000, random_seed=7)
    async def test_a(outreach_sandbox): ...

    @pytest.mark.parametrize("outreach_sandbox", [{"seed": 10}, {"seed": 500}], indirect=True)
    async def test_b(outreach_sandbox): ...
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from .server import Sandbox
from .thread import SandboxThread

__all__ = ["outreach_sandbox", "sandbox_options"]

MARKER = "outreach_sandbox"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--outreach-sandbox-seed``: the default seed of every ``outreach_sandbox``."""
    group = parser.getgroup("outreach-async")
    group.addoption(
        "--outreach-sandbox-seed",
        type=int,
        default=None,
        help="prospects to seed in every outreach_sandbox fixture (default: none)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): SandboxConfig fields for the outreach_sandbox fixture "
        "(e.g. seed=1000)",
    )


def sandbox_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The :class:`SandboxConfig` fields a test asks for (option, then marker, then param)."""
    options: dict[str, Any] = {}
    seed = request.config.getoption("--outreach-sandbox-seed", default=None)
    if seed is not None:
        options["seed"] = seed
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        options.update(marker.kwargs)  # closest marker (function over class over module) wins
    param = getattr(request, "param", None)
    if isinstance(param, Mapping):
        options.update(param)
    return options


#: markers by which an async plugin says it runs a test itself
_ASYNC_PLUGIN_MARKERS = ("asyncio", "anyio", "trio")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test using ``outreach_sandbox`` that no async plugin runs."""
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function) or MARKER not in pyfuncitem.fixturenames:
        return None  # pytest-asyncio hands pytest a sync wrapper for the tests it runs
    if any(pyfuncitem.get_closest_marker(name) for name in _ASYNC_PLUGIN_MARKERS):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(function(**arguments))
    return True


@pytest.fixture
def outreach_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A started sandbox (``base_url``, ``token``, ``store``, ``requests``) for one test."""
    with SandboxThread(**sandbox_options(request)) as sandbox:
        yield sandbox
