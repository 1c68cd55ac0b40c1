"""The leaf wire helpers: camelCase/snake_case names and the API's datetimes (more datetime cases
are in test_query and test_converter, where the query builder and the codec use them)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from outreach_async._wire import (
    camel_to_snake,
    lenient_date,
    lenient_datetime,
    parse_date,
    snake_to_camel,
)

# one-letter words are ambiguous in camelCase ("aAA"), and the API has none
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)


def test_names_convert_both_ways() -> None:
    assert snake_to_camel("completion_note") == "completionNote"
    assert snake_to_camel("completionNote") == "completionNote"
    assert camel_to_snake("sequenceStates") == "sequence_states"
    assert camel_to_snake("sequence_states") == "sequence_states"
    assert camel_to_snake("addressCity2Line") == "address_city2_line"


@given(st.lists(WORD, min_size=1, max_size=5))
def test_snake_names_survive_a_round_trip_through_camel_case(words: list[str]) -> None:
    name = "_".join(words)
    assert camel_to_snake(snake_to_camel(name)) == name


def test_lenient_parsers_keep_what_they_cannot_read() -> None:
    assert lenient_datetime("2024-07-26T06:27:17.000Z") == dt.datetime(
        2024, 7, 26, 6, 27, 17, tzinfo=dt.UTC
    )
    assert lenient_datetime("soon") == "soon"
    assert lenient_datetime(None) is None
    assert lenient_date("2024-07-26") == dt.date(2024, 7, 26)
    assert lenient_date("someday") == "someday"
    assert parse_date("2024-07-26T06:27:17.000Z") == dt.date(2024, 7, 26)
