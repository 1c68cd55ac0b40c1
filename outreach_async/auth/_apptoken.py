"""Server-to-server (S2S) app tokens: an install's access token, minted with an app JWT.

Outreach's S2S access (facts 1.2): the app signs a JWT with its private RSA key (RS256, payload
``{iat, exp: iat + 3600, iss: S2S_GUID}``) and exchanges it at
``POST /api/app/installs/{install_id}/actions/accessToken`` (``Authorization: Bearer <app
JWT>``) for the install's access token, at ``data.meta.accessToken`` and valid one hour. The
token acts for the app in one organisation, not for a user.

:class:`AppTokenProvider` is a :class:`~outreach_async.TokenProvider`: it renews the install
token ``refresh_margin`` seconds before its hour runs out, once when Outreach answers 401, and
with the same single-flight discipline as :class:`~outreach_async.OAuth2Refresh` (one exchange
in flight however many requests wait for it).

PyJWT is an optional dependency (``pip install 'outreach-async[jwt]'``); it is imported when a
provider is built, with a clear error when it is missing.
"""

from __future__ import annotations

import datetime as dt
import importlib
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import orjson
from yarl import URL

from outreach_async._exceptions import ResponseFormatError, error_for_status
from outreach_async._hooks import logger, safe_url
from outreach_async._http import Response
from outreach_async._jsonapi import parse_error_body

from ._provider import RenewingProvider, SingleFlight, require_endpoint_for

__all__ = [
    "DEFAULT_API_ORIGIN",
    "AppTokenProvider",
    "HeaderFormPoster",
    "build_app_token",
    "install_token_url",
]

DEFAULT_API_ORIGIN = "https://api.outreach.io"
#: the app JWT's lifetime, ``exp - iat`` (facts 1.2)
APP_TOKEN_LIFETIME = 3600
#: an install token's lifetime when the answer does not say (facts 1.2: one hour)
INSTALL_TOKEN_LIFETIME = 3600.0

_MISSING_JWT = (
    "AppTokenProvider needs PyJWT with its crypto extra: pip install 'outreach-async[jwt]'"
)


class HeaderFormPoster(Protocol):
    """POST a form with extra headers; the transport's ``post_form`` is one."""

    def __call__(
        self, url: URL, data: Mapping[str, str], *, headers: Mapping[str, str] | None = None
    ) -> Awaitable[Response]: ...


def _load_jwt() -> Any:
    """PyJWT, with RSA support, or an ImportError that says what to install."""
    try:
        jwt = importlib.import_module("jwt")
    except ImportError as exc:
        raise ImportError(_MISSING_JWT) from exc
    if not getattr(importlib.import_module("jwt.algorithms"), "has_crypto", False):
        raise ImportError(_MISSING_JWT + " (PyJWT is there, the cryptography package is not)")
    return jwt


def build_app_token(s2s_guid: str, private_key: Any, *, now: float) -> str:
    """The app JWT: RS256 over ``{iat, exp: iat + 3600, iss: s2s_guid}`` (facts 1.2).

    ``private_key`` is the PEM text (or bytes) of the RSA key whose public half was uploaded to
    Outreach, or a key object of the ``cryptography`` package.
    """
    jwt = _load_jwt()
    issued = int(now)
    claims = {"iat": issued, "exp": issued + APP_TOKEN_LIFETIME, "iss": s2s_guid}
    return str(jwt.encode(claims, private_key, algorithm="RS256"))


def install_token_url(base: str | URL, install_id: str) -> URL:
    """``{base}/api/app/installs/{install_id}/actions/accessToken`` (facts 1.2)."""
    return URL(str(base).rstrip("/")) / "api/app/installs" / install_id / "actions/accessToken"


