"""pytest plugin: the ``outreach_sandbox`` fixture, a started :class:`Sandbox` per test.

Installed with outreach-async (entry point ``pytest11``), so a project's tests can just ask::

    async def test_export(outreach_sandbox):
        async with OutreachClient(outreach_sandbox.token, base_url=outreach_sandbox.base_url) as o:
            ...

Options are :class:`SandboxConfig` fields, from (later wins) the ``--outreach-sandbox-seed``
command-line option, the ``outreach_sandbox`` marker and indirect parametrisation::

    @pytest.mark.outreach_sandbox(seed=1000, random_seed=7)
    async def test_a(outreach_sandbox): ...

    @pytest.mark.parametrize("outreach_sandbox", [{"seed": 10}, {"seed": 500}], indirect=True)
    async def test_b(outreach_sandbox): ...

The fixture is asynchronous and needs pytest-asyncio (it runs on the test's event loop).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .server import Sandbox

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


def _async_fixture(function: Callable[..., Any]) -> Any:
    """``pytest_asyncio.fixture``, or a fixture that explains it is missing."""
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - pytest-asyncio is a test dependency of ours

        def missing(request: pytest.FixtureRequest) -> None:
            pytest.fail("the outreach_sandbox fixture needs pytest-asyncio")

        missing.__name__ = function.__name__
        return pytest.fixture(missing)
    return pytest_asyncio.fixture(function)


@_async_fixture
async def outreach_sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    """A started sandbox (``base_url``, ``token``, ``store``, ``requests``) for one test."""
    from .server import Sandbox

    async with Sandbox(**sandbox_options(request)) as sandbox:
        yield sandbox
