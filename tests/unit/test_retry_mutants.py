"""What mutation testing of ``_retry`` showed untested (issue 17): the defaults users rely on, the
ISO date's length boundary, and the reading of a zone-less timestamp as UTC on any machine."""

from __future__ import annotations

import time
from typing import Any

import pytest

from outreach_async._retry import (
    DEFAULT_RETRY_STATUSES,
    RetryPolicy,
    parse_retry_after,
    within_connect_deadline,
)
from tests.unit.zones import local_zone  # noqa: F401 (a fixture)

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
MIDNIGHT = 1_699_920_000.0  # 2023-11-14T00:00:00Z


def test_the_policy_defaults_are_pinned() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, policy.backoff_base, policy.backoff_cap) == (5, 0.5, 30.0)
    assert policy.retry_statuses == DEFAULT_RETRY_STATUSES == {408, 429, 500, 502, 503, 504}
    assert policy.refused_statuses == {429}
    assert policy.decide is None
    assert policy.connect_deadline == 10.0


def test_less_than_a_second_left_of_the_connect_deadline_is_still_waited() -> None:
    policy = RetryPolicy(connect_deadline=10.0)
    assert within_connect_deadline(policy, 4.0, elapsed=9.5) == 0.5


@pytest.mark.parametrize("field", ["max_retries", "backoff_base", "backoff_cap"])
def test_each_bound_rejects_a_negative_value_and_accepts_zero(field: str) -> None:
    negative: dict[str, Any] = {field: -1}
    with pytest.raises(ValueError, match=f"'{field}' must be >= 0"):
        RetryPolicy(**negative)
    zero: dict[str, Any] = {field: 0}
    assert getattr(RetryPolicy(**zero), field) == 0


def test_a_bare_iso_date_of_exactly_ten_characters_is_a_date() -> None:
    assert parse_retry_after("2023-11-14", MIDNIGHT - 60) == 60.0


@pytest.mark.parametrize("value", ["2023-W46", "2023-318", "2023-11"])
def test_iso_forms_shorter_than_a_calendar_date_are_not_read(value: str) -> None:
    # fromisoformat reads a bare week or ordinal date too; those are not a moment to wait for
    assert parse_retry_after(value, MIDNIGHT - 60) is None


def test_a_date_must_start_with_a_four_digit_year() -> None:
    assert parse_retry_after("T2023-11-14", MIDNIGHT - 60) is None
    assert parse_retry_after("x023-11-14T00:00:00", MIDNIGHT - 60) is None


@pytest.mark.usefixtures("local_zone")
def test_a_timestamp_without_a_zone_is_utc_whatever_the_machine_zone() -> None:
    assert time.localtime(NOW).tm_zone in {"UTC", "EST", "IST"}  # the zone really is in force
    assert parse_retry_after("2023-11-14T22:14:20", NOW) == 60.0
    assert parse_retry_after("2023-11-14T22:14:20Z", NOW) == 60.0
