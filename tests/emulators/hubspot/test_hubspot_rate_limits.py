"""Rate limits: X-HubSpot-RateLimit-* headers, a rolling 10-second window per app and a daily cap, and
429 bodies with policyName; injected 429s look the same."""

from __future__ import annotations

import httpx

from local.emulators.hubspot import DEFAULT_OTHER_APP_TOKEN

HEADERS = ("X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining", "X-HubSpot-RateLimit-Interval-Milliseconds",
           "X-HubSpot-RateLimit-Daily", "X-HubSpot-RateLimit-Daily-Remaining")


def test_every_answer_carries_the_rate_limit_headers(api):
    # Given a fresh account
    # When the bridge makes two calls
    first = api.get("/crm/v3/owners")
    second = api.get("/crm/v3/owners")
    # Then both carry HubSpot's headers, and Remaining counts down
    assert all(h in first.headers for h in HEADERS)
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert int(first.headers["X-HubSpot-RateLimit-Remaining"]) - int(second.headers["X-HubSpot-RateLimit-Remaining"]) == 1
    assert int(second.headers["X-HubSpot-RateLimit-Daily-Remaining"]) == int(second.headers["X-HubSpot-RateLimit-Daily"]) - 2


def test_over_the_ten_second_limit_is_a_429_with_policy_name(api, control):
    # Given a limit of 3 requests per 10 s and a frozen clock
    control.post("/clock", json={"freeze": True})
    control.post("/ratelimit", json={"max_per_interval": 3})
    # When a fourth request comes within the window
    statuses = [api.get("/crm/v3/owners").status_code for _ in range(4)]
    refused = api.get("/crm/v3/owners")
    # Then it is refused with HubSpot's body
    assert statuses == [200, 200, 200, 429]
    body = refused.json()
    assert (body["status"], body["policyName"], body["errorType"]) == ("error", "TEN_SECONDLY_ROLLING", "RATE_LIMIT")
    assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_window_frees_once_the_clock_moves_ten_seconds(api, control):
    # Given a used-up window
    control.post("/clock", json={"freeze": True})
    control.post("/ratelimit", json={"max_per_interval": 1})
    api.get("/crm/v3/owners")
    assert api.get("/crm/v3/owners").status_code == 429
    # When 10 seconds pass on the emulator clock
    control.post("/clock", json={"advance": 10})
    # Then requests go through again
    assert api.get("/crm/v3/owners").status_code == 200


def test_window_is_per_app(api, control, hs):
    # Given the bridge's window used up
    control.post("/clock", json={"freeze": True})
    control.post("/ratelimit", json={"max_per_interval": 1})
    api.get("/crm/v3/owners")
    # When another app calls
    other = httpx.get(f"{hs.url}/crm/v3/owners", headers={"Authorization": f"Bearer {DEFAULT_OTHER_APP_TOKEN}"})
    # Then its own window lets it through
    assert other.status_code == 200


def test_daily_limit_answers_429_daily_until_midnight(api, control):
    # Given an account with one request left today
    control.post("/clock", json={"set": "2025-06-01T23:59:00Z", "freeze": True})
    control.post("/ratelimit", json={"daily": 10, "daily_used": 9})
    assert api.get("/crm/v3/owners").status_code == 200
    # When another request comes the same day, then after midnight
    refused = api.get("/crm/v3/owners")
    control.post("/clock", json={"advance": 60})
    next_day = api.get("/crm/v3/owners")
    # Then the first is refused with policy DAILY, the second goes through
    assert (refused.status_code, refused.json()["policyName"]) == (429, "DAILY")
    assert next_day.status_code == 200


def test_injected_rate_limit_fault_has_hubspots_shape(api, control):
    # Given a one-off injected 429
    control.post("/faults", json={"kind": "rate_limit", "count": 1, "path_prefix": "/crm/v3/objects"})
    # When the bridge reads a deal list
    response = api.get("/crm/v3/objects/deals")
    # Then the 429 has HubSpot's body and headers, and the next call works
    assert response.status_code == 429
    assert response.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert "X-HubSpot-RateLimit-Max" in response.headers
    assert api.get("/crm/v3/objects/deals").status_code == 200


def test_injected_server_error_comes_after_auth(hs, control):
    # Given an injected 502 on every objects call
    control.post("/faults", json={"kind": "502", "path_prefix": "/crm/v3/objects"})
    # When a call without a token comes
    response = httpx.get(f"{hs.url}/crm/v3/objects/deals")
    # Then auth answers first
    assert response.status_code == 401
