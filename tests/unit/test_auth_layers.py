"""The auth subpackage imports downwards only, with no import deferred into a function (issue 15).

Bottom up: ``_tokens`` (values and the store protocol), ``_provider`` (what every provider
shares), then ``_oauth``, ``_apptoken`` and ``_filestore``, and ``_login`` on top. The transport
below needs only the ``TokenProvider`` protocol from ``_http``, never the auth package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import outreach_async

PACKAGE = Path(outreach_async.__file__).parent
LAYER = {
    "_tokens": 0,
    "_provider": 1,
    "_oauth": 2,
    "_apptoken": 2,
    "_filestore": 2,
    "_redisstore": 2,
    "_login": 3,
}


def imported_modules(path: Path) -> tuple[set[str], list[int]]:
    """The modules a file imports at module level, and the lines of imports inside functions."""
    tree = ast.parse(path.read_text())
    top: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            top.add(base)
        elif isinstance(node, ast.Import):
            top.update(alias.name for alias in node.names)
    nested = [
        inner.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(node)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    ]
    return top, nested


@pytest.mark.parametrize("name", sorted(LAYER))
def test_each_auth_module_imports_only_lower_layers_and_never_late(name: str) -> None:
    top, nested = imported_modules(PACKAGE / "auth" / f"{name}.py")

    assert nested == [], f"auth/{name}.py imports inside a function at lines {nested}"
    siblings = {m.lstrip(".") for m in top if m.startswith(".") and not m.startswith("..")}
    siblings |= {m.rsplit(".", 1)[1] for m in top if m.startswith("outreach_async.auth.")}
    for sibling in siblings:
        assert LAYER[sibling] < LAYER[name], f"auth/{name}.py imports {sibling}, not below it"


@pytest.mark.parametrize("name", ["_http.py", "_transport.py"])
def test_the_wire_does_not_import_the_auth_package(name: str) -> None:
    top, nested = imported_modules(PACKAGE / name)
    assert not any("auth" in m.split(".") for m in top)
    assert nested == []
