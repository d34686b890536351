"""Rate limits: headers on every answer, 429 past the burst window, the daily token budget."""

from __future__ import annotations

import pytest


def test_rate_limit_headers_are_on_every_api_answer(api):
    # Given a fresh emulator
    # When the bridge makes a call that succeeds and one that fails
    responses = [api.get("/api/v2/deals"), api.get("/api/v2/deals/404")]
    # Then both carry Pipedrive's rate-limit headers
    for response in responses:
        assert response.headers["x-ratelimit-limit"] == "40"
        assert int(response.headers["x-ratelimit-remaining"]) < 40
        assert int(response.headers["x-ratelimit-reset"]) in (1, 2)
        assert int(response.headers["x-daily-requests-left"]) > 0


def test_requests_past_the_burst_get_429_until_the_window_rolls(api, control):
    # Given a frozen clock, so all calls fall in one 2-second window
    control.post("/clock", json={"freeze": True})
    # When 41 calls are made at once
    statuses = [api.get("/v1/users/me").status_code for _ in range(41)]
    refused = api.get("/v1/users/me")
    control.post("/clock", json={"advance": 2})
    after_window = api.get("/v1/users/me")
    # Then the first 40 pass, the rest get 429 with remaining 0, and the next window admits calls again
    assert statuses[:40] == [200] * 40
    assert statuses[40] == 429
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.json()["success"] is False
    assert after_window.status_code == 200


def test_daily_budget_counts_token_costs(api, control):
    # Given a daily budget of 16 tokens and a deal
    deal_id = api.post("/api/v2/deals", json={"title": "Budget"}).json()["data"]["id"]
    control.post("/ratelimit", json={"daily_budget": 16, "daily_used": 0})
    # When deal products (10), a deal (1) and a deal patch (5) are asked for, then one more read
    products = api.get(f"/api/v2/deals/{deal_id}/products")
    deal = api.get(f"/api/v2/deals/{deal_id}")
    patch = api.patch(f"/api/v2/deals/{deal_id}", json={"title": "Budgeted"})
    over = api.get(f"/api/v2/deals/{deal_id}")
    # Then each cost its tokens and the budget ran out exactly
    assert products.headers["x-daily-requests-left"] == "6"
    assert deal.headers["x-daily-requests-left"] == "5"
    assert (patch.status_code, patch.headers["x-daily-requests-left"]) == (200, "0")
    assert over.status_code == 429


def test_burst_limit_is_configurable(api, control):
    # Given a burst limit of 3 and a frozen clock
    control.post("/ratelimit", json={"burst_limit": 3})
    control.post("/clock", json={"freeze": True})
    # When four calls are made
    statuses = [api.get("/api/v2/deals").status_code for _ in range(4)]
    # Then the fourth is refused
    assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize(
    ("method", "path", "body", "cost"),
    [
        ("GET", "/api/v2/deals/{deal}", None, 1),
        ("GET", "/api/v2/deals/{deal}/products", None, 10),
        ("GET", "/api/v2/organizations/{org}", None, 1),
        ("GET", "/api/v2/persons/{person}", None, 1),
        ("PATCH", "/api/v2/deals/{deal}", {"title": "Renamed"}, 5),
        ("PATCH", "/api/v2/organizations/{org}", {"name": "Renamed"}, 5),
        ("POST", "/v1/notes", {"content": "<p>Paid</p>", "deal_id": "{deal}"}, 10),
        ("GET", "/api/v2/dealFields", None, 10),
        ("POST", "/api/v2/dealFields", {"field_name": "Xero status", "field_type": "varchar"}, 5),
        ("GET", "/api/v2/organizationFields", None, 10),
        ("POST", "/api/v2/organizationFields", {"field_name": "On stop", "field_type": "varchar"}, 5),
    ],
)
def test_each_operation_costs_its_documented_tokens(api, control, method, path, body, cost):
    # Given a deal with its organization and person, and an unused daily budget
    seeded = control.post("/seed", json={
        "organizations": [{"ref": "o", "name": "Acme"}], "persons": [{"ref": "p", "name": "Jane"}],
        "deals": [{"ref": "d", "title": "Costly", "org_ref": "o", "person_ref": "p"}]}).json()["refs"]
    ids = {"deal": seeded["deals"]["d"], "org": seeded["organizations"]["o"], "person": seeded["persons"]["p"]}
    control.post("/ratelimit", json={"daily_budget": 1000, "daily_used": 0})
    if body and body.get("deal_id"):
        body = {**body, "deal_id": ids["deal"]}
    # When the operation is called once
    response = api.request(method, path.format(**ids), json=body)
    # Then exactly its token cost left the daily budget
    assert response.status_code < 300, response.text
    assert 1000 - int(response.headers["x-daily-requests-left"]) == cost
