"""Loopback ports for tests."""

from __future__ import annotations

import socket


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released): for a server a test is about
    to start there, or for a client that must be refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
