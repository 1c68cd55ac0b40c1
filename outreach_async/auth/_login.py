"""The OAuth 2.0 authorization-code flow, for people logging an app in (facts 1.1).

1. :func:`authorize_url` builds the page a person opens to grant the app its scopes;
2. Outreach redirects the browser to ``redirect_uri`` with ``code`` (and the ``state`` it was
   given, which the app checks: a redirect it did not ask for is refused);
3. :func:`exchange_code` trades the code at ``/oauth/token`` for a :class:`TokenSet`.

:func:`login` runs the three steps with a :class:`LoopbackRedirect`, a one-shot aiohttp.web
server on 127.0.0.1 that receives the redirect, and saves the tokens in a
:class:`~outreach_async.TokenStore`; ``outreach-async auth login`` is its command line.

The token endpoint is reached through the transport seam (``Transport.post_form``); this module
imports aiohttp's server only, for the loopback listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import inspect
import secrets
import threading
import time
import urllib.parse
import webbrowser
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from yarl import URL

from outreach_async._exceptions import AuthorizationError, QueryError, RateLimitError
from outreach_async._hooks import logger, safe_url
from outreach_async._http import TokenProvider
from outreach_async._retry import parse_retry_after
from outreach_async._transport import Transport

from ._oauth import (
    DEFAULT_TOKEN_URL,
    MAX_THROTTLED_TRIES,
    MINT_INTERVAL,
    grant_refused,
    parse_token_answer,
)
from ._provider import FormPoster
from ._tokens import TokenSet, TokenStore

__all__ = [
    "CALLBACK_PATH",
    "DEFAULT_AUTHORIZE_URL",
    "LoopbackRedirect",
    "authorize_url",
    "exchange_code",
    "login",
    "new_state",
    "open_in_browser",
]

DEFAULT_AUTHORIZE_URL = "https://api.outreach.io/oauth/authorize"
#: the path of the loopback redirect: register ``http://127.0.0.1:<port>/callback`` with Outreach
CALLBACK_PATH = "/callback"
#: how long :func:`login` waits for the person to finish in the browser, seconds
LOGIN_TIMEOUT = 300.0

Sleep = Callable[[float], Awaitable[Any]]
OpenURL = Callable[[str], object]


# -- step 1: the authorize URL ------------------------------------------------------------------


def new_state() -> str:
    """An unguessable ``state`` value (256 bits) that ties the redirect to this login."""
    return secrets.token_urlsafe(32)


def scope_list(scopes: str | Iterable[str]) -> list[str]:
    """Scope names from a list or a space- or comma-separated string; QueryError when empty."""
    given = [scopes] if isinstance(scopes, str) else list(scopes)
    names = [name for text in given for name in text.replace(",", " ").split()]
    if not names:
        raise QueryError(
            "name at least one scope, such as prospects.read (facts: <resource>.<level>)"
        )
    return list(dict.fromkeys(names))


def authorize_url(
    client_id: str,
    redirect_uri: str,
    scopes: str | Iterable[str],
    state: str | None = None,
    base: str = DEFAULT_AUTHORIZE_URL,
) -> str:
    """The URL a person opens to authorize the app (facts 1.1).

    ``scope`` is space-separated; every value is percent-encoded (a space as ``%20``, which no
    decoder mistakes for a plus sign). Scopes are not additive in Outreach: ``prospects.write``
    does not grant ``prospects.read``, so ask for each level you need (or ``.all``).
    """
    if not client_id or not redirect_uri:
        raise QueryError("authorize_url needs a client_id and a redirect_uri")
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(scope_list(scopes)),
    }
    if state is not None:
        params["state"] = state
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="")
    return f"{base}{'&' if '?' in base else '?'}{query}"


# -- step 3: the code exchange ------------------------------------------------------------------


class _NoToken(TokenProvider):
    """The token endpoint takes the client's credentials in the form, never a bearer token."""

    async def token(self) -> str:
        raise RuntimeError("no bearer token is sent to the token endpoint")

    async def refresh(self, rejected: str) -> bool:
        return False


