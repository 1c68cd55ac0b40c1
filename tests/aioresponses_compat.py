"""A stop-gap that lets aioresponses 0.7.9 build responses on aiohttp 3.14.

aiohttp 3.14 added a required keyword argument ``stream_writer`` to ``ClientResponse.__init__``
(it reads ``stream_writer.output_size`` when the request has already been written, which is the
case for every mocked response: aioresponses passes ``writer=None``). aioresponses 0.7.9 does not
pass it, so every mocked request fails with ``TypeError: ClientResponse.__init__() missing 1
required keyword-only argument: 'stream_writer'`` (pnuckowski/aioresponses#289; the upstream fix,
PR #288, is not released yet).

:func:`install` wraps ``RequestMatch._build_response`` so the response class it is given receives
a stand-in writer that reports zero bytes written. It does nothing on an aiohttp whose
``ClientResponse`` does not take ``stream_writer``, and nothing on an aioresponses that already
passes it, so this module can be deleted as soon as a fixed aioresponses is released (then the
``aioresponses_mock`` fixture can use ``aioresponses`` directly).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import aiohttp
from aioresponses import aioresponses
from aioresponses.core import RequestMatch

__all__ = ["aioresponses", "install", "needs_stream_writer"]

_MARK = "_outreach_async_stream_writer_shim"


class _WrittenRequest:
    """The part of aiohttp's ``AbstractStreamWriter`` a finished response reads: bytes sent."""

    output_size = 0


def needs_stream_writer() -> bool:
    """True on aiohttps (3.14+) whose ``ClientResponse`` requires a ``stream_writer`` argument."""
    return "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters


def _with_stream_writer(response_class: type[aiohttp.ClientResponse]) -> Callable[..., Any]:
    """A factory that builds ``response_class`` with a stand-in writer unless one is given."""

    def build(method: str, url: Any, **kwargs: Any) -> aiohttp.ClientResponse:
        kwargs.setdefault("stream_writer", _WrittenRequest())
        return response_class(method, url, **kwargs)

    return build


def install() -> None:
    """Patch aioresponses once per process, only where aiohttp needs it (idempotent)."""
    original = RequestMatch._build_response
    if not needs_stream_writer() or getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def build_response(self: RequestMatch, *args: Any, **kwargs: Any) -> Any:
        response_class = kwargs.get("response_class") or aiohttp.ClientResponse
        kwargs["response_class"] = _with_stream_writer(response_class)
        return original(self, *args, **kwargs)

    setattr(build_response, _MARK, True)
    RequestMatch._build_response = build_response  # type: ignore[method-assign]


install()
