"""A throwaway ``redis-server`` for tests, on a free loopback port.

``REDIS_URL`` in the environment wins (CI may run its own server). Otherwise the
``redis-server`` binary on PATH is started without persistence (``--save '' --appendonly no``)
and stopped at the end. Without either, the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.ports import unused_port

__all__ = ["redis_server_url"]

_START_TIMEOUT = 10.0


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _start(binary: str, port: int, workdir: str) -> subprocess.Popen[bytes]:
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    command += ["no", "--dir", workdir, "--daemonize", "no", "--loglevel", "warning"]
    command += ["--logfile", os.path.join(workdir, "redis.log")]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_until_ready(process: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False  # exited: most likely the port was taken meanwhile
        if _answers_ping(port):
            return True
        time.sleep(0.02)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextlib.contextmanager
def redis_server_url() -> Iterator[str]:
    """Yield the URL of a Redis to test against; skip the calling tests when there is none."""
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "no Redis: set REDIS_URL or put redis-server on PATH (apt install redis-server)"
        )
    with tempfile.TemporaryDirectory(prefix="outreach-redis-") as workdir:
        for _ in range(3):
            port = unused_port()
            process = _start(binary, port, workdir)
            if _wait_until_ready(process, port):
                try:
                    yield f"redis://127.0.0.1:{port}/0"
                finally:
                    _stop(process)
                return
            _stop(process)
        pytest.skip("redis-server did not start on a free port")
