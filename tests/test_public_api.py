"""The public surface of API.md: every name importable from the package, __all__ sorted and
complete (as httpx checks its own), and one error tree, drawn as it is defined."""

from __future__ import annotations

import importlib
import pkgutil
import re
import types
from collections.abc import Callable
from pathlib import Path

import pytest

import outreach_async
from outreach_async import OutreachError, _exceptions, _hooks, _ratelimit, _retry, models

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


# --- __all__ as httpx checks it ---------------------------------------------------------------


def test_all_names_every_public_member_and_nothing_private() -> None:
    public = sorted(
        name
        for name, value in vars(outreach_async).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    )
    assert outreach_async.__all__ == public
    assert not [name for name in outreach_async.__all__ if name.startswith("_")]


def test_the_extension_types_are_exported() -> None:
    # what RetryPolicy.decide receives, what a RateLimiter is told, what hooks are called with
    assert outreach_async.RetryContext is _retry.RetryContext
    assert outreach_async.RateLimitInfo is _ratelimit.RateLimitInfo
    for event in ("RequestEvent", "ResponseEvent", "RetryEvent", "RateLimitEvent"):
        assert getattr(outreach_async, event) is getattr(_hooks, event)


# --- one error tree -----------------------------------------------------------------------------

#: exceptions defined outside _exceptions on purpose: they never reach a user of the client
#: (the sandbox turns its own into HTTP answers; the CLI turns UsageError into exit status 2)
INTERNAL_EXCEPTIONS = {
    "outreach_async.cli._status.StateConflict",
    "outreach_async.cli._status.UsageError",
    "outreach_async.sandbox.errors.ApiError",
    "outreach_async.sandbox.oauth.OAuthError",
}


def _error_classes() -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(_exceptions).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }


def _exceptions_defined_in_the_package() -> set[str]:
    found = set()
    for info in pkgutil.walk_packages(outreach_async.__path__, "outreach_async."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
            ):
                found.add(f"{value.__module__}.{value.__qualname__}")
    return found


def test_every_exception_is_defined_in_exceptions_and_derives_from_outreach_error() -> None:
    defined_elsewhere = {
        name
        for name in _exceptions_defined_in_the_package()
        if not name.startswith("outreach_async._exceptions.")
    }
    assert defined_elsewhere == INTERNAL_EXCEPTIONS
    for cls in _error_classes().values():
        assert issubclass(cls, outreach_async.OutreachError), cls


def test_every_exception_is_exported_from_the_package() -> None:
    for name, cls in _error_classes().items():
        assert getattr(outreach_async, name) is cls
        assert name in _exceptions.__all__


def _tree(text: str) -> dict[str, str]:
    """``{class name: parent name}`` from a tree drawn with ``├──``/``└──``: a line's names are
    children of the last name on the nearest line above it one level up."""
    lines = text.strip("\n").splitlines()
    margin = len(lines[0]) - len(lines[0].lstrip())
    parents: dict[str, str] = {}
    last_at_depth: dict[int, str] = {}
    for line in lines:
        line = line[margin:]
        branch = re.search(r"[├└]── ", line)
        depth = 0 if branch is None else branch.start() // 4 + 1
        names = [n for n in re.findall(r"\b[A-Z]\w*\b", line) if hasattr(_exceptions, n)]
        for name in names:
            if depth:
                parents[name] = last_at_depth[depth - 1]
        if names:
            last_at_depth[depth] = names[-1]
    return parents


def _drawn_tree_in_docstring() -> str:
    doc = _exceptions.__doc__ or ""
    return doc.split("::\n", 1)[1].split("\n\n", 1)[0]


def _drawn_tree_in_readme() -> str:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("### Errors\n", 1)[1]
    return section.split("```\n", 2)[1]


def _real_tree() -> dict[str, str]:
    parents = {}
    for name, cls in _error_classes().items():
        if cls is not outreach_async.OutreachError:
            parents[name] = next(
                base.__name__ for base in cls.__bases__ if issubclass(base, OutreachError)
            )
    return parents


@pytest.mark.parametrize("drawing", [_drawn_tree_in_docstring, _drawn_tree_in_readme])
def test_the_drawn_error_tree_is_the_class_tree(drawing: Callable[[], str]) -> None:
    assert _tree(drawing()) == _real_tree()
