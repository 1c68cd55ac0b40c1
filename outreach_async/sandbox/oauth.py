"""The sandbox's OAuth 2.0 server: tokens, the ``/oauth/*`` routes and the bearer-token check.

What it imitates (outreach-api-facts.md §1):

- ``POST /oauth/token`` with the ``authorization_code`` and ``refresh_token`` grants, the body
  form-urlencoded or JSON (§1.1: both work in practice), answering ``access_token``,
  ``token_type``, ``expires_in`` (7200), ``refresh_token``, ``scope`` and ``created_at``.
- Refresh tokens live 14 days and at most 100 per user stay valid; each exchange issues a new one
  and, unless ``strict_rotation``, the old one keeps working until those limits (§1.1, the
  emulator suggestion for the conflicting rotation reports).
- One access token per user per 60 s, else 429 (§1.1 "Mint throttle", §11.3).
- A bad or expired token gets 401 with a body that is not JSON:API: the 2018 plain text
  ``Invalid access token`` or the recent gateway JSON (§1.3).
- Scopes ``<resource>.<read|write|delete|all>``, not additive; a missing one is 403
  ``unauthorizedOauthScope`` (§1.1). Tokens issued without a scope are unrestricted, which is what
  the sandbox's default token is.
- S2S: ``POST /api/app/installs/{id}/actions/accessToken`` with an app JWT answers
  ``data.meta.accessToken``, valid one hour (§1.2). The JWT's signature is not checked: any JWT
  naming an ``iss`` is accepted, since the sandbox holds no uploaded public key.

:class:`TokenAuthority` is pure state with the clock injected; the aiohttp pieces only translate.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs
import orjson
from aiohttp import BasicAuth, web
from aiohttp.typedefs import Handler, Middleware
from yarl import URL

from outreach_async.sandbox.errors import ApiError, error_response
from outreach_async.sandbox.ratelimit import USER_ID_KEY
from outreach_async.sandbox.times import format_epoch_ms

__all__ = [
    "OAuthError",
    "TokenAuthority",
    "add_oauth_routes",
    "auth_middleware",
    "required_scope",
]

_CODE_LIFETIME = 600.0
_FOURTEEN_DAYS = 14 * 24 * 3600.0


class OAuthError(Exception):
    """A refused token request, rendered as ``{"error", "error_description"}``."""

    def __init__(
        self, status: int, error: str, description: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.retry_after = retry_after


@attrs.define
class _AccessToken:
    user_id: int | None
    scopes: frozenset[str] | None
    expires_at: float | None


@attrs.define
class _RefreshToken:
    user_id: int
    scope: str
    issued_at: float
    serial: int


@attrs.define
class _AuthorizationCode:
    user_id: int
    redirect_uri: str
    scope: str
    expires_at: float


def _parse_scope(scope: str) -> frozenset[str] | None:
    names = frozenset(scope.split())
    return names or None


def _new_token() -> str:
    """43 URL-safe characters that never start with ``-``: a token pasted after ``--token``
    must not read as an option (one in 64 of ``token_urlsafe``'s did, and failed a command)."""
    return "t" + secrets.token_urlsafe(32)[1:]


@attrs.define
class TokenAuthority:
    """Issues, rotates, throttles and checks the sandbox's tokens; the clock is injected."""

    clock: Callable[[], float] = time.time
    token_lifetime: float = 7200.0
    mint_throttle: float = 60.0
    rotate_refresh_tokens: bool = True
    strict_rotation: bool = False
    client_id: str = "sandbox-client"
    client_secret: str = attrs.field(default="sandbox-secret", repr=False)
    refresh_token_lifetime: float = _FOURTEEN_DAYS
    max_refresh_tokens: int = 100
    app_token_lifetime: float = 3600.0
    #: The one user of the sandbox, on whose behalf every OAuth token acts.
    user_id: int = 1
    enforce_scopes: bool = True
    #: Access tokens minted by the token endpoint (not the static token), and 429s it sent.
    mint_count: int = attrs.field(default=0, init=False)
    throttled_count: int = attrs.field(default=0, init=False)
    _access: dict[str, _AccessToken] = attrs.field(factory=dict, init=False, repr=False)
    _refresh: dict[str, _RefreshToken] = attrs.field(factory=dict, init=False, repr=False)
    _codes: dict[str, _AuthorizationCode] = attrs.field(factory=dict, init=False, repr=False)
    _last_mint: dict[int, float] = attrs.field(factory=dict, init=False, repr=False)
    _refresh_serial: dict[int, int] = attrs.field(factory=dict, init=False, repr=False)

    # -- issuing outside the token endpoint (the sandbox itself and tests) --

    def issue_static_token(self, scope: str = "", *, token: str | None = None) -> str:
        """A token that never expires; unrestricted unless ``scope`` names scopes.

        ``token`` accepts a token string of your choosing (a documentation placeholder such as
        ``"ACCESS_TOKEN"``) instead of a random one.
        """
        token = _new_token() if token is None else token
        self._access[token] = _AccessToken(self.user_id, _parse_scope(scope), None)
        return token

    def issue_authorization_code(self, redirect_uri: str, scope: str = "") -> str:
        """A single-use code, valid 10 minutes, as the authorize step would hand out."""
        code = _new_token()
        expires_at = self.clock() + _CODE_LIFETIME
        self._codes[code] = _AuthorizationCode(self.user_id, redirect_uri, scope, expires_at)
        return code

    def issue_refresh_token(self, scope: str = "") -> str:
        """A refresh token as if a login had happened, for tests that start from one."""
        return self._new_refresh_token(self.user_id, scope)

    def issue_app_access_token(self) -> str:
        """An S2S install token: valid ``app_token_lifetime`` seconds, acting for no user."""
        token = _new_token()
        self._access[token] = _AccessToken(None, None, self.clock() + self.app_token_lifetime)
        return token

    # -- checking --

    def is_valid(self, token: str) -> bool:
        """Whether ``token`` is a known access token that has not expired."""
        return self._live_access(token) is not None

    def user_of(self, token: str) -> int | None:
        """The user a valid access token acts for (None for S2S or invalid tokens)."""
        found = self._live_access(token)
        return None if found is None else found.user_id

    def scopes_of(self, token: str) -> frozenset[str] | None:
        """The scopes of a valid access token; None means unrestricted."""
        found = self._live_access(token)
        return None if found is None else found.scopes

    def expire(self, token: str) -> None:
        """Make an access or refresh token expired at once (for tests of expiry handling)."""
        if token in self._access:
            self._access[token].expires_at = self.clock() - 1.0
        self._refresh.pop(token, None)

    @property
    def refresh_tokens(self) -> frozenset[str]:
        """The refresh tokens that a ``refresh_token`` grant would accept right now."""
        return frozenset(token for token in self._refresh if self._live_refresh(token))

    def _live_access(self, token: str) -> _AccessToken | None:
        found = self._access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at <= self.clock()):
            return None
        return found

    def _live_refresh(self, token: str) -> _RefreshToken | None:
        found = self._refresh.get(token)
        if found is None:
            return None
        too_old = found.issued_at + self.refresh_token_lifetime <= self.clock()
        # Outreach support: a refresh token dies after 100 newer ones (outreach-api-facts.md §1.1).
        newest = self._refresh_serial.get(found.user_id, 0)
        superseded = newest - found.serial >= self.max_refresh_tokens
        return None if too_old or superseded else found

    # -- the token endpoint --

    def grant(self, params: Mapping[str, str], basic: BasicAuth | None = None) -> dict[str, Any]:
        """Answer one ``/oauth/token`` request; raises :class:`OAuthError` on refusal."""
        self._check_client(params, basic)
        grant_type = params.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._grant_code(params)
        if grant_type == "refresh_token":
            return self._grant_refresh(params)
        raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type {grant_type!r}.")

    def _check_client(self, params: Mapping[str, str], basic: BasicAuth | None) -> None:
        client_id = params.get("client_id") or (basic.login if basic else "")
        client_secret = params.get("client_secret") or (basic.password if basic else "")
        if client_id != self.client_id or client_secret != self.client_secret:
            raise OAuthError(401, "invalid_client", "Client authentication failed.")

    def _grant_code(self, params: Mapping[str, str]) -> dict[str, Any]:
        code = self._codes.get(params.get("code", ""))
        if code is None or code.expires_at <= self.clock():
            raise OAuthError(400, "invalid_grant", "The authorization code is invalid or expired.")
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is not None and redirect_uri != code.redirect_uri:
            raise OAuthError(400, "invalid_grant", "The redirect_uri does not match.")
        self._check_throttle(code.user_id)
        del self._codes[params["code"]]
        refresh = self._new_refresh_token(code.user_id, code.scope)
        return self._mint(code.user_id, code.scope, refresh)

    def _grant_refresh(self, params: Mapping[str, str]) -> dict[str, Any]:
        presented = params.get("refresh_token", "")
        found = self._live_refresh(presented)
        if found is None:
            raise OAuthError(400, "invalid_grant", "The refresh token is invalid or expired.")
        # Throttle before spending the token, so a throttled client can retry with it later.
        self._check_throttle(found.user_id)
        refresh = presented
        if self.rotate_refresh_tokens:
            refresh = self._new_refresh_token(found.user_id, found.scope)
            if self.strict_rotation:
                del self._refresh[presented]
        return self._mint(found.user_id, found.scope, refresh)

    def _check_throttle(self, user_id: int) -> None:
        last = self._last_mint.get(user_id)
        if last is None:
            return
        wait = last + self.mint_throttle - self.clock()
        if wait > 0:
            self.throttled_count += 1
            raise OAuthError(
                429,
                "rate_limit_exceeded",
                "An access token was issued for this user less than "
                f"{self.mint_throttle:g} seconds ago.",
                retry_after=max(int(wait + 0.999), 1),
            )

    def _new_refresh_token(self, user_id: int, scope: str) -> str:
        serial = self._refresh_serial.get(user_id, 0) + 1
        self._refresh_serial[user_id] = serial
        token = _new_token()
        self._refresh[token] = _RefreshToken(user_id, scope, self.clock(), serial)
        return token

    def _mint(self, user_id: int, scope: str, refresh: str) -> dict[str, Any]:
        now = self.clock()
        token = _new_token()
        self._access[token] = _AccessToken(user_id, _parse_scope(scope), now + self.token_lifetime)
        self._last_mint[user_id] = now
        self.mint_count += 1
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": int(self.token_lifetime),
            "refresh_token": refresh,
            "scope": scope,
            "created_at": int(now),
        }


