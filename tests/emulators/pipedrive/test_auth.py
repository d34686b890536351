"""Auth: x-api-token (or ?api_token=) of a known user, else Pipedrive's 401."""

from __future__ import annotations

import httpx

from local.emulators.pipedrive import INTEGRATION_USER_ID


def test_request_without_token_is_refused_with_pipedrive_401(pd):
    # Given a running emulator
    # When the bridge calls the API without a token
    response = httpx.get(f"{pd.url}/api/v2/deals")
    # Then Pipedrive's 401 error body comes back
    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": "unauthorized access",
        "errorCode": 401,
        "error_info": "Please check developers.pipedrive.com",
    }


def test_unknown_token_is_refused(pd):
    # Given a token the company never issued
    # When it is used
    response = httpx.get(f"{pd.url}/v1/users/me", headers={"x-api-token": "not-a-token"})
    # Then the call is refused
    assert response.status_code == 401


def test_token_belongs_to_the_integration_user(api):
    # Given the local API token
    # When the bridge asks who it is
    me = api.get("/v1/users/me").json()["data"]
    # Then it is the integration user of the local company
    assert (me["id"], me["name"]) == (INTEGRATION_USER_ID, "Xero Bridge")
    assert me["company_domain"] == "local-bridge"


def test_api_token_query_parameter_is_accepted(pd):
    # Given the token as a query parameter, as v1 allowed
    # When a call is made with it
    response = httpx.get(f"{pd.url}/v1/users/me", params={"api_token": pd.token})
    # Then it is authenticated
    assert response.status_code == 200


def test_salesperson_token_acts_as_the_salesperson_with_its_own_burst_window(pd, api, control):
    # Given the integration token has used its whole burst window (frozen clock)
    control.post("/clock", json={"freeze": True})
    control.post("/ratelimit", json={"burst_limit": 2})
    api.get("/v1/users/me")
    api.get("/v1/users/me")
    # When the salesperson's own token is used
    response = httpx.get(f"{pd.url}/v1/users/me", headers={"x-api-token": "local-pipedrive-sales-token"})
    # Then it is the salesperson, not limited by the integration token's window
    assert response.status_code == 200
    assert response.json()["data"]["name"] == "Sam Sales"
    assert api.get("/v1/users/me").status_code == 429
