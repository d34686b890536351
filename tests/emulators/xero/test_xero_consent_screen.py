"""The consent screen: which organisations a consent ticks, its authEventId on their connections and
the authentication_event_id claim of its access token, and a declined consent."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlparse

from tests.emulators.xero.conftest import CLIENT_ID, REDIRECT_URI, SCOPES


def consent(http, **ticks: str) -> dict[str, list[str]]:
    response = http.get("/identity/connect/authorize", params={
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": SCOPES,
        "state": "st4te", **ticks})
    assert response.status_code == 302
    return parse_qs(urlparse(response.headers["location"]).query)


def claims(access_token: str) -> dict:
    payload = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_consent_ticking_two_organisations_gives_both_its_auth_event_and_the_token_names_it(http, xero, identity):
    # Given a second organisation the user can tick
    globex = http.post("/_emulator/orgs", json={"name": "Globex Ltd", "connect": False}).json()["tenantId"]

    # When the user ticks both on the consent screen and the code is exchanged
    code = consent(http, emulator_tenants=f"{xero.tenant_id},{globex}")["code"][0]
    token = identity.exchange(code).json()["access_token"]

    # Then both connections carry one authEventId, which is the token's authentication_event_id
    connections = http.get("/connections", headers={"Authorization": f"Bearer {token}"}).json()
    event = claims(token)["authentication_event_id"]
    assert {(c["tenantId"], c["authEventId"]) for c in connections} == {(xero.tenant_id, event), (globex, event)}


def test_connections_list_every_tenant_of_the_app_and_filter_by_auth_event(http, xero, identity):
    # Given Globex connected by an earlier consent, and a new consent ticking only the demo organisation
    globex = http.post("/_emulator/orgs", json={"name": "Globex Ltd", "connect": True}).json()["tenantId"]
    code = consent(http, emulator_tenants=xero.tenant_id)["code"][0]
    token = identity.exchange(code).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    # When the app lists its connections, then filtered by this consent's authEventId
    every = http.get("/connections", headers=headers).json()
    own = http.get("/connections", headers=headers,
                   params={"authEventId": claims(token)["authentication_event_id"]}).json()

    # Then the full list has both organisations, the filtered one only this consent's
    assert {c["tenantId"] for c in every} == {xero.tenant_id, globex}
    assert [c["tenantId"] for c in own] == [xero.tenant_id]


def test_a_declined_consent_redirects_back_with_access_denied_and_no_code(http):
    # When the user declines on the consent screen
    query = consent(http, emulator_consent="deny")

    # Then Xero's redirect carries the error and the state, never a code
    assert query["error"] == ["access_denied"] and query["state"] == ["st4te"] and "code" not in query


def test_ticking_an_unknown_organisation_is_an_invalid_request(http):
    # When the consent names an organisation the emulator does not have
    query = consent(http, emulator_tenants="00000000-0000-0000-0000-00000000dead")

    # Then no code is issued
    assert query["error"] == ["invalid_request"] and "code" not in query
