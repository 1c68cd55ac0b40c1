"""CI runs what the README says it runs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    section = (ROOT / "README.md").read_text().split("## Two commands\n", 1)[1]
    block = section.split("```console\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    test_command = commands[1]
    assert test_command.endswith("nox -s tests lint typecheck")
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_nox_runs_the_three_checks_by_default() -> None:
    noxfile = (ROOT / "noxfile.py").read_text()
    assert 'nox.options.sessions = ["tests", "lint", "typecheck"]' in noxfile
    assert 'session.run("lint-imports")' in noxfile
