"""Collections over real loopback HTTP, checked against outreach-api-facts.md §3-§6."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from outreach_async.sandbox import Sandbox

from .conftest import Api, ref

pytestmark = pytest.mark.outreach_sandbox(seed=120, random_seed=3)


async def _walk(api: Api, url: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every page from ``url`` following ``links.next``; returns the documents."""
    pages = []
    reply = await api.get(url, params)
    while True:
        assert reply.status == 200, reply.body
        pages.append(reply.body)
        following = (reply.body.get("links") or {}).get("next")
        if following is None:
            return pages
        reply = await api.get(following)


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


# -- links -------------------------------------------------------------------------------------


async def test_first_page_has_50_records_and_absolute_first_and_next_links(api: Api) -> None:
    reply = await api.get("/prospects")

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/vnd.api+json"
    assert len(reply.data) == 50
    assert set(reply.body["links"]) == {"first", "next"}  # no prev on the first page
    assert "meta" not in reply.body  # count defaults to false
    for link in reply.body["links"].values():
        assert link.startswith(api.sandbox.base_url + "/prospects")
    assert reply.body["links"]["first"] == api.sandbox.base_url + "/prospects"
    assert "page%5Bafter%5D=" in reply.body["links"]["next"]


async def test_links_keep_every_parameter_sorted_with_encoded_brackets(api: Api) -> None:
    params = {
        "sort": "-updatedAt",
        "filter[updatedAt]": "2024-01-01T00:00:00.000Z..inf",
        "include": "account",
        "fields[prospect]": "firstName,account",
        "count": "false",
        "page[size]": "7",
    }
    reply = await api.get("/prospects", params)

    following = reply.body["links"]["next"]
    raw_query = urlsplit(following).query
    assert "filter%5BupdatedAt%5D=2024-01-01T00%3A00%3A00.000Z..inf" in raw_query
    names = [name for name, _ in _query(following)]
    assert names == sorted(names)
    assert {k: v for k, v in _query(following) if k != "page[after]"} == params
    assert dict(_query(reply.body["links"]["first"])) == params


async def test_following_next_visits_every_record_once_and_prev_goes_back(api: Api) -> None:
    pages = await _walk(api, "/prospects", {"page[size]": "25", "sort": "lastName,-id"})

    ids = [r["id"] for page in pages for r in page["data"]]
    assert len(ids) == len(set(ids)) == api.sandbox.store.count("prospect") == 120
    assert [len(p["data"]) for p in pages] == [25, 25, 25, 25, 20]
    assert "next" not in pages[-1]["links"]
    assert all("prev" in p["links"] for p in pages[1:])
    back = await api.get(pages[2]["links"]["prev"])
    assert [r["id"] for r in back.data] == [r["id"] for r in pages[1]["data"]]
    assert "prev" in back.body["links"]
    first_again = await api.get(pages[1]["links"]["prev"])
    assert [r["id"] for r in first_again.data] == [r["id"] for r in pages[0]["data"]]
    assert "prev" not in first_again.body["links"]


async def test_an_empty_result_has_no_links_at_all(api: Api) -> None:
    reply = await api.get("/accounts", {"filter[id]": "0"})
    assert reply.body == {"data": []}

    counted = await api.get("/accounts", {"filter[id]": "0", "count": "true"})
    assert counted.body == {"data": [], "meta": {"count": 0, "count_truncated": False}}


async def test_count_true_gives_the_total_of_the_filtered_collection(api: Api) -> None:
    reply = await api.get("/prospects", {"count": "true", "filter[title]": "CEO,CTO"})
    expected = sum(
        1
        for r in api.sandbox.store.table("prospect")
        if r["attributes"].get("title") in ("CEO", "CTO")
    )
    assert reply.body["meta"] == {"count": expected, "count_truncated": False}
    assert 0 < expected < 120


@pytest.mark.parametrize("size", ["1001", "0", "-1", "ten"])
async def test_page_size_outside_1_to_1000_is_a_400_naming_it(api: Api, size: str) -> None:
    reply = await api.get("/prospects", {"page[size]": size})
    assert reply.status == 400
    assert reply.error["source"] == {"parameter": "page[size]"}
    assert "page[size]" in reply.error["detail"]


async def test_page_size_1000_is_served(api: Api) -> None:
    reply = await api.get("/prospects", {"page[size]": "1000"})
    assert len(reply.data) == 120
    assert set(reply.body["links"]) == {"first"}


async def test_a_tampered_cursor_is_a_400(api: Api) -> None:
    reply = await api.get("/prospects", {"page[after]": "garbage"})
    assert (reply.status, reply.error["id"]) == (400, "pageParameter.invalidCursor")


