"""Mutation testing of the pure core (``nox -s mutate``): would the tests notice a bug?

Each module is mutated by mutmut against its own fast unit tests only, one module at a time, in a
throwaway copy of the committed tree (``git archive HEAD``), so the report describes a commit and
the checkout is never touched. The report (``reports/mutation.json``) is stamped with the commit,
date, machine and mutmut version; mutants that no test can kill because they do not change
behaviour are listed with a reason in ``reports/equivalent_mutants.toml`` and left out of the
score.

    python tools/mutation.py run [--worktree] [--only outreach_async._retry ...] [--jobs N]
    python tools/mutation.py readme      # the table between the README's mutation markers
    python tools/mutation.py survivors   # the surviving mutants' diffs, from the last report
    python tools/mutation.py rescore     # re-apply equivalent_mutants.toml to the last report

``--worktree`` measures the working tree (tracked and new files) instead, for use while writing
tests; its stamp says ``dirty``. ``--only`` re-measures some modules and keeps the others' rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "mutation.json"
EQUIVALENTS = ROOT / "reports" / "equivalent_mutants.toml"
README = ROOT / "README.md"
BEGIN, END = "<!-- mutation:begin -->", "<!-- mutation:end -->"
#: The score every listed module must reach (issue 17).
TARGET_SCORE = 0.90

# mutmut's exit codes for a mutant's test run (mutmut.stats.status_by_exit_code): a timeout is a
# kill (the tests noticed: the mutant hung), "no tests" means no selected test reached the code.
KILLED_CODES = {1, 3, 36, 24, -24, 152, 255, 37}
SURVIVED_CODES = {0}
NO_TESTS_CODES = {5, 33}


@dataclass(frozen=True)
class Target:
    """A module of the pure core and the unit tests that are meant to pin it down."""

    module: str
    tests: tuple[str, ...]
    #: a pytest ``-k`` expression leaving out tests too slow to run once per mutant
    skip: str | None = None

    @property
    def path(self) -> str:
        return self.module.replace(".", "/") + ".py"


TARGETS = (
    Target(
        "outreach_async._retry", ("tests/unit/test_retry.py", "tests/unit/test_retry_mutants.py")
    ),
    Target(
        "outreach_async._ratelimit",
        ("tests/unit/test_ratelimit.py", "tests/unit/test_ratelimit_mutants.py"),
    ),
    Target(
        "outreach_async._jsonapi",
        ("tests/unit/test_jsonapi.py", "tests/unit/test_jsonapi_mutants.py"),
    ),
    Target(
        "outreach_async._query",
        ("tests/unit/test_query.py", "tests/unit/test_query_mutants.py", "tests/unit/test_wire.py"),
    ),
    Target(
        "outreach_async._filters", ("tests/unit/test_query.py", "tests/unit/test_query_mutants.py")
    ),
    Target(
        "outreach_async._wire",
        (
            "tests/unit/test_wire.py",
            "tests/unit/test_query.py",
            "tests/unit/test_query_mutants.py",
            "tests/unit/test_converter.py",
        ),
    ),
    Target(
        "outreach_async._converter",
        (
            "tests/unit/test_converter.py",
            "tests/unit/test_converter_mutants.py",
            "tests/unit/test_model_storage.py",
            "tests/unit/test_wire.py",
        ),
        # a model of every class with random values: minutes per mutant on a busy machine
        skip="test_round_trip_model_to_document_to_model",
    ),
    Target(
        "outreach_async.webhooks._events",
        ("tests/unit/test_webhooks.py", "tests/unit/test_webhooks_mutants.py"),
    ),
    Target(
        "outreach_async.export._plan",
        ("tests/export/test_plan.py", "tests/export/test_plan_mutants.py"),
    ),
    # the fleet's pure part: fleet.toml read into typed settings, every mistake named
    Target(
        "outreach_async.fleet._config",
        ("tests/fleet/test_config.py", "tests/fleet/test_config_mutants.py"),
        # reads README.md, which mutmut's copy of the tree does not hold
        skip="test_the_readme_fleet_toml_loads",
    ),
    # last: it is being rewritten (typed records); its row says which commit it describes
    Target(
        "outreach_async.export._records",
        ("tests/export/test_records.py", "tests/export/test_records_mutants.py"),
    ),
)


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def stage_tree(dest: Path, *, worktree: bool) -> None:
    """Copy the committed tree (or the working tree's tracked and new files) into ``dest``."""
    if not worktree:
        archive = subprocess.run(
            ["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return
    for name in _git("ls-files", "-co", "--exclude-standard").splitlines():
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def configure_mutmut(stage: Path, target: Target) -> None:
    """Point mutmut at one module and its tests (a [tool.mutmut] table in the staged pyproject)."""
    existing = [test for test in target.tests if (stage / test).exists()]
    skipped = ["-k", f"not ({target.skip})"] if target.skip else []
    table = textwrap.dedent(
        f"""

        [tool.mutmut]
        source_paths = ["outreach_async"]
        only_mutate = [{json.dumps(target.path)}]
        pytest_add_cli_args_test_selection = {json.dumps(existing)}
        pytest_add_cli_args = {json.dumps(["-p", "no:cacheprovider", "-q", *skipped])}
        # a mutant that loops forever is killed after this many times the tests' own duration
        # (mutmut's 15 spends minutes on each of them; 8 is still far above the noise)
        timeout_multiplier = 8.0
        """
    )
    pyproject = stage / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + table)


def run_mutmut(stage: Path, jobs: int) -> None:
    # mutmut prints a spinner per mutant; only its last lines matter (and its errors)
    # the hypothesis profile of tests/conftest.py for mutation runs: fewer, fixed examples
    env = {**os.environ, "OUTREACH_HYPOTHESIS_PROFILE": "mutation"}
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)],
        cwd=stage,
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"mutmut failed in {stage} (exit {done.returncode})")


