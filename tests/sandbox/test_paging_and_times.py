"""Pure helpers: page parameters, link URLs and timestamp normalisation."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach_async.sandbox.errors import ApiError
from outreach_async.sandbox.paging import PageRequest, build_url, parse_page
from outreach_async.sandbox.times import format_epoch_ms, normalize_date, normalize_datetime


def test_build_url_matches_the_recorded_outreach_next_link() -> None:
    # airbyte #70223's links.next (facts §3), cursor shortened
    params = [
        ("newFilterSyntax", "true"),
        ("filter[updatedAt][gte]", "1990-01-01T00:00:00.000Z"),
        ("count", "false"),
        ("page[after]", "old"),
    ]
    url = build_url("https://api.outreach.io/api/v2/mailings", params, {"page[after]": "eyJjbiI6"})
    assert url == (
        "https://api.outreach.io/api/v2/mailings?count=false"
        "&filter%5BupdatedAt%5D%5Bgte%5D=1990-01-01T00%3A00%3A00.000Z"
        "&newFilterSyntax=true&page%5Bafter%5D=eyJjbiI6"
    )


def test_build_url_keeps_repeated_names_in_order_and_drops_nones() -> None:
    params = [("filter[name][]", "b"), ("filter[name][]", "a"), ("page[before]", "x")]
    url = build_url("http://h/api/v2/p", params, {"page[before]": None})
    assert url == "http://h/api/v2/p?filter%5Bname%5D%5B%5D=b&filter%5Bname%5D%5B%5D=a"
    assert build_url("http://h/api/v2/p", [], {"page[after]": None}) == "http://h/api/v2/p"


def test_build_url_names_a_repeated_scalar_parameter_once() -> None:
    # tap-outreach sends its first-page parameters again with every links.next it follows.
    params = [("count", "false"), ("page[size]", "100"), ("count", "false"), ("page[size]", "9")]
    url = build_url("http://h/api/v2/p", params, {"page[after]": "c"})
    assert url == "http://h/api/v2/p?count=false&page%5Bafter%5D=c&page%5Bsize%5D=100"


def test_parse_page_defaults_and_modes() -> None:
    assert parse_page({}) == PageRequest(size=50)
    assert parse_page({}, default_size=10).size == 10
    assert parse_page({"count": "TRUE", "page[size]": "1000"}) == PageRequest(1000, count=True)
    assert parse_page({"page[limit]": "5"}) == PageRequest(size=5, offset=0)
    assert parse_page({"page[offset]": "10000"}) == PageRequest(size=50, offset=10_000)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"page[size]": "1001"}, "page[size]"),
        ({"page[limit]": "1001"}, "page[limit]"),
        ({"page[offset]": "10001"}, "page[offset]"),
        ({"page[offset]": "-1"}, "page[offset]"),
        ({"page[after]": "a", "page[before]": "b"}, "page[before]"),
    ],
)
def test_parse_page_refusals(query: dict[str, str], parameter: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_page(query)
    assert (caught.value.status, caught.value.parameter) == (400, parameter)


aware_datetimes = st.datetimes(
    min_value=dt.datetime(1971, 1, 1),
    max_value=dt.datetime(2200, 1, 1),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))]),
)


@given(aware_datetimes)
def test_every_iso_form_normalises_to_the_api_millisecond_form(moment: dt.datetime) -> None:
    utc = moment.astimezone(dt.UTC)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    assert normalize_datetime(moment.isoformat()) == expected
    assert normalize_datetime(utc.isoformat().replace("+00:00", "Z")) == expected
    assert normalize_datetime(utc.replace(tzinfo=None).isoformat()) == expected  # naive = UTC
    epoch_ms = int(utc.timestamp() * 1000) if utc.microsecond % 1000 == 0 else None
    if epoch_ms is not None:
        assert format_epoch_ms(epoch_ms) == expected


def test_dates_and_bad_values() -> None:
    assert normalize_datetime("2024-01-01") == "2024-01-01T00:00:00.000Z"
    assert normalize_date("2024-03-05T23:30:00-02:00") == "2024-03-06"
    for bad in ("", "2024-13-01", "yesterday", "2024-01-01..inf"):
        with pytest.raises(ValueError):  # noqa: PT011 - the messages are the stdlib's
            normalize_datetime(bad)