async def exchange_code(
    code: str,
    *,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    token_url: str | URL = DEFAULT_TOKEN_URL,
    poster: FormPoster | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Sleep = asyncio.sleep,
) -> TokenSet:
    """Trade an authorization code for a :class:`TokenSet` at ``/oauth/token`` (facts 1.1).

    The endpoint mints one token per user every 60 s: a 429 is waited out (its Retry-After),
    not stormed. A refused code raises :class:`~outreach_async.AuthenticationError`. Without a
    ``poster`` (a client transport's ``post_form``) a short-lived transport is used.
    """
    url = URL(token_url)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    if poster is not None:
        return await _exchange(poster, url, form, clock, sleep)
    transport = Transport(base_url=url.origin(), auth=_NoToken())
    try:
        return await _exchange(transport.post_form, url, form, clock, sleep)
    finally:
        await transport.aclose()


async def _exchange(
    poster: FormPoster, url: URL, form: dict[str, str], clock: Callable[[], float], sleep: Sleep
) -> TokenSet:
    for _ in range(MAX_THROTTLED_TRIES):
        response = await poster(url, form)
        if response.status == 429:  # the code stays valid while throttled: wait, then retry
            retry_after = parse_retry_after(response.headers.get("Retry-After"), clock())
            wait = MINT_INTERVAL if retry_after is None else retry_after
            logger.warning("the token endpoint throttles new tokens: waiting %.0f s", wait)
            await sleep(wait)
            continue
        if not 200 <= response.status < 300:
            raise grant_refused(response, url, "authorization code exchange failed")
        return parse_token_answer(response, token_url=url, now=clock())
    raise RateLimitError(
        f"POST {safe_url(url)} -> HTTP 429: the token endpoint kept throttling "
        f"after {MAX_THROTTLED_TRIES} tries",
        status=429,
        method="POST",
        url=safe_url(url),
    )


# -- step 2: the loopback redirect --------------------------------------------------------------

_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>outreach-async</title></head>"
    "<body><h1>{title}</h1><p>{text}</p></body></html>"
)


def _page(status: int, title: str, text: str) -> web.Response:
    body = _PAGE.format(title=html.escape(title), text=html.escape(text))
    return web.Response(status=status, text=body, content_type="text/html")


