"""A throwaway PostgreSQL cluster for tests, on a free loopback port.

``POSTGRES_URL`` in the environment wins (CI may run its own server). Otherwise Debian's
``initdb`` and ``postgres`` (``/usr/lib/postgresql/*/bin`` or PATH) start a cluster in a
temporary directory, with ``fsync=off`` (the tests kill our processes, never the server), the
superuser trusted and other roles asked for passwords on loopback, and stop it at the end.
``initdb`` refuses to run as root, so as root the cluster runs as the ``postgres`` user.
Without a server the tests that need one are skipped with the reason, except under CI (``CI``
set), where that is a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.ports import unused_port

__all__ = ["postgres_server_url"]

_START_TIMEOUT = 30.0


def _binary(name: str) -> str | None:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else shutil.which(name)


def _as_owner(command: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _chown_for_postgres(path: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _ready(port: int) -> bool:
    """Accepting logins (a listening socket is not enough: it says "starting up" first)."""
    probe = _binary("pg_isready")
    if probe is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False
    command = [probe, "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    return subprocess.run(command, check=False).returncode == 0


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI needs PostgreSQL: {reason}")
    pytest.skip(f"no PostgreSQL: {reason} (apt install postgresql, or set POSTGRES_URL)")


def _allow_passwords(data: str) -> None:
    """The superuser logs in without a password; every other role needs its own, so that tests
    can show what a wrong password does."""
    rules = [
        "local all all trust",
        "host all postgres 127.0.0.1/32 trust",
        "host all all 127.0.0.1/32 scram-sha-256",
    ]
    with open(os.path.join(data, "pg_hba.conf"), "w", encoding="utf-8") as file:
        file.write("\n".join(rules) + "\n")


@contextlib.contextmanager
def postgres_server_url() -> Iterator[str]:
    """Yield the URL of a PostgreSQL database to test against (a fresh cluster when started)."""
    configured = os.environ.get("POSTGRES_URL")
    if configured:
        yield configured
        return
    initdb, server = _binary("initdb"), _binary("postgres")
    if initdb is None or server is None:
        _unavailable("initdb/postgres not found")
        return
    workdir = tempfile.mkdtemp(prefix="outreach-pg-")
    _chown_for_postgres(workdir)
    data = os.path.join(workdir, "data")
    init = subprocess.run(
        _as_owner([initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]),
        capture_output=True,
        check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        _unavailable(f"initdb failed: {init.stderr.decode(errors='replace').strip()[:300]}")
        return
    _allow_passwords(data)
    port = unused_port()
    options = ["-p", str(port), "-k", workdir, "-c", "listen_addresses=127.0.0.1"]
    options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    log = open(os.path.join(workdir, "server.log"), "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(_as_owner([server, "-D", data, *options]), stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not _ready(port):
            if process.poll() is not None or time.monotonic() > deadline:
                _unavailable(f"postgres did not start (see {workdir}/server.log)")
                return
            time.sleep(0.05)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
