"""Auth: Authorization: Bearer <private app token>, else HubSpot's 401."""

from __future__ import annotations

import httpx

from local.emulators.hubspot import DEFAULT_OTHER_APP_TOKEN


def test_request_without_token_gets_hubspots_401(hs):
    # Given a running emulator
    # When the bridge calls the API with no Authorization header
    response = httpx.get(f"{hs.url}/crm/v3/objects/deals")
    # Then HubSpot's authentication error comes back
    assert response.status_code == 401
    body = response.json()
    assert (body["status"], body["category"]) == ("error", "INVALID_AUTHENTICATION")
    assert body["message"].startswith("Authentication credentials not found")
    assert body["correlationId"]


def test_unknown_token_is_refused(hs):
    # Given a token the account never issued
    # When it is used
    response = httpx.get(f"{hs.url}/crm/v3/objects/deals", headers={"Authorization": "Bearer not-a-token"})
    # Then the call is refused
    assert response.status_code == 401


def test_token_must_come_as_bearer(hs):
    # Given the right token sent with another scheme
    # When it is used
    response = httpx.get(f"{hs.url}/crm/v3/objects/deals", headers={"Authorization": "Basic local-hubspot-token"})
    # Then the call is refused
    assert response.status_code == 401


def test_app_token_reads_the_account(api, hs):
    # Given the bridge's private app token
    # When it asks for the account details
    response = api.get("/account-info/v3/details")
    # Then it reads the emulated account
    assert response.status_code == 200
    assert response.json()["portalId"] == hs.config.portal_id
    assert response.json()["companyCurrency"] == "GBP"


def test_another_apps_token_is_accepted_too(hs):
    # Given the token of another integration installed in the same account
    # When it is used
    response = httpx.get(f"{hs.url}/crm/v3/owners", headers={"Authorization": f"Bearer {DEFAULT_OTHER_APP_TOKEN}"})
    # Then it is authenticated
    assert response.status_code == 200
