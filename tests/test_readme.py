"""Every ```python block of README.md runs, against a sandbox, as a reader would run it.

A small extractor rather than pytest-examples: when an example fails inside a coroutine,
pytest-examples' traceback rewriting (ctypes-built frames) crashes pytest on Python 3.11 with an
INTERNALERROR instead of showing the failure. Here a block is compiled with README.md as its file
name and its own line numbers, so a failure points at the README line.

Blocks are self-contained programs (imports included, ``asyncio.run(main())``). Each runs as
written, in a fresh module and a fresh working directory, with two things pointed at a sandbox
of its own (seeded with 100 prospects, serving from a thread): ``OutreachClient``'s default
``base_url`` (the production URL in the README) is the sandbox's, and the sandbox accepts the
README's placeholder token ``"ACCESS_TOKEN"``. A block that talks to Redis gets ``REDIS_URL``.

The line right before a block's fence may say how to treat it:

- ``<!-- readme-test: skip (the reason) -->``: the block cannot run here (a login against
  production, a fragment of someone's web app); the test is reported skipped with the reason.
- ``<!-- readme-test: pytest (...) -->``: the block is a test file. It is written into a fresh
  project and run by pytest in a subprocess with only the plugins ``pip install outreach-async
  pytest`` brings, exactly as the README tells a user to.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from outreach_async import OutreachClient
from outreach_async.sandbox import Sandbox
from outreach_async.sandbox.thread import SandboxThread

README = Path(__file__).resolve().parents[1] / "README.md"
PLACEHOLDER_TOKEN = "ACCESS_TOKEN"
DIRECTIVE = re.compile(r"<!-- readme-test: (?P<kind>skip|pytest) \((?P<reason>.*)\) -->")
#: what the README tells a user to install for the fixture (and nothing else)
FIXTURE_INSTALL_LINE = "pip install outreach-async pytest"
#: the distribution whose pytest plugin that install line brings
OUR_DISTRIBUTION = "outreach-async"


@dataclass(frozen=True)
class CodeExample:
    """A ```python block: its source, the README line of its fence, the line before that."""

    source: str
    fence_line: int
    line_before: str

    def run(self) -> None:
        """Execute the block as ``__main__``; tracebacks show README.md's own lines."""
        padded = "\n" * self.fence_line + self.source  # line numbers as in the README
        code = compile(padded, str(README), "exec")
        exec(code, {"__name__": "__main__", "__file__": str(README)})


def find_examples(text: str) -> list[CodeExample]:
    """Every block fenced with ```python at the start of a line."""
    lines = text.splitlines()
    examples, start = [], None
    for number, line in enumerate(lines):
        if start is None and line.strip() == "```python":
            start = number
        elif start is not None and line.strip() == "```":
            source = "\n".join(lines[start + 1 : number]) + "\n"
            examples.append(CodeExample(source, start + 1, lines[start - 1] if start else ""))
            start = None
    return examples


EXAMPLES = find_examples(README.read_text(encoding="utf-8"))


def directive(example: CodeExample) -> re.Match[str] | None:
    """The ``readme-test`` directive on the line right before the block's fence, if any."""
    return DIRECTIVE.fullmatch(example.line_before.strip())


def example_id(example: CodeExample) -> str:
    return f"README.md:{example.fence_line}"


@pytest.fixture
def readme_sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox the README's production-bound code reaches; the block runs in ``tmp_path``."""
    with SandboxThread(seed=100) as sandbox:
        sandbox.authority.issue_static_token(token=PLACEHOLDER_TOKEN)
        defaults = OutreachClient.__init__.__kwdefaults__
        assert defaults is not None
        assert "base_url" in defaults
        monkeypatch.setitem(defaults, "base_url", sandbox.base_url)
        monkeypatch.chdir(tmp_path)
        yield sandbox


