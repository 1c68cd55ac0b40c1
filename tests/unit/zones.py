"""A fixture that runs a test under several machine time zones (``TZ``), for code that must not
depend on the machine's zone (naive datetimes are read as UTC, never as local time)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

#: UTC, a zone behind it and one ahead of it by a non-whole hour
ZONES = ("UTC", "America/New_York", "Asia/Kolkata")


@pytest.fixture(params=ZONES)
def local_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """Set ``TZ`` for the test (``time.tzset``), and restore the machine's zone afterwards."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()
