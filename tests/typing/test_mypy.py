"""mypy on the README's programs (they type-check under --strict) and on ``rejected.py`` (exactly
its marked lines fail): typed ids, server stamps and per-resource TypedDict inputs hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api as mypy_api

ROOT = Path(__file__).resolve().parents[2]
REJECTED = Path(__file__).with_name("rejected.py")
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
MARKED = re.compile(r"# error: ([a-z-]+)$")
ERROR_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")


def readme_programs() -> list[str]:
    """The README's complete programs: the python blocks that run themselves."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [block for block in BLOCK.findall(text) if "asyncio.run(" in block]


def mypy_errors(*paths: Path) -> list[tuple[str, int, str]]:
    stdout, stderr, _ = mypy_api.run(
        ["--strict", "--no-error-summary", "--show-error-codes", *map(str, paths)]
    )
    assert not stderr, stderr
    found = []
    for line in stdout.splitlines():
        match = ERROR_LINE.match(line)
        if match:
            found.append((Path(match["file"]).name, int(match["line"]), match["code"]))
        else:
            assert ": note:" in line, line
    return found


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, int, str]]:
    # one mypy run for every file: the package is analysed once
    folder = tmp_path_factory.mktemp("readme")
    programs = []
    for index, block in enumerate(readme_programs()):
        path = folder / f"readme_{index}.py"
        path.write_text(block, encoding="utf-8")
        programs.append(path)
    return mypy_errors(*programs, REJECTED)


def test_the_readme_has_programs_to_check() -> None:
    programs = readme_programs()
    assert any("outreach.prospects.update(sally.id" in p for p in programs)  # the quickstart
    assert any("ProspectFilter" in p for p in programs)  # the Models section


def test_the_readme_programs_type_check(checked: list[tuple[str, int, str]]) -> None:
    assert [e for e in checked if e[0].startswith("readme_")] == []


def test_misspelled_fields_and_filter_keys_fail_mypy(checked: list[tuple[str, int, str]]) -> None:
    expected = [
        (REJECTED.name, number, marked[1])
        for number, line in enumerate(REJECTED.read_text().splitlines(), start=1)
        if (marked := MARKED.search(line))
    ]
    assert len(expected) == 7
    assert sorted(e for e in checked if e[0] == REJECTED.name) == expected
