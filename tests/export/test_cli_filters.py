"""``--filter key=value`` parsing (pure)."""

from __future__ import annotations

import pytest

from outreach_async import IS_NULL, NOT_NULL, Prospect, QueryError, Range
from outreach_async.cli._filters import parse_filters

SPEC = Prospect.__resource_spec__


def test_scalars_take_the_attributes_kind() -> None:
    assert parse_filters(SPEC, ["title=CEO", "engaged_score=2.5", "id=7"]) == {
        "title": "CEO",
        "engaged_score": 2.5,
        "id": 7,
    }


def test_lists_ranges_and_null_tests() -> None:
    parsed = parse_filters(
        SPEC,
        ["owner=1,2", "engagedAt=2024-01-01..inf", "id=neginf..10", "title=__null__",
         "company=__notnull__"],
    )  # fmt: skip
    assert parsed == {
        "owner": [1, 2],
        "engagedAt": Range("2024-01-01", None),
        "id": Range(None, 10),
        "title": IS_NULL,
        "company": NOT_NULL,
    }


def test_relationship_attributes_use_a_dot() -> None:
    assert parse_filters(SPEC, ["account.name=Acme", "account.id=3"]) == {
        "account": {"name": "Acme", "id": 3}
    }


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("title", "key=value"),
        ("=x", "key=value"),
        ("id=seven", "not a whole number"),
        ("id=..", "no bound"),
        ("title.name=x", "not a relationship"),
    ],
)
def test_bad_filters_raise_query_errors(item: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_filters(SPEC, [item])


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(QueryError, match="more than once"):
        parse_filters(SPEC, ["title=a", "title=b"])
