"""Auth: where the bearer token comes from, how it is renewed, and where tokens are kept.

- :class:`StaticToken`: a fixed access token (what a ``str`` passed to the client becomes).
- :class:`OAuth2Refresh`: the OAuth refresh-token grant, renewed ahead of expiry in the
  background and once after a 401; :meth:`OAuth2Refresh.from_store` seeds it from a
  :class:`TokenStore` and saves every new :class:`TokenSet` there before use.
- :class:`AppTokenProvider`: server-to-server install tokens minted with an app JWT.
- :class:`FileTokenStore`: one token set in a file (0600, written atomically), for one process.
- :class:`RedisTokenStore`: one org's token set shared by a fleet, renewed under a Redis lock
  with a lease (one refresh in flight per org; the ``redis`` extra).
- :func:`login`, :func:`authorize_url`, :func:`exchange_code`: the authorization-code flow
  (``outreach-async auth login`` runs :func:`login`).

Layers, bottom up: ``_tokens`` (values and the store protocol), ``_provider`` (what every
provider shares), then ``_oauth``, ``_apptoken`` and the stores side by side, and ``_login``
on top (it reaches the token endpoint through the transport). Every name here is importable from
``outreach_async`` too.
"""

from outreach_async._exceptions import AuthorizationError, TokenStoreError
from outreach_async._http import TokenProvider

from ._apptoken import AppTokenProvider
from ._filestore import FileTokenStore
from ._login import LoopbackRedirect, authorize_url, exchange_code, login
from ._oauth import DEFAULT_TOKEN_URL, OAuth2Refresh
from ._provider import StaticToken
from ._redisstore import RedisTokenStore
from ._tokens import SharedTokenStore, TokenSet, TokenStore

__all__ = [
    "DEFAULT_TOKEN_URL",
    "AppTokenProvider",
    "AuthorizationError",
    "FileTokenStore",
    "LoopbackRedirect",
    "OAuth2Refresh",
    "RedisTokenStore",
    "SharedTokenStore",
    "StaticToken",
    "TokenProvider",
    "TokenSet",
    "TokenStore",
    "TokenStoreError",
    "authorize_url",
    "exchange_code",
    "login",
]