async def test_offset_pagination_with_first_prev_next_last(api: Api) -> None:
    reply = await api.get("/prospects", {"page[offset]": "10", "page[limit]": "5"})

    assert [r["id"] for r in reply.data] == [11, 12, 13, 14, 15]
    links = {name: dict(_query(url)) for name, url in reply.body["links"].items()}
    assert links["first"]["page[offset]"] == "0"
    assert links["prev"]["page[offset]"] == "5"
    assert links["next"]["page[offset]"] == "15"
    assert links["last"]["page[offset]"] == "115"
    too_far = await api.get("/prospects", {"page[offset]": "10001"})
    assert (too_far.status, too_far.error["source"]) == (400, {"parameter": "page[offset]"})


# -- cursor stability -------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["updatedAt", "-updatedAt", "id", "-lastName"])
async def test_cursor_pages_are_stable_while_records_are_added_and_removed(
    api: Api, sort: str
) -> None:
    """Keyset cursors: records present throughout are seen exactly once, whatever happens."""
    originals = {r["id"] for r in api.sandbox.store.table("prospect")}
    removed: set[int] = set()
    seen: list[int] = []
    reply = await api.get("/prospects", {"page[size]": "10", "sort": sort})
    for turn in range(100):
        seen += [r["id"] for r in reply.data]
        await api.create("prospect", "/prospects", attributes={"lastName": f"New{turn}"})
        unseen = sorted(originals - removed - set(seen))
        if turn % 3 == 0 and unseen:
            doomed = unseen[len(unseen) // 2]
            assert (await api.delete(f"/prospects/{doomed}")).status == 204
            removed.add(doomed)
        following = reply.body["links"].get("next")
        if following is None:
            break
        reply = await api.get(following)
    assert removed
    assert len(seen) == len(set(seen))
    assert originals - removed <= set(seen)
    assert not removed & set(seen)


# -- filters and sorts over HTTP ----------------------------------------------------------------


async def test_sort_on_several_keys(api: Api) -> None:
    pages = await _walk(api, "/prospects", {"sort": "lastName,-firstName", "page[size]": "1000"})
    got = [
        (r["attributes"]["lastName"], r["attributes"]["firstName"], r["id"])
        for r in pages[0]["data"]
    ]
    by_first_desc = sorted(got, key=lambda row: (row[1], -row[2]), reverse=True)
    expected = sorted(by_first_desc, key=lambda row: row[0])
    assert got == expected


@pytest.mark.parametrize(
    ("sort", "error_id"),
    [
        ("account.name", "sortParameter.relationshipSort"),
        ("emails", "sortParameter.unsortableAttribute"),
        ("shoeSize", "sortParameter.unknownAttribute"),
    ],
)
async def test_sorts_outreach_refuses(api: Api, sort: str, error_id: str) -> None:
    reply = await api.get("/prospects", {"sort": sort})
    assert (reply.status, reply.error["id"]) == (400, error_id)


async def test_legacy_and_new_syntax_ranges_select_the_same_records(api: Api) -> None:
    stamps = sorted(r["attributes"]["updatedAt"] for r in api.sandbox.store.table("prospect"))
    lo, hi = stamps[20], stamps[80]
    legacy = await api.get("/prospects", {"filter[updatedAt]": f"{lo}..{hi}", "page[size]": "200"})
    new = await api.get(
        "/prospects",
        {
            "newFilterSyntax": "true",
            "filter[updatedAt][gte]": lo,
            "filter[updatedAt][lte]": hi,
            "page[size]": "200",
        },
    )
    ids = {r["id"] for r in legacy.data}
    assert ids == {r["id"] for r in new.data}
    assert len(ids) == 61  # both bounds inclusive


async def test_legacy_range_string_with_new_filter_syntax_is_rejected(api: Api) -> None:
    reply = await api.get(
        "/prospects", {"newFilterSyntax": "true", "filter[updatedAt]": "2024-01-01..inf"}
    )
    assert (reply.status, reply.error["id"]) == (400, "filterParameter.invalidDatetimeFormat")


async def test_relationship_filters_by_id_and_by_attribute(
    api: Api, outreach_sandbox: Sandbox
) -> None:
    account = next(iter(outreach_sandbox.store.table("account")))
    expected = set(outreach_sandbox.store.referencing("prospect", "account", account["id"]))
    by_id = await api.get("/prospects", {"filter[account][id]": str(account["id"])})
    by_name = await api.get("/prospects", {"filter[account][name]": account["attributes"]["name"]})
    assert {r["id"] for r in by_id.data} == {r["id"] for r in by_name.data} == expected
    assert all(
        r["relationships"]["account"]["data"] == {"type": "account", "id": account["id"]}
        for r in by_id.data
    )


async def test_array_attributes_match_any_element_and_nulls(api: Api) -> None:
    sally = await api.create(
        "prospect",
        "/prospects",
        attributes={"emails": ["s@acme.example.com", "sally@home.example"]},
    )
    found = await api.get("/prospects", {"filter[emails]": "sally@home.example"})
    assert [r["id"] for r in found.data] == [sally["id"]]
    nameless = await api.create("prospect", "/prospects", attributes={"firstName": "No Email"})
    without = await api.get("/prospects", {"filter[emails]": "__null__", "page[size]": "1000"})
    assert [r["id"] for r in without.data] == [nameless["id"]]
    with_some = await api.get("/prospects", {"filter[emails]": "__notnull__", "count": "true"})
    assert with_some.body["meta"]["count"] == 121


async def test_q_searches_names_by_prefix(api: Api) -> None:
    await api.create("prospect", "/prospects", attributes={"firstName": "Zebulon"})
    reply = await api.get("/prospects", {"filter[q]": "zebu"})
    assert [r["attributes"]["firstName"] for r in reply.data] == ["Zebulon"]


# -- include and fields -------------------------------------------------------------------------


async def test_nested_include_puts_each_related_record_once_in_included(api: Api) -> None:
    reply = await api.get("/tasks", {"include": "prospect.account,owner", "page[size]": "40"})

    included = reply.body["included"]
    keys = [(r["type"], r["id"]) for r in included]
    assert len(keys) == len(set(keys))
    expected: set[tuple[str, int]] = set()
    store = api.sandbox.store
    for task in reply.data:
        prospect_id = task["relationships"]["prospect"]["data"]["id"]
        expected.add(("prospect", prospect_id))
        expected.add(("user", task["relationships"]["owner"]["data"]["id"]))
        account = store.get("prospect", prospect_id)["relationships"]["account"]  # type: ignore[index]
        if account is not None:
            expected.add(("account", account))
    assert set(keys) == expected
    assert {"prospect", "account", "user"} == {t for t, _ in keys}


async def test_include_of_an_unknown_relationship_is_a_400(api: Api) -> None:
    reply = await api.get("/tasks", {"include": "prospect.nonsense"})
    assert (reply.status, reply.error["id"]) == (400, "includeParameter.unknownRelationship")


async def test_sparse_fieldsets_return_only_the_named_fields(api: Api) -> None:
    reply = await api.get("/prospects", {"fields[prospect]": "clickCount,openCount,replyCount"})
    for resource in reply.data:
        assert set(resource["attributes"]) == {"clickCount", "openCount", "replyCount"}
        assert "relationships" not in resource
        assert resource["links"]["self"].endswith(f"/prospects/{resource['id']}")

    with_relationship = await api.get(
        "/tasks",
        {"fields[task]": "state,prospect", "include": "prospect", "fields[prospect]": "firstName"},
    )
    task = with_relationship.data[0]
    assert set(task["attributes"]) == {"state"}
    assert set(task["relationships"]) == {"prospect"}
    assert all(set(p["attributes"]) == {"firstName"} for p in with_relationship.body["included"])


@pytest.mark.parametrize("key", ["fields[prospect]", "fields[nonsense]"])
async def test_unknown_sparse_field_is_outreachs_400(api: Api, key: str) -> None:
    reply = await api.get("/prospects", {key: "firstName,linkedinUrl"})
    assert reply.status == 400
    assert reply.error["id"] == "fieldsParameter.unknownResourceField"
    assert reply.error["source"] == {"parameter": key}


# -- resource shape ---------------------------------------------------------------------------


async def test_relationship_forms_as_outreach_renders_them(api: Api) -> None:
    prospect = await api.create("prospect", "/prospects", attributes={"firstName": "Rel"})
    address = await api.create(
        "emailAddress",
        "/emailAddresses",
        attributes={"email": "rel@example.com"},
        relationships={"prospect": ref("prospect", prospect["id"])},
    )
    reply = await api.get(f"/prospects/{prospect['id']}")
    relationships = reply.data["relationships"]
    base = api.sandbox.base_url

    assert relationships["owner"] == {"data": None}
    assert relationships["creator"] == ref("user", 1)
    addresses = relationships["emailAddresses"]
    assert addresses["data"] == [{"type": "emailAddress", "id": address["id"]}]
    assert addresses["meta"] == {"count": 1}
    assert addresses["links"] == {
        "related": f"{base}/emailAddresses?filter%5Bprospect%5D%5Bid%5D={prospect['id']}"
    }
    assert relationships["tasks"] == {
        "links": {"related": f"{base}/tasks?filter%5Bprospect%5D%5Bid%5D={prospect['id']}"}
    }
    user = await api.get("/users/1")
    assert user.data["relationships"]["phones"] == {"meta": {"count": 0}}  # no data, no links


async def test_every_related_link_is_a_collection_the_sandbox_serves(api: Api) -> None:
    for path in ("/prospects/1", "/accounts/1", "/sequences/1", "/users/1", "/tasks/1"):
        resource = (await api.get(path)).data
        for name, relationship in resource["relationships"].items():
            if "links" in relationship:
                reply = await api.get(relationship["links"]["related"])
                assert reply.status == 200, (path, name, reply.body)
                if "data" in relationship:
                    got = {r["id"] for r in reply.data}
                    assert {d["id"] for d in relationship["data"]} <= got, (path, name)


async def test_attributes_are_all_present_with_nulls_and_ids_are_integers(api: Api) -> None:
    reply = await api.get("/prospects/1")
    spec_wires = {a.wire for a in api.sandbox.backend.spec("prospect").attributes}
    assert set(reply.data["attributes"]) == spec_wires
    assert reply.data["attributes"]["middleName"] is None
    assert reply.data["id"] == 1
    assert reply.data["links"] == {"self": f"{api.sandbox.base_url}/prospects/1"}


async def test_unnamed_accounts_stay_off_the_index(api: Api) -> None:
    hidden = await api.create("account", "/accounts", attributes={"name": "Ghost", "named": False})
    index = await api.get("/accounts", {"page[size]": "1000"})
    assert hidden["id"] not in {r["id"] for r in index.data}
    assert (await api.get(f"/accounts/{hidden['id']}")).status == 200
    asked = await api.get("/accounts", {"filter[named]": "false"})
    assert [r["id"] for r in asked.data] == [hidden["id"]]


async def test_events_carry_updated_at_and_sort_on_it(api: Api) -> None:
    reply = await api.get("/events", {"sort": "-updatedAt", "page[size]": "100"})
    stamps = [r["attributes"]["updatedAt"] for r in reply.data]
    assert stamps
    assert stamps == sorted(stamps, reverse=True)


# -- routes and auth ---------------------------------------------------------------------------


async def test_unknown_id_path_and_token(api: Api) -> None:
    missing = await api.get("/prospects/999999")
    assert (missing.status, missing.error["id"]) == (404, "resourceNotFound")
    assert missing.error["detail"] == "Could not find 'prospect' with ID '999999'."
    route = await api.get("/prospectz")
    assert (route.status, route.error["id"]) == (404, "routeNotFound")
    root = await api.get("")
    assert root.status == 200
    api.session.headers["Authorization"] = "Bearer nope"
    refused = await api.get("/prospects")
    assert refused.status == 401
    assert "errors" not in str(refused.body)  # the gateway's body, not JSON:API (facts §1.3)


async def test_every_answer_carries_the_rate_limit_headers(api: Api) -> None:
    first = await api.get("/prospects")
    second = await api.get("/prospects/999999")
    assert first.headers["X-RateLimit-Limit"] == "10000"
    remaining = int(first.headers["X-RateLimit-Remaining"])
    assert int(second.headers["X-RateLimit-Remaining"]) == remaining - 1


async def test_meta_flags_add_authorization_and_data_connection_meta(api: Api) -> None:
    flags = {"provideAuthorizationMeta": "true", "provideDataConnections": "true"}
    calls = await api.get("/calls", {**flags, "page[size]": "2"})
    assert [c["meta"] for c in calls.data] == [
        {"canWrite": False, "canDelete": True, "dataConnections": []}
    ] * 2  # calls have no PATCH
    plain = await api.get("/prospects/1")
    assert "meta" not in plain.data
    one = await api.get("/prospects/1", {"provideAuthorizationMeta": "true"})
    assert one.data["meta"] == {"canWrite": True, "canDelete": True}


async def test_a_task_about_an_account_keeps_its_subject_typed(api: Api) -> None:
    task = await api.create(
        "task",
        "/tasks",
        attributes={"action": "action_item"},
        relationships={"subject": ref("account", 1)},
    )
    assert task["relationships"]["subject"] == ref("account", 1)
    assert task["relationships"]["account"] == ref("account", 1)
    assert task["relationships"]["prospect"] == {"data": None}
    by_account = await api.get("/tasks", {"filter[account][id]": "1", "page[size]": "1000"})
    assert task["id"] in {t["id"] for t in by_account.data}