def read_outcomes(stage: Path, target: Target) -> dict[str, int]:
    meta = json.loads((stage / "mutants" / (target.path + ".meta")).read_text())
    outcomes: dict[str, int] = meta["exit_code_by_key"]
    return outcomes


_DIFFS_SCRIPT = """
import json, sys
from mutmut.__main__ import get_diff_for_mutant
names, path = json.loads(sys.stdin.read())
print(json.dumps({name: get_diff_for_mutant(name, path=path) for name in names}))
"""


def diffs_of(stage: Path, target: Target, names: list[str]) -> dict[str, str]:
    if not names:
        return {}
    done = subprocess.run(
        [sys.executable, "-c", _DIFFS_SCRIPT],
        cwd=stage,
        input=json.dumps([names, target.path]),
        capture_output=True,
        text=True,
        check=True,
    )
    diffs: dict[str, str] = json.loads(done.stdout)
    return diffs


def mutated_lines(diff: str) -> str:
    """The lines a mutant adds: what ``equivalent_mutants.toml`` quotes to show it still applies."""
    added = [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return " / ".join(added)


def load_equivalents() -> dict[str, dict[str, str]]:
    if not EQUIVALENTS.exists():
        return {}
    entries = tomllib.loads(EQUIVALENTS.read_text()).get("mutant", [])
    return {entry["id"]: entry for entry in entries}


def summarise(
    target: Target,
    outcomes: dict[str, int],
    diffs: dict[str, str],
    equivalents: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """One module's row: counts, the score without equivalent mutants, and every survivor."""
    killed = sum(code in KILLED_CODES for code in outcomes.values())
    survivors: list[dict[str, str]] = []
    equivalent = 0
    for name in sorted(diffs):
        change = mutated_lines(diffs[name])
        entry = {
            "id": name,
            "status": "survived" if outcomes[name] in SURVIVED_CODES else "no tests",
            "mutation": change,
        }
        known = equivalents.get(name)
        # an entry whose quoted mutation no longer matches describes some other mutant now
        if known is not None and known.get("mutation", "").strip() == change:
            equivalent += 1
            entry["equivalent"] = known["reason"]
        survivors.append(entry)
    counted = len(outcomes) - equivalent
    return {
        "module": target.module,
        "tests": list(target.tests),
        "skipped_tests": target.skip,
        "mutants": len(outcomes),
        "killed": killed,
        "survived": len(survivors) - equivalent,
        "equivalent": equivalent,
        "score": round(killed / counted, 4) if counted else 1.0,
        "survivors": survivors,
    }


def measure(target: Target, *, worktree: bool, jobs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        stage = Path(tmp)
        stage_tree(stage, worktree=worktree)
        configure_mutmut(stage, target)
        started = time.monotonic()
        run_mutmut(stage, jobs)
        outcomes = read_outcomes(stage, target)
        not_killed = [name for name, code in outcomes.items() if code not in KILLED_CODES]
        row = summarise(target, outcomes, diffs_of(stage, target, not_killed), load_equivalents())
        row["seconds"] = round(time.monotonic() - started, 1)
        return row


def stamp(*, worktree: bool, jobs: int) -> dict[str, Any]:
    dirty = worktree and bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "commit": _git("rev-parse", "HEAD") + ("+dirty" if dirty else ""),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        "tool": f"mutmut {metadata.version('mutmut')}",
        "jobs": jobs,
    }


def run(args: argparse.Namespace) -> None:
    chosen = [t for t in TARGETS if not args.only or t.module in args.only]
    unknown = set(args.only or ()) - {t.module for t in TARGETS}
    if unknown:
        raise SystemExit(f"not a mutation target: {', '.join(sorted(unknown))}")
    previous = json.loads(REPORT.read_text()) if args.only and REPORT.exists() else {}
    rows = {row["module"]: row for row in previous.get("modules", [])}
    run_stamp = stamp(worktree=args.worktree, jobs=args.jobs)
    for target in chosen:
        row = measure(target, worktree=args.worktree, jobs=args.jobs)
        row["commit"] = run_stamp["commit"]
        rows[target.module] = row
        print(
            f"{target.module}: {row['killed']}/{row['mutants']} killed, {row['survived']} survived,"
            f" {row['equivalent']} equivalent, score {row['score']:.1%} ({row['seconds']} s)",
            flush=True,
        )
        # written after every module: a long run that is interrupted keeps what it measured
        ordered = [rows[t.module] for t in TARGETS if t.module in rows]
        report = {"stamp": run_stamp, "target_score": TARGET_SCORE, "modules": ordered}
        REPORT.parent.mkdir(exist_ok=True)
        REPORT.write_text(json.dumps(report, indent=2) + "\n")
    update_readme(report)
    below = [row["module"] for row in ordered if row["score"] < TARGET_SCORE]
    if below:
        raise SystemExit(f"below {TARGET_SCORE:.0%}: {', '.join(below)}")


def render_table(report: dict[str, Any]) -> str:
    s = report["stamp"]
    lines = [
        "| module | mutants | killed | survived | equivalent | score |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in report["modules"]:
        lines.append(
            f"| `{row['module']}` | {row['mutants']} | {row['killed']} | {row['survived']}"
            f" | {row['equivalent']} | {row['score']:.1%} |"
        )
    lines.append("")
    commits = sorted({row.get("commit", s["commit"])[:12] for row in report["modules"]})
    lines.append(
        f"{s['tool']} at `{'`, `'.join(commits)}`, {s['date']}, {s['machine']}"
        " (generated by `tools/mutation.py` from `reports/mutation.json`, where each row names"
        " its commit)."
    )
    return "\n".join(lines)


def update_readme(report: dict[str, Any]) -> None:
    text = README.read_text()
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} markers")
    README.write_text(f"{head}{BEGIN}\n{render_table(report)}\n{END}{tail}")


def rescore(_: argparse.Namespace) -> None:
    """Apply the current equivalent_mutants.toml to the measured survivors (no re-run)."""
    report = json.loads(REPORT.read_text())
    equivalents = load_equivalents()
    for row in report["modules"]:
        row["equivalent"] = 0
        for mutant in row["survivors"]:
            mutant.pop("equivalent", None)
            known = equivalents.get(mutant["id"])
            if known is not None and known.get("mutation", "").strip() == mutant["mutation"]:
                mutant["equivalent"] = known["reason"]
                row["equivalent"] += 1
        row["survived"] = len(row["survivors"]) - row["equivalent"]
        counted = row["mutants"] - row["equivalent"]
        row["score"] = round(row["killed"] / counted, 4) if counted else 1.0
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    update_readme(report)


def survivors(_: argparse.Namespace) -> None:
    for row in json.loads(REPORT.read_text())["modules"]:
        for mutant in row["survivors"]:
            if "equivalent" not in mutant:
                print(f"{mutant['id']} ({mutant['status']}): {mutant['mutation']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True)
    run_parser = commands.add_parser("run", help="measure and write the report and README table")
    run_parser.add_argument("--worktree", action="store_true", help="measure uncommitted files")
    run_parser.add_argument("--only", nargs="+", metavar="MODULE", help="re-measure these only")
    run_parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    run_parser.set_defaults(action=run)
    readme_parser = commands.add_parser("readme", help="rewrite the README table from the report")
    readme_parser.set_defaults(action=lambda _: update_readme(json.loads(REPORT.read_text())))
    rescore_parser = commands.add_parser(
        "rescore", help="re-apply equivalent_mutants.toml to the report's survivors"
    )
    rescore_parser.set_defaults(action=rescore)
    survivors_parser = commands.add_parser("survivors", help="list the non-equivalent survivors")
    survivors_parser.set_defaults(action=survivors)
    args = parser.parse_args()
    args.action(args)


if __name__ == "__main__":
    main()
