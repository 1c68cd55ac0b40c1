"""What every results file says about its run: the commit, the date, the machine, the versions.

A figure without these cannot be re-measured or compared, so every suite's figures are stored
with the stamp of the run that measured them (``benchmarks/results.json``,
``benchmarks/peers/results.json``), and the README's tables print it.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: The distributions whose versions decide the client's figures.
PACKAGES = ("outreach-async", "aiohttp", "orjson", "attrs", "cattrs", "yarl")


#: Files a benchmark run itself rewrites: they do not make the measured code differ from HEAD.
OUTPUTS = ("benchmarks/results.json", "benchmarks/peers/results.json", "README.md")


def tree_commit() -> str:
    """The project's commit, marked ``+changes`` when tracked files other than the results
    files and the README differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "."]
            + [f":!{path}" for path in OUTPUTS],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if changed else "")


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``), or the platform's word for it."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (``not installed`` for the absent ones)."""
    found = {}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def stamp(extra_packages: tuple[str, ...] = ()) -> dict[str, Any]:
    """The run's stamp: commit, UTC date, machine (cpu, cores, load), Python, versions."""
    return {
        "commit": tree_commit(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "versions": versions(PACKAGES + extra_packages),
    }


def describe(run_stamp: dict[str, Any]) -> str:
    """One line for under a table: where, when and on what the figures were measured."""
    load = ", ".join(f"{x:.1f}" for x in run_stamp["load_average_at_start"])
    packages = run_stamp["versions"]
    return (
        f"commit `{run_stamp['commit']}`, {run_stamp['date']}, {run_stamp['cpu']} "
        f"({run_stamp['cores']} cores, load average {load} at start), Python "
        f"{run_stamp['python']}, aiohttp {packages['aiohttp']}, orjson {packages['orjson']}"
    )
