"""Control endpoints: seeding, state, reset and injected faults."""

from __future__ import annotations

import httpx

from local.emulators.pipedrive import field_code


def test_seed_creates_linked_records_in_one_call(api, control):
    # Given a seed document with fields, an organization, a person, a product and a deal with a line
    seeded = control.post("/seed", json={
        "organization_fields": [{"field_name": "Xero ContactID", "field_type": "varchar"}],
        "organizations": [{"ref": "acme", "name": "Acme", "address": {"value": "1 High St, London"},
                           "custom_fields": {"Xero ContactID": "c-1"}}],
        "persons": [{"ref": "jane", "name": "Jane", "org_ref": "acme"}],
        "products": [{"ref": "w", "name": "Widget", "code": "W"}],
        "deals": [{"ref": "d", "title": "Big", "org_ref": "acme", "person_ref": "jane",
                   "products": [{"product_ref": "w", "item_price": 10, "quantity": 4}]}],
    }).json()
    # When the records are read through the API
    refs = seeded["refs"]
    org = api.get(f"/api/v2/organizations/{refs['organizations']['acme']}").json()["data"]
    deal = api.get(f"/api/v2/deals/{refs['deals']['d']}").json()["data"]
    # Then they are linked, custom fields resolved by name, and the deal valued from its line
    code = field_code("organization", "Xero ContactID")
    assert seeded["fields"] == {"organization": {"Xero ContactID": code}}
    assert org["custom_fields"] == {code: "c-1"}
    assert org["address"]["value"] == "1 High St, London"
    assert (deal["org_id"], deal["person_id"], deal["value"]) == (org["id"], refs["persons"]["jane"], 40)


def test_state_holds_everything_and_reset_forgets_it(api, control):
    # Given a deal
    api.post("/api/v2/deals", json={"title": "Remember me"})
    # When the state is read, then the emulator is reset
    before = control.get("/state").json()
    control.post("/reset", json={})
    after = control.get("/state").json()
    # Then the deal was in the state and is gone after the reset
    assert [d["title"] for d in before["deals"]] == ["Remember me"]
    assert before["emulator"] == "pipedrive"
    assert after["deals"] == []


def test_injected_fault_answers_after_auth_and_counts_against_limits(api, control):
    # Given a 503 fault on the next deal read
    control.post("/faults", json={"kind": "503", "count": 1, "path_prefix": "/api/v2/deals"})
    # When the bridge reads deals twice
    first, second = api.get("/api/v2/deals"), api.get("/api/v2/deals")
    # Then the first gets the fault (with rate-limit headers) and the second succeeds
    assert first.status_code == 503
    assert "x-ratelimit-remaining" in first.headers
    assert second.status_code == 200


def test_app_actions_are_made_by_the_salesperson(api, control):
    # Given nothing
    # When a deal is created in the app
    deal = control.post("/app/deals", json={"title": "From the app"}).json()["data"]
    # Then the salesperson owns it and it was created manually
    assert (deal["owner_id"], deal["creator_user_id"], deal["origin"]) == (1, 1, "ManuallyCreated")


def test_dropped_response_still_commits_the_write(api, control):
    # Given a deal and a fault that drops the answer to the next deal patch after it is committed
    deal_id = api.post("/api/v2/deals", json={"title": "Before"}).json()["data"]["id"]
    control.post("/faults", json={"kind": "drop", "count": 1, "method": "PATCH", "path_prefix": "/api/v2/deals"})
    # When the bridge patches the deal
    try:
        response = api.patch(f"/api/v2/deals/{deal_id}", json={"title": "After"})
        outcome = response.status_code
    except httpx.TransportError:
        outcome = "connection lost"
    # Then the client never got an answer, but the change is there
    assert outcome == "connection lost"
    assert api.get(f"/api/v2/deals/{deal_id}").json()["data"]["title"] == "After"