# -- scopes --


def required_scope(method: str, path: str, prefix: str = "/api/v2") -> str | None:
    """The scope ``<resource>.<level>`` a request needs, or None outside the resource paths."""
    resource = path[len(prefix) :].strip("/").split("/", 1)[0]
    if not resource:
        return None
    if method in ("GET", "HEAD", "OPTIONS"):
        level = "read"
    elif method == "DELETE":
        level = "delete"
    else:
        level = "write"
    return f"{resource}.{level}"


def _missing_scope(
    authority: TokenAuthority, token: str, request: web.Request, prefix: str
) -> str | None:
    """The scope the request needs and the token lacks, if any."""
    needed = required_scope(request.method, request.path, prefix)
    granted = authority.scopes_of(token)
    if not authority.enforce_scopes or needed is None or granted is None:
        return None
    # Scopes are not additive: only the exact level or ``all`` grants it (§1.1).
    resource = needed.rsplit(".", 1)[0]
    return None if needed in granted or f"{resource}.all" in granted else needed


# -- aiohttp: responses, middleware and routes --


def _oauth_error_response(error: OAuthError) -> web.Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    body = {"error": error.error, "error_description": error.description}
    return web.json_response(body, status=error.status, headers=headers, dumps=_dumps)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _unauthorized(style: Literal["text", "gateway"]) -> web.Response:
    if style == "gateway":
        body = {"error": "Invalid JWT token.", "description": "The JWT token could not be decoded."}
        return web.json_response(body, status=401, dumps=_dumps)
    return web.Response(status=401, text="Invalid access token", content_type="text/plain")