@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_readme_block_runs(example: CodeExample, request: pytest.FixtureRequest) -> None:
    found = directive(example)
    if found is not None and found["kind"] == "skip":
        pytest.skip(found["reason"])
    if found is not None and found["kind"] == "pytest":
        outcome = run_in_fresh_project(request.getfixturevalue("tmp_path"), example.source)
        assert outcome.returncode == 0, outcome.stdout + outcome.stderr
        return
    if "redis" in example.source.lower():
        monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
    request.getfixturevalue("readme_sandbox")
    example.run()


def test_the_harness_finds_the_blocks_and_their_directives() -> None:
    """The blocks the README holds are the blocks tested, and a skip always names its reason."""
    fences = README.read_text(encoding="utf-8").count("```python")
    assert len(EXAMPLES) == fences
    kinds = [found["kind"] for found in map(directive, EXAMPLES) if found is not None]
    assert kinds.count("pytest") == 1  # the fixture example
    assert all(found["reason"].strip() for found in map(directive, EXAMPLES) if found)


# -- the fixture example in a fresh project ------------------------------------------------


def other_pytest_plugins() -> list[str]:
    """Entry-point names of installed pytest plugins that the install line does not bring."""
    names = set()
    for entry in importlib.metadata.entry_points(group="pytest11"):
        distribution = entry.dist.name if entry.dist is not None else ""
        if distribution.replace("_", "-").lower() != OUR_DISTRIBUTION:
            names.add(entry.name)
    return sorted(names)


def run_in_fresh_project(
    directory: Path,
    test_file: str,
    *,
    ini: str = "[pytest]\n",
    enable: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """``pytest`` in ``directory`` holding ``test_file``, isolated from this repository.

    Only our plugin is loaded (plus the ones named in ``enable``); ``-c`` and ``--rootdir`` keep
    this repository's pyproject (``asyncio_mode = auto``) out of it.
    """
    project = directory / "project"
    project.mkdir()
    (project / "pytest.ini").write_text(ini, encoding="utf-8")
    (project / "test_readme_example.py").write_text(test_file, encoding="utf-8")
    disabled = [f"-pno:{name}" for name in other_pytest_plugins() if name not in enable]
    command = [sys.executable, "-m", "pytest", "-c", str(project / "pytest.ini")]
    command += ["--rootdir", str(project), "-p", "no:cacheprovider", *disabled, "-rA"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        command, cwd=project, env=environment, capture_output=True, text=True, check=False
    )


def fixture_example() -> CodeExample:
    (example,) = (e for e in EXAMPLES if (found := directive(e)) and found["kind"] == "pytest")
    return example


def test_the_readme_names_the_one_install_line_the_fixture_needs() -> None:
    section = README.read_text(encoding="utf-8").split("## The sandbox", 1)[1]
    assert FIXTURE_INSTALL_LINE in section.split("## ", 1)[0]


def test_the_fixture_example_passes_with_only_pytest_installed(tmp_path: Path) -> None:
    outcome = run_in_fresh_project(tmp_path, fixture_example().source)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "2 passed" in outcome.stdout
    assert "asyncio" not in outcome.stdout.split("plugins:", 1)[-1].split("\n", 1)[0]


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_fixture_example_passes_beside_pytest_asyncio(tmp_path: Path, mode: str) -> None:
    """A project that already uses pytest-asyncio keeps working, in either mode."""
    ini = f"[pytest]\nasyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function\n"
    outcome = run_in_fresh_project(tmp_path, fixture_example().source, ini=ini, enable=["asyncio"])
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "2 passed" in outcome.stdout


def test_a_failing_async_test_fails_when_no_plugin_runs_it(tmp_path: Path) -> None:
    """The plugin really runs the coroutine: an assertion inside it fails the test."""
    failing = (
        "async def test_wrong_count(outreach_sandbox):\n"
        "    assert outreach_sandbox.store.count('prospect') == 1\n"
    )
    outcome = run_in_fresh_project(tmp_path, failing)
    assert outcome.returncode == 1, outcome.stdout + outcome.stderr
    assert "1 failed" in outcome.stdout
    assert "assert 0 == 1" in outcome.stdout
