"""The transport seam: the client's only aiohttp importer.

:class:`Transport` turns a :class:`~outreach_async._http.Request` into a
:class:`~outreach_async._http.Response` or a typed error. Around each try it:

1. waits for the rate limiter's permission (outside any concurrency slot),
2. asks the token provider for a bearer token (never sent to another origin than ``base_url``),
3. takes one of ``max_concurrency`` slots only while the request is on the wire, headers sent
   to body read, under a per-request total timeout,
4. shows every answer's headers to the rate limiter, then returns a 2xx, refreshes the token
   once on a 401, retries per the :class:`RetryPolicy` (backoff and ``Retry-After`` sleeps
   outside the slot), or raises the typed error of ``_exceptions``.

aiohttp's exceptions become :class:`ConnectError` / :class:`RequestTimeout` in one place,
:func:`map_client_error`, chained with ``from``. A write that may have reached the server is
never repeated behind the caller's back: the error says it may or may not have taken effect.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import platform
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeAlias

import aiohttp
from yarl import URL

from outreach_async._exceptions import (
    APIError,
    ConnectError,
    OutreachError,
    RequestTimeout,
    TransportError,
    error_for_status,
)
from outreach_async._hooks import (
    Hooks,
    RateLimitEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    logger,
    safe_url,
)
from outreach_async._http import JSONAPI_MEDIA_TYPE, Method, Request, Response, TokenProvider
from outreach_async._jsonapi import parse_error_body
from outreach_async._ratelimit import AdaptiveRateLimiter, RateLimiter, parse_rate_limit_headers
from outreach_async._retry import (
    Failure,
    RetryContext,
    RetryPolicy,
    compute_backoff,
    parse_retry_after,
    retry_after_jitter,
    should_retry,
    within_connect_deadline,
)

__all__ = ["DEFAULT_USER_AGENT", "MAY_HAVE_TAKEN_EFFECT", "Transport", "map_client_error"]


def _user_agent() -> str:
    try:
        version = importlib.metadata.version("outreach-async")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source checkout
        version = "0"
    return (
        f"outreach-async/{version} aiohttp/{aiohttp.__version__} python/{platform.python_version()}"
    )


DEFAULT_USER_AGENT = _user_agent()

#: Added to errors of writes that may have arrived: repeating them could duplicate the record.
MAY_HAVE_TAKEN_EFFECT = (
    "the request may have reached Outreach, so the write may or may not have taken effect; "
    "it was not retried, to avoid a duplicate"
)

#: Statuses whose Retry-After is honoured: rate limit and maintenance (facts 2).
_RETRY_AFTER_STATUSES = frozenset({429, 503})
#: Never trust a wait further than the rate-limit window ahead (facts 2, client guidance).
_RETRY_AFTER_MAX = 3600.0

Sleep: TypeAlias = Callable[[float], Awaitable[Any]]
#: How a request's ``timeout`` is enforced: ``timer(seconds)`` is an async context manager that
#: raises ``TimeoutError`` when the block outlasts it (``asyncio.timeout``, or a test clock's).
Timer: TypeAlias = Callable[[float], AbstractAsyncContextManager[Any]]


def map_client_error(
    exc: BaseException, *, method: str, url: URL, idempotent: bool = True
) -> TransportError:
    """The :class:`TransportError` for an aiohttp or timeout error (the one mapping place).

    ``sent`` is False only when the request provably never reached the server: no connection
    could be made (refused, DNS, TLS, connect timeout) or the URL was unusable. Otherwise the
    server may have received it, and for a write the message says so.
    """
    shown = safe_url(url)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return RequestTimeout(
            f"{method} {shown}: could not connect within the timeout",
            method=method,
            url=shown,
            sent=False,
        )
    if isinstance(exc, aiohttp.ClientConnectorError) and _is_dns_failure(exc):
        return ConnectError(
            f"{method} {shown}: cannot resolve the host name {exc.host!r} "
            f"({exc.os_error.strerror or 'no address'})",
            method=method,
            url=shown,
            sent=False,
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError(
            f"{method} {shown}: cannot connect ({_describe_os_error(exc)})",
            method=method,
            url=shown,
            sent=False,
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return ConnectError(f"{method} {shown}: invalid URL", method=method, url=shown, sent=False)
    note = "" if idempotent else "; " + MAY_HAVE_TAKEN_EFFECT
    if isinstance(exc, TimeoutError):
        return RequestTimeout(
            f"{method} {shown}: no complete answer within the timeout{note}",
            method=method,
            url=shown,
        )
    # Never format str(exc): aiohttp puts full URLs (query included) into some messages.
    return ConnectError(
        f"{method} {shown}: connection lost ({type(exc).__name__}){note}",
        method=method,
        url=shown,
    )


def _unresolved(error: TransportError) -> bool:
    """Whether the host name of a failed attempt did not resolve."""
    cause = error.__cause__
    return isinstance(cause, aiohttp.ClientConnectorError) and _is_dns_failure(cause)


def _is_dns_failure(exc: aiohttp.ClientConnectorError) -> bool:
    # aiohttp 3.10+ says so with its own class; older ones keep the resolver's gaierror.
    dns_error = getattr(aiohttp, "ClientConnectorDNSError", None)
    if dns_error is not None and isinstance(exc, dns_error):
        return True
    return isinstance(exc.os_error, socket.gaierror)


def _describe_os_error(exc: aiohttp.ClientConnectorError) -> str:
    os_error = exc.os_error
    reason = os_error.strerror or type(os_error).__name__
    return f"{exc.host}:{exc.port}: {reason}"


def _failure(error: TransportError) -> Failure:
    """The ``RetryContext.failure`` of a transport error."""
    if _unresolved(error):
        return "unresolved"
    if error.sent is False:
        return "refused"
    return "timeout" if isinstance(error, RequestTimeout) else "lost"


def _with_note(error: OutreachError, note: str) -> OutreachError:
    """Append ``note`` to the error's message (its ``str``), keeping the error itself."""
    first = str(error.args[0]) if error.args else type(error).__name__
    error.args = (f"{first}; {note}", *error.args[1:])
    return error