def _bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def auth_middleware(
    authority: TokenAuthority,
    *,
    unauthorized_body: Literal["text", "gateway"] = "text",
    path_prefix: str = "/api/v2",
) -> Middleware:
    """Require a valid bearer token under ``path_prefix``; 401 (not JSON:API) otherwise.

    On success the token's user id is stored under ``USER_ID_KEY`` for the rate limiter, and a
    token with scopes must hold the scope the method and resource need (else 403).
    """

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _under(request.path, path_prefix):
            return await handler(request)
        token = _bearer_token(request)
        if token is None or not authority.is_valid(token):
            return _unauthorized(unauthorized_body)
        user_id = authority.user_of(token)
        if user_id is not None:
            request[USER_ID_KEY] = user_id
        missing = _missing_scope(authority, token, request, path_prefix)
        if missing is not None:
            detail = f"Your authorization does not include the required scope '{missing}'."
            return error_response(
                ApiError(403, "unauthorizedOauthScope", "Unauthorized OAuth Scope", detail)
            )
        return await handler(request)

    return authenticate


async def _read_params(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        try:
            loaded = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            raise OAuthError(400, "invalid_request", "The body is not valid JSON.") from exc
        if not isinstance(loaded, dict):
            raise OAuthError(400, "invalid_request", "The body must be a JSON object.")
        return {str(key): str(value) for key, value in loaded.items()}
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _basic_auth(request: web.Request) -> BasicAuth | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        return BasicAuth.decode(header)
    except ValueError:
        return None


def _token_handler(authority: TokenAuthority) -> Handler:
    async def token(request: web.Request) -> web.StreamResponse:
        try:
            params = await _read_params(request)
            answer = authority.grant(params, _basic_auth(request))
        except OAuthError as error:
            return _oauth_error_response(error)
        return web.json_response(answer, dumps=_dumps, headers={"Cache-Control": "no-store"})

    return token


def _authorize_handler(authority: TokenAuthority) -> Handler:
    async def authorize(request: web.Request) -> web.StreamResponse:
        query = request.query
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != authority.client_id or not redirect_uri:
            # Never redirect for an unknown client: the redirect_uri is not trusted then.
            return web.Response(status=400, text="Unknown client or missing redirect_uri.")
        target = URL(redirect_uri)
        if query.get("response_type") != "code":
            target = target.extend_query(error="unsupported_response_type")
        else:
            code = authority.issue_authorization_code(redirect_uri, query.get("scope", ""))
            target = target.extend_query(code=code)
        if "state" in query:
            target = target.extend_query(state=query["state"])
        # The sandbox has one user who is always logged in and always consents.
        raise web.HTTPFound(location=str(target))

    return authorize


def _jwt_claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _jwt_expired(claims: Mapping[str, Any], now: float) -> bool:
    exp = claims.get("exp")
    if exp is None:
        return False
    return not isinstance(exp, int | float) or exp <= now


def _app_token_handler(authority: TokenAuthority) -> Handler:
    async def access_token(request: web.Request) -> web.StreamResponse:
        claims = _jwt_claims(_bearer_token(request) or "")
        if claims is None or not claims.get("iss") or _jwt_expired(claims, authority.clock()):
            return _unauthorized("gateway")
        token = authority.issue_app_access_token()
        expires_ms = int((authority.clock() + authority.app_token_lifetime) * 1000)
        meta = {"accessToken": token, "expiresAt": format_epoch_ms(expires_ms)}
        install_id = request.match_info["install_id"]
        data = {"type": "install", "id": install_id, "meta": meta}
        return web.json_response({"data": data}, dumps=_dumps)

    return access_token


def add_oauth_routes(app: web.Application, authority: TokenAuthority) -> None:
    """Add ``POST /oauth/token``, ``GET /oauth/authorize`` and the S2S install-token route."""
    app.router.add_post("/oauth/token", _token_handler(authority))
    app.router.add_get("/oauth/authorize", _authorize_handler(authority))
    app.router.add_post(
        "/api/app/installs/{install_id}/actions/accessToken", _app_token_handler(authority)
    )
