"""What the sandbox's OAuth server saw: the tests of shared token stores read it the same way.

The sandbox's app is ``sandbox-client``/``sandbox-secret``; with
``sandbox.authority.strict_rotation`` a refresh token works once, as Outreach's do.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qs

from outreach_async.fleet import OAuthConfig
from outreach_async.sandbox import Sandbox

__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "oauth_seed",
    "presented_refresh_tokens",
    "reused_refresh_tokens",
    "token_posts",
]

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"


def token_posts(sandbox: Sandbox) -> int:
    """Calls of the token endpoint so far."""
    return sum(r.method == "POST" and r.path == "/oauth/token" for r in sandbox.requests)


def presented_refresh_tokens(sandbox: Sandbox) -> list[str]:
    """The refresh token of each refresh-token grant, in the order they came."""
    presented = []
    for request in sandbox.requests:
        if request.method == "POST" and request.path == "/oauth/token":
            form = parse_qs(request.body if isinstance(request.body, str) else "")
            if form.get("grant_type") == ["refresh_token"]:
                presented += form.get("refresh_token", [""])
    return presented


def reused_refresh_tokens(sandbox: Sandbox) -> list[str]:
    """Refresh tokens presented more than once (each a log-out under rotation): none, please."""
    return [token for token, n in Counter(presented_refresh_tokens(sandbox)).items() if n > 1]


def oauth_seed(sandbox: Sandbox) -> OAuthConfig:
    """A fleet tenant's ``oauth`` table for ``sandbox``, with a refresh token of a fresh login."""
    return OAuthConfig(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=sandbox.authority.issue_refresh_token(),
        token_url=sandbox.token_url,
    )
