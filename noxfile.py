"""The single entry point for development: ``nox -s tests lint typecheck``, ``bench``, ``demo``.

Every session installs what it needs from this project's own files, so a fresh machine with
Python 3.11+ and nox is enough.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

# The interpreter that runs nox, unless NOX_PYTHON names another (e.g. "3.13").
PYTHON = os.environ.get("NOX_PYTHON") or None
LINT_PATHS = ["outreach_async", "tests", "benchmarks", "tools", "noxfile.py"]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite (unit, integration against the sandbox, Redis when available)."""
    session.install("-e", ".[test,redis,jwt,postgres,duckdb]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (lint and formatting), and import-linter: the layers and no cycles (pyproject)."""
    session.install("ruff>=0.6", "import-linter>=2.1")
    session.run("ruff", "check", *LINT_PATHS)
    session.run("ruff", "format", "--check", *LINT_PATHS)
    session.run("lint-imports")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests, the benchmarks and the tools."""
    session.install("-e", ".[test,redis,postgres,duckdb]", "mypy>=1.11")
    session.run("mypy", "--strict")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every suite in benchmarks/; the figures go, stamped, to benchmarks/results.json and from
    there into the README's tables.

    ``nox -s bench -- --quick`` for a smoke run (no results file); ``-- client export`` runs
    those suites only and refreshes their figures.
    """
    # pytest: the rate-limit fleet run borrows tests/redis_server.py, the sinks suite starts its
    # PostgreSQL with tests/postgres_server.py
    session.install("-e", ".[redis,postgres,duckdb,fleet]", "pytest")
    session.run("python", "-m", "benchmarks", *session.posargs)
    if "--quick" not in session.posargs:
        session.run("python", "-m", "benchmarks.report")


@nox.session(python=PYTHON)
def bench_peers(session: nox.Session) -> None:
    """Side by side with the peers on one sandbox: tap-outreach, jsonapi-client, raw aiohttp
    (about 10 minutes on 2 cores); the figures go to benchmarks/peers/results.json and into the
    README's peers table.

    ``nox -s bench_peers -- --quick`` for a smoke run; ``-- --help`` for the options.
    """
    session.install("-e", ".")
    for peer in ("tap-outreach==1.2.2", "jsonapi-client==0.9.10"):
        try:
            session.install(peer)
        except nox.command.CommandFailed:  # the table then names it as not run
            session.warn(f"{peer} does not install on this Python; running without it")
    session.run("python", "-m", "benchmarks.peers", *session.posargs)
    if "--quick" not in session.posargs and "--out" not in session.posargs:
        session.run("python", "-m", "benchmarks.report")


#: Airbyte's Outreach connector and the Python it needs (< 3.12; its airbyte-cdk 0.90 fails at
#: import on 3.11, 3.10 works)
AIRBYTE_CONNECTOR = "airbyte-source-outreach==1.0.30"
AIRBYTE_PYTHONS = (
    *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python"))),
    "python3.10",
)


def _python_310() -> str | None:
    """AIRBYTE_PYTHON, else the first Python 3.10 found that really runs (a pyenv shim may not)."""
    candidates = [os.environ.get("AIRBYTE_PYTHON", ""), *AIRBYTE_PYTHONS]
    for candidate in filter(None, candidates):
        found = shutil.which(candidate)
        check = [found or candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 10)"]
        if found and subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return found
    return None


def _airbyte_python(session: nox.Session) -> str | None:
    """A Python 3.10 environment with the Airbyte connector (made once, beside this session's),
    or None with a warning when no 3.10 interpreter is found or the install fails."""
    base = _python_310()
    if base is None:
        session.warn("no Python 3.10 found (set AIRBYTE_PYTHON): the Airbyte connector is skipped")
        return None
    location = Path(session.virtualenv.location).with_name("connectors-airbyte")
    python = str(location / "bin" / "python")
    try:
        if not (location / ".installed").exists():
            session.run(base, "-m", "venv", "--clear", str(location), external=True)
            session.run(python, "-m", "pip", "install", "-q", AIRBYTE_CONNECTOR, external=True)
            (location / ".installed").touch()
    except nox.command.CommandFailed:
        session.warn(f"{AIRBYTE_CONNECTOR} does not install on {base}: the Airbyte run is skipped")
        return None
    return python


@nox.session(python=PYTHON)
def connectors(session: nox.Session) -> None:
    """Real connectors read every stream from a default-seeded sandbox: tap-outreach 1.2.2 (20
    streams) and, in a Python 3.10 environment when one is found, Airbyte's source-outreach
    1.0.30 (17 streams); each stream must have records that fit the connector's own schemas.

    ``nox -s connectors -- --measure`` also measures the Airbyte connector (results.json).
    """
    session.install("-e", ".", "tap-outreach==1.2.2")
    airbyte = _airbyte_python(session)
    args = ["--airbyte-python", airbyte] if airbyte else []
    session.run("python", "-m", "benchmarks.connectors", *args, *session.posargs)


@nox.session(python=PYTHON)
def singer(session: nox.Session) -> None:
    """The Singer tap against a real target: tap-outreach-async | target-postgres (meltanolabs),
    the tap SIGKILLed mid-run and resumed from the target's last STATE; every stream's table must
    hold each sandbox record exactly once. Needs PostgreSQL's binaries (Debian's postgresql)."""
    session.install("-e", ".[postgres]", "pytest", "meltanolabs-target-postgres==0.8.1")
    session.run("python", "tools/singer_proof.py", *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: an export of prospects from the built-in sandbox, with a progress bar."""
    session.install("-e", ".")
    args = session.posargs or [
        "prospects",
        "--sandbox",
        "--out",
        "prospects.jsonl",
        "--state",
        "prospects.sync.db",
    ]
    session.run("outreach-async", "export", *args)


@nox.session(python=PYTHON)
def generate(session: nox.Session) -> None:
    """Regenerate outreach_async/models (and the client's repository attributes) from
    Outreach's OpenAPI and hyper-schema."""
    session.install("-e", ".", "ruff>=0.6")
    spec_dir = os.environ.get("OUTREACH_SPEC_DIR", "../shared/reference")
    session.run("python", "tools/generate_models.py", "--spec-dir", spec_dir)
    session.run("ruff", "format", "outreach_async/models")
    # the client's typed repository attributes follow the models
    session.run("python", "tools/generate_client.py")
    session.run("ruff", "check", "--fix", "--select", "I", "outreach_async/_repositories.py")
    session.run("ruff", "format", "outreach_async/_repositories.py")


@nox.session(python=PYTHON)
def mutate(session: nox.Session) -> None:
    """Mutation testing of the pure core against each module's own unit tests (tools/mutation.py).

    Measures the committed tree (HEAD) and writes reports/mutation.json and the README table;
    ``-- --only outreach_async._retry`` re-measures one module, ``-- --worktree`` uncommitted files.
    """
    session.install("-e", ".[test,redis,jwt]", "mutmut==3.8.1")
    session.run("python", "tools/mutation.py", "run", *session.posargs)