class AppTokenProvider(RenewingProvider):
    """Bearer tokens for one app install, minted with an app JWT and renewed before they expire.

    ``base`` is the API's origin (a sandbox's ``origin`` in tests); leave it out only for a
    client of Outreach's production API (any other base URL is refused when the client is
    built, so the app JWT never goes to the wrong server). The private key is checked at
    construction, by signing once, so a wrong key fails at start-up rather than at the first
    request. ``clock`` (wall time) is injectable.
    """

    def __init__(
        self,
        *,
        s2s_guid: str,
        private_key: Any,
        install_id: int | str,
        base: str | URL | None = None,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not s2s_guid:
            raise ValueError("AppTokenProvider needs the app's S2S GUID")
        if not str(install_id):
            raise ValueError("AppTokenProvider needs the install id")
        self.s2s_guid = s2s_guid
        self._private_key = _signing_key(private_key)  # parsed once: PEM parsing is slow
        self.install_id = str(install_id)
        self._base_given = base is not None
        self.url = install_token_url(DEFAULT_API_ORIGIN if base is None else base, self.install_id)
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._access_token: str | None = None
        self.expires_at: float | None = None
        self._retry_ahead_at = 0.0
        self._renewal = SingleFlight()
        self._poster: HeaderFormPoster | None = None
        self._app_token()  # fail now on a key that cannot sign

    def bind(self, poster: HeaderFormPoster, api_base: URL | None = None) -> None:
        """Give the provider the transport's way to POST (done by the client, with its base
        URL). Without a ``base``, a client of any API but Outreach's production one is refused
        with :class:`~outreach_async.QueryError`."""
        if not self._base_given:
            require_endpoint_for(
                api_base,
                "AppTokenProvider without base",
                "pass base= (a sandbox's is sandbox.origin)",
            )
        self._poster = poster

    def __repr__(self) -> str:
        return (
            f"AppTokenProvider(install_id={self.install_id!r}, url={safe_url(self.url)!r}, "
            f"expires_at={self.expires_at!r})"
        )

    # -- minting ------------------------------------------------------------------------------

    def _app_token(self) -> str:
        try:
            return build_app_token(self.s2s_guid, self._private_key, now=self._clock())
        except Exception as exc:  # PyJWT and cryptography raise several types for bad keys
            raise _unusable_key(exc) from None

    async def _mint(self) -> None:
        if self._poster is None:
            raise RuntimeError(
                "AppTokenProvider is not bound to a client yet: pass it to OutreachClient(...)"
            )
        logger.debug("minting an S2S install token at %s", safe_url(self.url))
        authorization = {"Authorization": f"Bearer {self._app_token()}"}
        response = await self._poster(self.url, {}, headers=authorization)
        if not 200 <= response.status < 300:
            raise error_for_status(
                response.status,
                errors=parse_error_body(response.body),
                headers=response.headers,
                body=response.body,
                method="POST",
                url=safe_url(self.url),
            )
        self._access_token, self.expires_at = self._parse(response)
        self._retry_ahead_at = 0.0

    async def _mint_ahead(self) -> None:
        """The exchange has no throttle: an early renewal is the same single exchange."""
        await self._mint()

    def _parse(self, response: Response) -> tuple[str, float]:
        """``data.meta.accessToken``, and when it expires (its ``expiresAt`` or one hour)."""
        try:
            raw: Any = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            raw = None
        meta = _dig(raw, "data", "meta")
        token = meta.get("accessToken") if isinstance(meta, dict) else None
        if not isinstance(token, str) or not token:
            raise ResponseFormatError(
                f"POST {safe_url(self.url)} -> HTTP {response.status}: "
                "the answer carries no data.meta.accessToken"
            )
        now = self._clock()
        expires_at = now + INSTALL_TOKEN_LIFETIME
        stated = _epoch(meta.get("expiresAt")) if isinstance(meta, dict) else None
        return token, expires_at if stated is None else min(stated, expires_at)


def _signing_key(private_key: Any) -> Any:
    """The key object PyJWT signs RS256 with (PEM text or bytes are parsed here, once)."""
    jwt = _load_jwt()
    if not isinstance(private_key, str | bytes):
        return private_key
    try:
        algorithm = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256)
        return algorithm.prepare_key(private_key)
    except Exception as exc:  # PyJWT and cryptography raise several types for bad keys
        raise _unusable_key(exc) from None


def _unusable_key(exc: Exception) -> ValueError:
    """Never shows the key: only what kind of failure it was."""
    return ValueError(
        f"private_key is not an RSA private key that can sign RS256 ({type(exc).__name__})"
    )


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _epoch(value: Any) -> float | None:
    """An ISO-8601 timestamp as epoch seconds (UTC when it names no zone), else None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()
