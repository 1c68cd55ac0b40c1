"""Fixtures for the sandbox's own tests: plain HTTP over loopback with aiohttp's client.

These tests check the sandbox against the facts file, so they speak raw JSON:API rather than go
through our client (the integration tests do that).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import attrs
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer
from multidict import CIMultiDictProxy

from outreach_async.sandbox import Sandbox

JSONAPI = "application/vnd.api+json"


@attrs.frozen
class Reply:
    """An answer: status, decoded body (None when empty, text when not JSON) and headers."""

    status: int
    body: Any
    headers: CIMultiDictProxy[str]

    @property
    def data(self) -> Any:
        return self.body["data"]

    @property
    def error(self) -> dict[str, Any]:
        """The first JSON:API error object."""
        errors: list[dict[str, Any]] = self.body["errors"]
        return errors[0]


@attrs.define
class Api:
    """A tiny JSON:API caller bound to one sandbox."""

    session: aiohttp.ClientSession
    sandbox: Sandbox

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.sandbox.base_url}{path}"

    async def call(
        self,
        method: str,
        path: str,
        document: Any = None,
        *,
        params: Mapping[str, str] | None = None,
        content_type: str | None = JSONAPI,
        raw: bytes | None = None,
    ) -> Reply:
        headers = {"Content-Type": content_type} if content_type else {}
        body = raw if raw is not None else None if document is None else orjson.dumps(document)
        async with self.session.request(
            method, self.url(path), params=params, data=body, headers=headers
        ) as response:
            content = await response.read()
            try:
                decoded: Any = orjson.loads(content) if content else None
            except orjson.JSONDecodeError:
                decoded = content.decode()
            return Reply(response.status, decoded, response.headers)

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Reply:
        return await self.call("GET", path, params=params, content_type=None)

    async def post(self, path: str, document: Any, **kwargs: Any) -> Reply:
        return await self.call("POST", path, document, **kwargs)

    async def patch(self, path: str, document: Any, **kwargs: Any) -> Reply:
        return await self.call("PATCH", path, document, **kwargs)

    async def delete(self, path: str) -> Reply:
        return await self.call("DELETE", path, content_type=None)

    async def action(self, path: str, params: Mapping[str, str] | None = None) -> Reply:
        return await self.call("POST", path, params=params, content_type=None)

    async def create(self, type_: str, path: str, **fields: Any) -> dict[str, Any]:
        """POST a resource (``attributes``/``relationships`` keywords); asserts 201, returns it."""
        data = {"type": type_, **fields}
        reply = await self.post(path, {"data": data})
        assert reply.status == 201, reply.body
        resource: dict[str, Any] = reply.data
        return resource


def ref(type_: str, id_: int) -> dict[str, Any]:
    """A relationship object pointing at one resource."""
    return {"data": {"type": type_, "id": id_}}


@pytest.fixture
async def api(outreach_sandbox: Sandbox) -> AsyncIterator[Api]:
    """An :class:`Api` on the test's sandbox, authenticated with its token."""
    headers = {"Authorization": f"Bearer {outreach_sandbox.token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield Api(session, outreach_sandbox)


@attrs.define
class Receiver:
    """A webhook receiver on loopback: its URL and what it received (raw body, headers)."""

    server: BaseTestServer
    received: list[tuple[bytes, dict[str, str]]] = attrs.field(factory=list)

    def url(self, path: str = "/webhooks") -> str:
        return str(self.server.make_url(path))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A loopback webhook receiver answering 200 to any POST and recording it."""
    received: list[tuple[bytes, dict[str, str]]] = []

    async def record(request: web.Request) -> web.Response:
        received.append((await request.read(), dict(request.headers)))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/{path:.*}", record)
    async with TestServer(app, host="127.0.0.1") as server:
        yield Receiver(server, received)
