"""The public surface of API.md: every name importable from the package, __all__ sorted."""

from __future__ import annotations

import outreach_async
from outreach_async import models

API_NAMES = [
    "OutreachClient",
    "Ref",
    "UNSET",
    "Range",
    "since",
    "until",
    "IS_NULL",
    "NOT_NULL",
    "StaticToken",
    "OAuth2Refresh",
    "TokenProvider",
    "Page",
    "Paginator",
    "OutreachError",
    "QueryError",
    "TransportError",
    "ConnectError",
    "RequestTimeout",
    "APIError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "RateLimitError",
    "ServerError",
    "ResponseFormatError",
    "WebhookVerificationError",
    "Account",
    "Prospect",
    "Sequence",
    "SequenceStep",
    "SequenceState",
    "SequenceTemplate",
    "Ruleset",
    "Snippet",
    "Template",
    "Mailing",
    "Mailbox",
    "Task",
    "Call",
    "Event",
    "User",
    "Webhook",
    "ComplianceRequest",
]


def test_all_is_sorted_and_complete() -> None:
    assert outreach_async.__all__ == sorted(outreach_async.__all__)
    for name in outreach_async.__all__:
        assert hasattr(outreach_async, name), name


def test_every_name_of_the_contract_is_importable_from_the_package() -> None:
    missing = [n for n in API_NAMES if n not in outreach_async.__all__]
    assert missing == []


def test_every_model_is_exported() -> None:
    for cls in models.MODELS.values():
        assert getattr(outreach_async, cls.__name__) is cls


def test_query_error_is_also_a_value_error() -> None:
    assert issubclass(outreach_async.QueryError, ValueError)
