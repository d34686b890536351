"""The CRM search API and the v4 association batch read, as the go-live tooling calls them."""

from __future__ import annotations

import httpx

from local.emulators.hubspot import search as search_module


def seed_deals(hs, specs: list[tuple[str, str]]) -> list[str]:
    """Deals (stage, closedate), ids in the order given."""
    refs = hs.seed({"deals": [{"ref": f"d{i}", "properties": {"dealname": f"Deal {i}", "dealstage": stage,
                                                               "closedate": closed}}
                              for i, (stage, closed) in enumerate(specs)]})["refs"]["deals"]
    return [refs[f"d{i}"] for i in range(len(specs))]


def search(api: httpx.Client, filters: list[dict], **body) -> httpx.Response:
    return api.post("/crm/v3/objects/deals/search", json={"filterGroups": [{"filters": filters}], **body})


def test_search_filters_by_bool_and_by_a_datetime_range_in_epoch_milliseconds(hs, api):
    # Given won deals closed in May and June, and a lost one in June
    may, june, _ = seed_deals(hs, [("closedwon", "2025-05-20T00:00:00Z"), ("closedwon", "2025-06-02T08:00:00Z"),
                                   ("closedlost", "2025-06-03T00:00:00Z")])
    june_1, july_1 = "1748736000000", "1751328000000"
    # When won deals with a close date in [1 June, 1 July) are searched
    answer = search(api, [{"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"},
                          {"propertyName": "closedate", "operator": "GTE", "value": june_1},
                          {"propertyName": "closedate", "operator": "LT", "value": july_1}],
                    properties=["dealname", "closedate"]).json()
    # Then only June's won deal is found, with the properties asked for
    assert answer["total"] == 1 and [r["id"] for r in answer["results"]] == [june]
    assert answer["results"][0]["properties"]["dealname"] == "Deal 1"
    assert may not in [r["id"] for r in answer["results"]]


def test_search_pages_with_after_in_the_sort_order(hs, api):
    # Given five won deals
    ids = seed_deals(hs, [("closedwon", "2025-06-02T08:00:00Z")] * 5)
    won = [{"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"}]
    sort = [{"propertyName": "hs_object_id", "direction": "DESCENDING"}]
    # When they are searched two a page, following paging.next.after
    first = search(api, won, limit=2, sorts=sort).json()
    second = search(api, won, limit=2, sorts=sort, after=first["paging"]["next"]["after"]).json()
    third = search(api, won, limit=2, sorts=sort, after=second["paging"]["next"]["after"]).json()
    # Then the pages hold every deal once, highest id first, and the last page has no next
    assert [r["id"] for page in (first, second, third) for r in page["results"]] == sorted(ids, key=int, reverse=True)
    assert "paging" not in third


def test_paging_is_offered_up_to_the_result_cap_and_refused_past_it(hs, api, monkeypatch):
    # Given a search cap of 4 results (HubSpot's 10,000, scaled down) and five won deals
    monkeypatch.setattr(search_module, "MAX_RESULTS", 4)
    seed_deals(hs, [("closedwon", "2025-06-02T08:00:00Z")] * 5)
    won = [{"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"}]
    # When the second page of two is read, Then it still offers a next page, which is refused
    second = search(api, won, limit=2, after="2").json()
    assert (second["total"], len(second["results"]), second["paging"]["next"]["after"]) == (5, 2, "4")
    assert search(api, won, limit=2, after="4").status_code == 400


def test_search_refuses_what_hubspot_refuses(hs, api):
    # Given any account, When a search asks more than 200 a page, past 10,000 results, an unknown
    # property or an operator the emulator does not know, Then each is a 400
    won = [{"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"}]
    assert search(api, won, limit=201).status_code == 400
    assert search(api, won, after="10000").status_code == 400
    assert search(api, [{"propertyName": "no_such_thing", "operator": "EQ", "value": "1"}]).status_code == 400
    assert search(api, [{"propertyName": "dealname", "operator": "SOUNDS_LIKE", "value": "x"}]).status_code == 400


def test_a_sixth_search_in_one_second_is_rate_limited(hs, api, control):
    # Given a frozen clock, When six searches are sent
    control.post("/clock", json={"freeze": True})
    answers = [search(api, []) for _ in range(6)]
    # Then the sixth is a 429 naming the secondly policy
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[5].json()["policyName"] == "SECONDLY"


def test_the_v4_batch_read_gives_each_deals_associations_with_labels(hs, api, seed_deal):
    # Given a deal with a primary company, When its companies and line items are read in a batch
    refs = seed_deal()
    deal_id = refs["deals"]["deal"]
    companies = api.post("/crm/v4/associations/deals/companies/batch/read", json={"inputs": [{"id": deal_id}]}).json()
    items = api.post("/crm/v4/associations/deals/line_items/batch/read", json={"inputs": [{"id": deal_id}]}).json()
    # Then the company carries its Primary label and both line items are there
    [result] = companies["results"]
    assert result["from"] == {"id": deal_id}
    assert [t["toObjectId"] for t in result["to"]] == [int(refs["companies"]["acme"])]
    assert "Primary" in {k["label"] for k in result["to"][0]["associationTypes"]}
    assert sorted(str(t["toObjectId"]) for t in items["results"][0]["to"]) == sorted(refs["line_items"].values())