class LoopbackRedirect:
    """A one-shot redirect listener on ``127.0.0.1`` (port 0: a free one).

    ``async with LoopbackRedirect(state) as listener:`` gives ``listener.redirect_uri``;
    ``await listener.code()`` returns the authorization code of the first redirect to
    :data:`CALLBACK_PATH`, or raises :class:`AuthorizationError` when that redirect carries an
    ``error`` or a ``state`` other than the expected one. Other paths (a browser's
    ``/favicon.ico``) get 404 and change nothing.

    The browser's page waits for :meth:`finish`, so it tells the truth: "Logged in" only once
    the code was exchanged and the tokens saved, else "Login failed" and why. Closing the
    listener without a verdict answers that the login did not finish.
    """

    def __init__(self, state: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.host = host
        self.port = port
        self._outcome: asyncio.Future[str] | None = None
        #: how the login ended, for the browser's page: None when it succeeded, else why not
        self._verdict: asyncio.Future[str | None] | None = None
        self._runner: web.AppRunner | None = None
        self._redirect_uri = ""

    @property
    def redirect_uri(self) -> str:
        """``http://127.0.0.1:<port>/callback``, once started."""
        if not self._redirect_uri:
            raise RuntimeError("the loopback listener is not started")
        return self._redirect_uri

    async def start(self) -> Self:
        """Listen (on loopback only: nothing else on the network can reach the code)."""
        loop = asyncio.get_running_loop()
        self._outcome = loop.create_future()
        self._verdict = loop.create_future()
        app = web.Application()
        app.router.add_get(CALLBACK_PATH, self._callback)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._redirect_uri = str(URL.build(scheme="http", host=host, port=port, path=CALLBACK_PATH))
        return self

    async def code(self) -> str:
        """Wait for the redirect; its authorization code."""
        if self._outcome is None:
            raise RuntimeError("the loopback listener is not started")
        return await asyncio.shield(self._outcome)

    def finish(self, failure: str | None = None) -> None:
        """Tell the waiting browser how the login ended: ``failure`` says why it failed, None
        means the tokens are saved. Only the first verdict counts."""
        if self._verdict is not None and not self._verdict.done():
            self._verdict.set_result(failure)

    async def aclose(self) -> None:
        """Answer a browser still waiting (the login did not finish), then stop listening."""
        self.finish("the login stopped before it finished; the terminal says why")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._outcome is not None and not self._outcome.done():
            self._outcome.cancel()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _callback(self, request: web.Request) -> web.Response:
        assert self._outcome is not None
        if self._outcome.done():
            return _page(409, "Already done", "This login has finished; close this window.")
        query = request.query
        if not hmac.compare_digest(query.get("state", "").encode(), self.state.encode()):
            # RFC 6749 10.12: a redirect without our state may be forged (login CSRF).
            self._fail("the redirect's state does not match this login; start again")
            return _page(400, "Login refused", "The state does not match. Start the login again.")
        if "error" in query:
            reason = query.get("error_description") or query["error"]
            self._fail(f"Outreach did not authorize the app: {reason}")
            return _page(400, "Not authorized", "The app was not authorized.")
        code = query.get("code", "")
        if not code:
            self._fail("the redirect carries no authorization code")
            return _page(400, "Login failed", "No authorization code arrived.")
        self._outcome.set_result(code)
        assert self._verdict is not None
        failure = await asyncio.shield(self._verdict)
        if failure is not None:
            return _page(500, "Login failed", f"{failure} Run the login again.")
        return _page(200, "Logged in", "The tokens are saved; you can close this window.")

    def _fail(self, message: str) -> None:
        assert self._outcome is not None
        self._outcome.set_exception(AuthorizationError(message))


# -- all three ----------------------------------------------------------------------------------


def open_in_browser(url: str) -> None:
    """Ask the system browser to open ``url``, without waiting for it and without failing.

    A daemon thread, because a console browser may hold ``webbrowser.open`` until it exits.
    """

    def attempt() -> None:
        with contextlib.suppress(Exception):
            webbrowser.open(url)

    threading.Thread(target=attempt, name="outreach-async-browser", daemon=True).start()


async def login(
    *,
    client_id: str,
    client_secret: str,
    scopes: str | Iterable[str],
    store: TokenStore,
    authorize_base: str = DEFAULT_AUTHORIZE_URL,
    token_url: str | URL = DEFAULT_TOKEN_URL,
    port: int = 0,
    open_url: OpenURL | None = open_in_browser,
    announce: Callable[[str], object] = print,
    browser_timeout: float = LOGIN_TIMEOUT,
    poster: FormPoster | None = None,
) -> TokenSet:
    """Run the authorization-code flow with a loopback redirect and save the tokens in
    ``store``; returns them.

    ``announce`` shows the authorize URL (the person may open it by hand); ``open_url`` opens
    it too when given (the system browser by default; it may return an awaitable, which runs
    alongside). ``port`` 0 picks a free port; Outreach matches redirect URIs exactly, so pass
    the port registered with the app (``http://127.0.0.1:<port>/callback``).
    ``browser_timeout`` bounds the wait for the redirect (:class:`AuthorizationError` then).
    The browser's page is answered once the tokens are saved, or says why the login failed
    (a refused client secret, say), while the error is raised here.
    """
    names = scope_list(scopes)
    state = new_state()
    async with LoopbackRedirect(state, port=port) as listener:
        url = authorize_url(client_id, listener.redirect_uri, names, state, authorize_base)
        announce(url)
        browsing = _start(open_url, url)
        try:
            code = await asyncio.wait_for(listener.code(), browser_timeout)
        except TimeoutError:
            raise AuthorizationError(
                f"no authorization arrived within {browser_timeout:.0f} s; run the login again"
            ) from None
        finally:
            await _finish(browsing)
        try:
            tokens = await exchange_code(
                code,
                client_id=client_id,
                client_secret=client_secret,
                redirect_uri=listener.redirect_uri,
                token_url=token_url,
                poster=poster,
            )
            await store.save(tokens)
        except Exception as error:
            listener.finish(f"The login failed: {error}.")
            raise
        listener.finish()
    return tokens


def _start(open_url: OpenURL | None, url: str) -> asyncio.Future[Any] | None:
    if open_url is None:
        return None
    result = open_url(url)
    return asyncio.ensure_future(result) if inspect.isawaitable(result) else None


async def _finish(browsing: asyncio.Future[Any] | None) -> None:
    """Let an awaitable opener end (it has had its answer); its failure is only logged."""
    if browsing is None:
        return
    try:
        await asyncio.wait_for(browsing, 5.0)
    except Exception as error:  # the code arrived or not; the opener's fate changes nothing
        logger.debug("opening the authorize URL failed: %r", error)
