"""Identity: authorize, token grants, rotating refresh tokens, grace period, expiry, connections."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
import pytest

REDIRECT_URI = "http://127.0.0.1:3000/oauth/xero/callback"


def test_authorize_consents_at_once_and_redirects_with_code_and_state(identity):
    # Given a registered client
    # When it sends the user to the authorize endpoint
    response = identity.authorize(state="abc123")
    # Then the emulator consents at once and redirects back with a code and the same state
    assert response.status_code == 302
    location = urlparse(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["abc123"]
    assert query["code"][0]


def test_authorize_also_answers_on_the_short_path(http):
    # Given the login host's path /identity/connect/authorize and the short /connect/authorize
    # When the short one is used
    response = http.get("/connect/authorize", params={"response_type": "code", "client_id": "local-client-id",
                                                      "redirect_uri": REDIRECT_URI, "scope": "openid"})
    # Then it redirects with a code too
    assert response.status_code == 302
    assert "code=" in response.headers["location"]


def test_authorize_refuses_an_unknown_client(http):
    # Given a client id the emulator does not know
    # When it asks for consent
    response = http.get("/identity/connect/authorize", params={
        "response_type": "code", "client_id": "someone-else", "redirect_uri": REDIRECT_URI, "scope": "openid"})
    # Then no code is issued
    assert response.status_code == 400


def test_code_exchange_returns_a_token_set_with_30_minute_access_token(identity):
    # Given a code from the authorize redirect
    code = identity.code()
    # When the client exchanges it with HTTP Basic client authentication
    response = identity.exchange(code)
    # Then it gets Xero's token set
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1800
    assert body["access_token"] and body["refresh_token"] and body["id_token"]
    assert "offline_access" in body["scope"].split()


def test_code_can_be_exchanged_only_once(identity):
    # Given a code already exchanged
    code = identity.code()
    assert identity.exchange(code).status_code == 200
    # When it is exchanged again
    response = identity.exchange(code)
    # Then Xero says invalid_grant
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant"}


def test_wrong_client_secret_is_invalid_client(identity):
    # Given a valid code but a wrong secret
    code = identity.code()
    # When exchanged
    response = identity.exchange(code, secret="not-the-secret")
    # Then the client is refused
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


def test_no_refresh_token_without_offline_access(identity):
    # Given consent without offline_access
    tokens = identity.tokens(scope="openid accounting.transactions")
    # Then the token set has no refresh token
    assert "refresh_token" not in tokens


def test_refresh_rotates_the_refresh_token(identity, tokens):
    # Given a token set
    # When the refresh token is used
    response = identity.refresh(tokens["refresh_token"])
    # Then a new access token and a new refresh token come back
    assert response.status_code == 200
    fresh = response.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["access_token"] != tokens["access_token"]
    # And the new refresh token works in turn
    assert identity.refresh(fresh["refresh_token"]).status_code == 200


def test_predecessor_works_inside_the_grace_period_when_the_rotation_response_was_lost(identity, tokens,
                                                                                       emulator_control):
    # Given a refresh whose response the client never received
    lost = identity.refresh(tokens["refresh_token"]).json()
    # When, 29 minutes later, the client retries with the previous refresh token
    emulator_control("clock", {"advance": 29 * 60})
    response = identity.refresh(tokens["refresh_token"])
    # Then it gets a fresh token set, and the unseen successor is retired
    assert response.status_code == 200
    assert response.json()["refresh_token"] not in (lost["refresh_token"], tokens["refresh_token"])
    assert identity.refresh(lost["refresh_token"]).json() == {"error": "invalid_grant"}


def test_predecessor_is_invalid_after_the_30_minute_grace(identity, tokens, emulator_control):
    # Given a rotation whose response was lost
    identity.refresh(tokens["refresh_token"])
    # When the previous token is retried 31 minutes later
    emulator_control("clock", {"advance": 31 * 60})
    response = identity.refresh(tokens["refresh_token"])
    # Then it is invalid_grant: the user must authorise again
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant"}


def test_predecessor_is_invalid_once_its_successor_was_used(identity, tokens):
    # Given a rotation whose response was received and whose new token was then used
    first = identity.refresh(tokens["refresh_token"]).json()
    assert identity.refresh(first["refresh_token"]).status_code == 200
    # When a second process tries the stale token (two processes refreshing the same set)
    response = identity.refresh(tokens["refresh_token"])
    # Then Xero answers invalid_grant
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_refresh_token_unused_for_60_days_expires(identity, tokens, emulator_control):
    # Given a refresh token left unused for just over 60 days
    emulator_control("clock", {"advance": 60 * 24 * 3600 + 60})
    # When it is used
    response = identity.refresh(tokens["refresh_token"])
    # Then it has expired
    assert response.json() == {"error": "invalid_grant"}


def test_refresh_token_used_within_60_days_still_works(identity, tokens, emulator_control):
    # Given a refresh token unused for 59 days
    emulator_control("clock", {"advance": 59 * 24 * 3600})
    # When it is used
    response = identity.refresh(tokens["refresh_token"])
    # Then it still works
    assert response.status_code == 200


def test_token_endpoint_calls_are_counted_in_state(identity, tokens, emulator_control):
    # Given one code exchange (the fixture) and one refresh
    identity.refresh(tokens["refresh_token"])
    # When the state is read
    state = emulator_control("state", method="GET")
    # Then each call to the token endpoint is counted by grant type
    calls = state["xero"]["identity"]["token_calls"]
    assert calls == {"total": 2, "authorization_code": 1, "refresh_token": 1}


def test_access_token_expires_after_30_minutes(api, emulator_control):
    # Given a valid access token
    assert api.get("/Contacts").status_code == 200
    # When 30 minutes pass
    emulator_control("clock", {"advance": 1800})
    response = api.get("/Contacts")
    # Then the API answers 401 with Xero's TokenExpired problem
    assert response.status_code == 401
    body = response.json()
    assert body["Title"] == "Unauthorized"
    assert body["Detail"].startswith("TokenExpired: token expired at ")


def test_unknown_bearer_token_is_401(http, xero):
    # Given a made-up token
    # When the API is called
    response = http.get("/api.xro/2.0/Invoices", headers={"Authorization": "Bearer nope", "xero-tenant-id": xero.tenant_id})
    # Then it is refused as unauthenticated
    assert response.status_code == 401
    assert response.json()["Status"] == 401


def test_connections_list_the_consented_demo_organisation(http, tokens, xero):
    # Given a token from the connect flow
    # When /connections is read
    response = http.get("/connections", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    # Then the demo organisation is there, with the identity spec's fields
    assert response.status_code == 200
    [connection] = response.json()
    assert connection["tenantId"] == xero.tenant_id
    assert connection["tenantType"] == "ORGANISATION"
    assert set(connection) == {"id", "authEventId", "tenantId", "tenantType", "tenantName", "createdDateUtc",
                               "updatedDateUtc"}


def test_missing_or_unconnected_tenant_is_403(api, emulator_control):
    # Given an organisation that exists but the app is not connected to
    other = emulator_control("orgs", {"name": "Not Connected Ltd", "connect": False})
    # When the API is called for it, or without a tenant header at all
    foreign = api.get("/Invoices", headers={"xero-tenant-id": other["tenantId"]})
    missing = api.http.get("/api.xro/2.0/Invoices", headers={"Authorization": f"Bearer {api.access_token}"})
    # Then both are Xero's 403 AuthenticationUnsuccessful
    for response in (foreign, missing):
        assert response.status_code == 403
        assert response.json()["Detail"] == "AuthenticationUnsuccessful"


def test_deleted_connection_stops_api_access(api, http):
    # Given a connection
    [connection] = http.get("/connections", headers={"Authorization": f"Bearer {api.access_token}"}).json()
    # When it is deleted (disconnect)
    assert http.delete(f"/connections/{connection['id']}",
                       headers={"Authorization": f"Bearer {api.access_token}"}).status_code == 204
    # Then calls for that tenant are refused
    assert api.get("/Contacts").status_code == 403


def test_token_without_the_scope_is_forbidden(http, identity, xero):
    # Given a token consented for contacts only
    token = identity.tokens(scope="offline_access accounting.contacts")["access_token"]
    # When it reads invoices
    response = http.get("/api.xro/2.0/Invoices", headers={"Authorization": f"Bearer {token}",
                                                          "xero-tenant-id": xero.tenant_id})
    # Then Xero refuses it
    assert response.status_code == 403


def test_lost_refresh_response_is_recovered_with_the_previous_token(identity, tokens, emulator_control):
    # Given the next token response is lost after the rotation was committed
    emulator_control("faults", {"kind": "drop", "count": 1, "path_prefix": "/connect/token"})
    with pytest.raises(httpx.TransportError):
        identity.refresh(tokens["refresh_token"])
    # When the client retries with the token it still has
    response = identity.refresh(tokens["refresh_token"])
    # Then the grace period gives it a working token set
    assert response.status_code == 200
    assert identity.refresh(response.json()["refresh_token"]).status_code == 200
