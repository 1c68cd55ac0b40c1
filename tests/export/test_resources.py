"""Resource names, the cursor an export follows, fields, and since/until bounds."""

from __future__ import annotations

import datetime as dt

import pytest

from outreach_async import Prospect, QueryError, SequenceState
from outreach_async.export import UnknownResourceError, resolve_resource
from outreach_async.export._resources import (
    ID_CURSOR,
    Cursor,
    choose_cursor,
    cursor_bound,
    from_millis,
    resolve_fields,
    to_millis,
)
from outreach_async.models import ALL_SPECS

TIME = Cursor("updated_at", "updatedAt", "datetime")


@pytest.mark.parametrize(
    "name", ["sequence_states", "sequenceStates", "sequenceState", "sequence_state"]
)
def test_a_resource_is_named_by_path_or_type_in_either_case(name: str) -> None:
    assert resolve_resource(name) is SequenceState


def test_an_unknown_resource_suggests_close_names() -> None:
    with pytest.raises(UnknownResourceError, match="did you mean prospects"):
        resolve_resource("prospectz")


def test_a_resource_without_list_cannot_be_exported() -> None:
    with pytest.raises(UnknownResourceError, match="cannot be listed"):
        resolve_resource("imports")


def test_the_cursor_is_the_watermark_when_the_api_sorts_and_filters_by_it() -> None:
    assert choose_cursor(Prospect.__resource_spec__) == TIME
    assert choose_cursor(ALL_SPECS["accountNote"]).wire == "createdAt"
    assert choose_cursor(ALL_SPECS["webhook"]) == ID_CURSOR  # updatedAt is not filterable
    assert choose_cursor(ALL_SPECS["duty"]) == ID_CURSOR  # no watermark at all


def test_cursor_positions_are_epoch_milliseconds() -> None:
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, 678999, tzinfo=dt.UTC)
    assert from_millis(to_millis(moment)) == moment.replace(microsecond=678000)
    assert TIME.display(to_millis(moment)) == "2024-01-02T03:04:05.678Z"
    assert ID_CURSOR.display(42) == "42"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-31", dt.datetime(2024, 1, 31, tzinfo=dt.UTC)),
        ("2024-01-31T12:00:00Z", dt.datetime(2024, 1, 31, 12, tzinfo=dt.UTC)),
        ("2024-01-31T14:00:00+02:00", dt.datetime(2024, 1, 31, 12, tzinfo=dt.UTC)),
        ("2024-01-31T12:00:00", dt.datetime(2024, 1, 31, 12, tzinfo=dt.UTC)),
        (dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, tzinfo=dt.UTC)),
    ],
)
def test_since_and_until_take_dates_times_and_iso_text(text: object, expected: dt.datetime) -> None:
    assert cursor_bound(text, TIME, "since") == to_millis(expected)


def test_bad_bounds_raise_query_errors() -> None:
    with pytest.raises(QueryError, match="not an ISO 8601"):
        cursor_bound("last tuesday", TIME, "since")
    with pytest.raises(QueryError, match="takes an id"):
        cursor_bound("2024-01-01", ID_CURSOR, "since")
    assert cursor_bound("17", ID_CURSOR, "until") == 17


def test_fields_resolve_to_wire_names_and_unknown_ones_fail() -> None:
    spec = Prospect.__resource_spec__
    assert resolve_fields(spec, ["first_name", "account", "id", "firstName"]) == (
        "firstName",
        "account",
    )
    assert resolve_fields(spec, None) is None
    with pytest.raises(QueryError, match="no field 'favourite_colour'"):
        resolve_fields(spec, ["favourite_colour"])