def _same_origin(url: URL, base: URL) -> bool:
    return url.is_absolute() and url.origin() == base.origin()


class Transport:
    """Sends requests for one client: auth, rate limit, concurrency, retries, errors.

    One aiohttp session per transport, created lazily inside the running loop on first use, or
    the caller's own ``session``, which :meth:`aclose` leaves open. ``sleep``, ``clock``
    (monotonic), ``wall_clock`` (for HTTP dates) and ``rng`` are injectable for tests.
    """

    def __init__(
        self,
        *,
        base_url: URL,
        auth: TokenProvider,
        timeout: float = 30.0,
        timer: Timer = asyncio.timeout,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        session: aiohttp.ClientSession | None = None,
        hooks: Hooks | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.base_url = base_url
        self.auth = auth
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self.retry = retry if retry is not None else RetryPolicy()
        self._rng = rng or random.Random()
        self.rate_limiter: RateLimiter = (
            rate_limiter
            if rate_limiter is not None
            else AdaptiveRateLimiter(clock=clock, wall_clock=wall_clock, sleep=sleep, rng=self._rng)
        )
        self.hooks = hooks if hooks is not None else Hooks()
        self.user_agent = user_agent
        self._trace_configs = list(trace_configs)
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._session = session
        self._owns_session = session is None
        self._slots = asyncio.Semaphore(max_concurrency)
        # The whole request runs under ``timer`` (a test's clock can move it); aiohttp's own
        # timer keeps only the connect phase, so a connect timeout still proves "never sent".
        self._timer = timer
        self._client_timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout)
        self._closed = False
        # OAuth2Refresh calls the token endpoint through us (its module imports no aiohttp); our
        # base URL lets it refuse a default endpoint that belongs to another API.
        bind = getattr(auth, "bind", None)
        if callable(bind):
            bind(self.post_form, self.base_url)

    def __repr__(self) -> str:
        return f"<Transport {safe_url(self.base_url)}{' closed' if self._closed else ''}>"

    @property
    def closed(self) -> bool:
        """True after :meth:`aclose`."""
        return self._closed

    async def aclose(self) -> None:
        """Close the session this transport created; a caller's session is left open.

        A token renewal in flight (one started ahead of expiry) lands first: cut off, a rotated
        refresh token could be spent on the server and never saved."""
        settle = getattr(self.auth, "settle", None)
        if callable(settle):
            await settle()
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    # -- the one public way in ----------------------------------------------------------------

    async def send(self, request: Request) -> Response:
        """Send ``request`` until it succeeds, or raise the typed error; see the module doc."""
        self._check_open()
        retries = 0
        reauthenticated = False
        first_try = self._clock()
        while True:
            await self._wait_for_budget(request)
            try:
                token = await self._token_for(request.url)
            except BaseException:  # a refused refresh: this request is never sent
                await self._give_budget_back()
                raise
            attempt = retries + 1
            try:
                response = await self._try_once(request, token, attempt)
            except TransportError as failure:
                if failure.sent is False:
                    await self._give_budget_back()
                elapsed = self._clock() - first_try
                wait = self._wait_after_failure(request, attempt, failure, elapsed)
                if wait is None:
                    raise _gave_up(failure, retries) from failure.__cause__
                await self._pause_for_retry(request, attempt, wait, None, failure)
                retries += 1
                continue
            if 200 <= response.status < 300:
                return response
            if response.status == 401 and token is not None and not reauthenticated:
                # One refresh and one more try: a static token says no, so this raises below.
                reauthenticated = True
                if await self.auth.refresh(token):
                    logger.debug("%s %s: 401, retrying with a refreshed token", *_shown(request))
                    continue
            api_error, wait = await self._judge_error(request, response, attempt)
            if wait is None:
                raise _gave_up(api_error, retries)
            await self._pause_for_retry(request, attempt, wait, response.status, api_error)
            retries += 1

    async def post_form(
        self, url: URL, data: Mapping[str, str], *, headers: Mapping[str, str] | None = None
    ) -> Response:
        """POST a form to ``url`` without the client's bearer token (the OAuth token endpoint);
        any status is returned as a Response, connection errors raise :class:`TransportError`.
        No retries and no rate limiter: the token endpoint has its own throttle, which the
        provider handles. ``headers`` are added (the S2S install-token call sends its app JWT
        as ``Authorization``, facts 1.2)."""
        self._check_open()
        sent = {"Accept": "application/json", "User-Agent": self.user_agent, **(headers or {})}
        return await self._wire("POST", url, sent, dict(data), True)

    # -- one try ------------------------------------------------------------------------------

    async def _try_once(self, request: Request, token: str | None, attempt: int) -> Response:
        method, shown = _shown(request)
        await self.hooks.request(RequestEvent(method, shown, request.operation, attempt))
        started = self._clock()
        response = await self._wire(
            request.method, request.url, self._headers(token), request.body, request.idempotent
        )
        elapsed = self._clock() - started
        logger.debug(
            "%s %s -> %d in %.3f s (try %d)", method, shown, response.status, elapsed, attempt
        )
        if _same_origin(request.url, self.base_url):
            await self._observe(request, response)
        await self.hooks.response(
            ResponseEvent(method, shown, request.operation, attempt, response.status, elapsed)
        )
        return response

    def _headers(self, token: str | None) -> dict[str, str]:
        # Content-Type on every request: Outreach documents a 415 without it (facts 1.1).
        headers = {
            "Accept": JSONAPI_MEDIA_TYPE,
            "Content-Type": JSONAPI_MEDIA_TYPE,
            "User-Agent": self.user_agent,
        }
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _token_for(self, url: URL) -> str | None:
        """The bearer token, or None for a URL on another origin (a foreign ``links.next``)."""
        if not _same_origin(url, self.base_url):
            logger.debug(
                "%s is not on %s: sending it without the token",
                safe_url(url),
                self.base_url.origin(),
            )
            return None
        return await self.auth.token()

    async def _wire(
        self, method: Method, url: URL, headers: Mapping[str, str], body: Any, idempotent: bool
    ) -> Response:
        """Hold a slot while the request is on the wire, read the whole body, map errors."""
        session = self._ensure_session()
        async with self._slots:
            try:
                async with (
                    self._timer(self.timeout),
                    session.request(
                        method,
                        url,
                        headers=headers,
                        data=body,
                        timeout=self._client_timeout,
                        allow_redirects=False,
                    ) as answer,
                ):
                    payload = await answer.read()
                    return Response(
                        status=answer.status,
                        headers=answer.headers,
                        body=payload,
                        url=url,
                        method=method,
                    )
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise map_client_error(exc, method=method, url=url, idempotent=idempotent) from exc

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Created here, inside the running loop, never at construction (aiohttp wants a
            # loop). The semaphore enforces max_concurrency; the connector's limit says the same
            # explicitly instead of aiohttp's silent default of 100 (peer lessons 5.10).
            connector = aiohttp.TCPConnector(limit=self.max_concurrency)
            self._session = aiohttp.ClientSession(
                connector=connector, trace_configs=self._trace_configs or None
            )
        return self._session

    def _check_open(self) -> None:
        if self._closed:
            raise OutreachError("this transport is closed")

    # -- rate limit -----------------------------------------------------------------------------

    async def _wait_for_budget(self, request: Request) -> None:
        """Ask the limiter for permission; report a noticeable wait as a rate-limit event."""
        started = self._clock()
        await self.rate_limiter.acquire()
        waited = self._clock() - started
        if waited > 0:
            method, shown = _shown(request)
            logger.debug("%s %s waited %.3f s for the rate limit", method, shown, waited)
            await self.hooks.rate_limit(
                RateLimitEvent(method, shown, request.operation, None, waited)
            )

    async def _observe(self, request: Request, response: Response) -> None:
        now = self._wall_clock()
        info = parse_rate_limit_headers(response.headers, now)
        retry_after = self._retry_after(response)
        await self.rate_limiter.observe(info, status=response.status, retry_after=retry_after)
        if retry_after is not None:
            method, shown = _shown(request)
            await self.hooks.rate_limit(
                RateLimitEvent(method, shown, request.operation, response.status, retry_after)
            )

    def _retry_after(self, response: Response) -> float | None:
        """Seconds from Retry-After on a 429 or 503, bounded; None otherwise."""
        if response.status not in _RETRY_AFTER_STATUSES:
            return None
        seconds = parse_retry_after(response.headers.get("Retry-After"), self._wall_clock())
        return None if seconds is None else min(seconds, _RETRY_AFTER_MAX)

    # -- retries ------------------------------------------------------------------------------

    def _wait_after_failure(
        self, request: Request, attempt: int, error: TransportError, elapsed: float
    ) -> float | None:
        """Seconds to wait before retrying after a connection error or timeout, or None.

        A connection that could not be made is retried only within the policy's
        ``connect_deadline`` (the host is down, or the URL is wrong: say so within seconds).
        """
        failure = _failure(error)
        context = RetryContext(
            attempt=attempt,
            method=request.method,
            idempotent=request.idempotent,
            status=None,
            failure=failure,
            error=error,
            elapsed=elapsed,
        )
        if not should_retry(self.retry, context):
            return None
        wait = compute_backoff(self.retry, attempt, self._rng)
        if error.sent is False:
            return within_connect_deadline(self.retry, wait, elapsed)
        return wait

    async def _give_budget_back(self) -> None:
        """A request that never reached the server cost no budget: hand its rate-limit ticket
        back at once, or other requests wait for an answer that cannot come (the limiter's
        probe), and an unreachable host takes minutes to report instead of seconds."""
        release = getattr(self.rate_limiter, "release", None)
        if callable(release):
            await release()

    async def _judge_error(
        self, request: Request, response: Response, attempt: int
    ) -> tuple[APIError, float | None]:
        """The typed error of an error answer, and the wait before a retry (None: raise it)."""
        retry_after = self._retry_after(response)
        method, shown = _shown(request)
        error = error_for_status(
            response.status,
            errors=parse_error_body(response.body),
            headers=response.headers,
            body=response.body,
            method=method,
            url=shown,
            retry_after=retry_after,
        )
        if response.status in request.no_retry_statuses:
            return error, None  # the caller handles this status itself (the paginator's 502)
        # The policy knows which statuses mean "refused before running" (429), so that even a
        # POST may be sent again after them.
        context = RetryContext(
            attempt=attempt,
            method=request.method,
            idempotent=request.idempotent,
            status=response.status,
            failure=None,
            error=error,
        )
        if should_retry(self.retry, context):
            return error, self._retry_wait(attempt, retry_after)
        if response.status >= 500 and not request.idempotent:
            _with_note(error, MAY_HAVE_TAKEN_EFFECT)
        return error, None

    def _retry_wait(self, attempt: int, retry_after: float | None) -> float:
        """Retry-After plus positive jitter when the server said (so a fleet does not wake in
        lockstep, peer lessons 5.2); else capped exponential backoff with full jitter."""
        if retry_after is None:
            return compute_backoff(self.retry, attempt, self._rng)
        return retry_after_jitter(retry_after, self._rng)

    async def _pause_for_retry(
        self,
        request: Request,
        attempt: int,
        wait: float,
        status: int | None,
        error: OutreachError,
    ) -> None:
        """Report the retry, then sleep (no slot is held here)."""
        method, shown = _shown(request)
        reason = str(status) if status is not None else type(error).__name__
        logger.debug("%s %s: %s, retry %d in %.3f s", method, shown, reason, attempt, wait)
        error_name = None if status is not None else type(error).__name__
        await self.hooks.retry(
            RetryEvent(method, shown, request.operation, attempt, status, error_name, wait)
        )
        await self._sleep(wait)


def _shown(request: Request) -> tuple[str, str]:
    """Method and redacted URL, for logs, events and messages."""
    return request.method, safe_url(request.url)


def _gave_up(error: OutreachError, retries: int) -> OutreachError:
    if retries:
        _with_note(error, f"gave up after {retries} {'retry' if retries == 1 else 'retries'}")
    return error
