"""v2 deals, organizations and persons: CRUD, status side effects, custom fields by hash."""

from __future__ import annotations

import re

from local.emulators.pipedrive import field_code


def test_deal_crud_round_trip(api):
    # Given an organization and a person
    org = api.post("/api/v2/organizations", json={"name": "Acme Ltd"}).json()["data"]
    person = api.post("/api/v2/persons", json={
        "name": "Jane Doe", "org_id": org["id"],
        "emails": [{"value": "jane@acme.test", "primary": True, "label": "work"}],
    }).json()["data"]
    # When a deal is created, read, patched, listed and deleted
    created = api.post("/api/v2/deals", json={"title": "Widgets", "value": 1200.5, "currency": "EUR",
                                              "org_id": org["id"], "person_id": person["id"]})
    deal_id = created.json()["data"]["id"]
    fetched = api.get(f"/api/v2/deals/{deal_id}").json()
    patched = api.patch(f"/api/v2/deals/{deal_id}", json={"title": "More widgets"}).json()["data"]
    listed = api.get("/api/v2/deals").json()
    deleted = api.delete(f"/api/v2/deals/{deal_id}").json()
    after = api.get("/api/v2/deals").json()["data"]
    # Then each step answers in v2 shape with integer ids and exact numbers
    assert created.status_code == 200
    assert fetched["success"] is True
    deal = fetched["data"]
    assert (deal["title"], deal["value"], deal["currency"], deal["status"]) == ("Widgets", 1200.5, "EUR", "open")
    assert (deal["org_id"], deal["person_id"], deal["owner_id"]) == (org["id"], person["id"], 2)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", deal["add_time"])
    assert patched["title"] == "More widgets"
    assert [d["id"] for d in listed["data"]] == [deal_id]
    assert listed["additional_data"] == {"next_cursor": None}
    assert deleted == {"success": True, "data": {"id": deal_id}}
    assert after == []


def test_unknown_deal_is_404(api):
    # Given no deal 999
    # When it is read
    response = api.get("/api/v2/deals/999")
    # Then Pipedrive's not-found answer comes back
    assert response.status_code == 404
    assert response.json()["success"] is False


def test_v2_refuses_numbers_sent_as_strings(api):
    # Given a deal
    deal_id = api.post("/api/v2/deals", json={"title": "Strict"}).json()["data"]["id"]
    # When a value is sent as a string (v2 no longer coerces)
    response = api.patch(f"/api/v2/deals/{deal_id}", json={"value": "100"})
    # Then it is a validation error
    assert response.status_code == 400


def test_custom_field_round_trip_by_hash(api):
    # Given a custom deal field created through the API
    created = api.post("/api/v2/dealFields", json={"field_name": "Xero invoice number", "field_type": "varchar"})
    code = created.json()["data"]["field_code"]
    deal_id = api.post("/api/v2/deals", json={"title": "Invoice me"}).json()["data"]["id"]
    # When the deal is patched by hash, read back, then cleared with null
    api.patch(f"/api/v2/deals/{deal_id}", json={"custom_fields": {code: "INV-0042"}})
    stored = api.get(f"/api/v2/deals/{deal_id}").json()["data"]["custom_fields"]
    api.patch(f"/api/v2/deals/{deal_id}", json={"custom_fields": {code: None}})
    cleared = api.get(f"/api/v2/deals/{deal_id}").json()["data"]["custom_fields"]
    # Then the hash is the deterministic 40-character one and the value round-trips
    assert code == field_code("deal", "Xero invoice number")
    assert re.fullmatch(r"[0-9a-f]{40}", code)
    assert stored == {code: "INV-0042"}
    assert cleared == {code: None}


def test_monetary_custom_field_keeps_value_and_currency(api):
    # Given a monetary organization field
    code = api.post("/api/v2/organizationFields",
                    json={"field_name": "Xero outstanding", "field_type": "monetary"}).json()["data"]["field_code"]
    org_id = api.post("/api/v2/organizations", json={"name": "Acme"}).json()["data"]["id"]
    # When a value with currency is written
    response = api.patch(f"/api/v2/organizations/{org_id}",
                         json={"custom_fields": {code: {"value": 1234.56, "currency": "GBP"}}})
    # Then it reads back as v2 writes monetary fields
    assert response.status_code == 200
    assert api.get(f"/api/v2/organizations/{org_id}").json()["data"]["custom_fields"][code] == {
        "value": 1234.56, "currency": "GBP"}


def test_unknown_custom_field_hash_is_refused(api):
    # Given a deal and a hash no field has
    deal_id = api.post("/api/v2/deals", json={"title": "X"}).json()["data"]["id"]
    # When it is patched with that hash
    response = api.patch(f"/api/v2/deals/{deal_id}", json={"custom_fields": {"a" * 40: "x"}})
    # Then the request is refused
    assert response.status_code == 400


def test_custom_field_value_of_the_wrong_type_is_refused(api):
    # Given a numeric deal field
    code = api.post("/api/v2/dealFields", json={"field_name": "Amount due", "field_type": "double"}).json()[
        "data"]["field_code"]
    deal_id = api.post("/api/v2/deals", json={"title": "X"}).json()["data"]["id"]
    # When text is written into it
    response = api.patch(f"/api/v2/deals/{deal_id}", json={"custom_fields": {code: "lots"}})
    # Then it is refused
    assert response.status_code == 400


def test_custom_field_at_top_level_is_refused(api):
    # Given a custom field (v1 put them at the top level; v2 wants them in custom_fields)
    code = api.post("/api/v2/dealFields", json={"field_name": "Status", "field_type": "varchar"}).json()[
        "data"]["field_code"]
    deal_id = api.post("/api/v2/deals", json={"title": "X"}).json()["data"]["id"]
    # When it is sent the v1 way
    response = api.patch(f"/api/v2/deals/{deal_id}", json={code: "PAID"})
    # Then v2 refuses it
    assert response.status_code == 400


def test_deal_fields_list_built_in_and_custom_fields(api):
    # Given one custom deal field
    api.post("/api/v2/dealFields", json={"field_name": "Xero status", "field_type": "varchar"})
    # When the deal fields are listed
    fields = api.get("/api/v2/dealFields", params={"limit": 500}).json()["data"]
    by_code = {f["field_code"]: f for f in fields}
    # Then built-in fields and the custom one are there, flagged as v2 does
    assert by_code["title"]["is_custom_field"] is False
    assert by_code["value"]["field_type"] == "monetary"
    custom = by_code[field_code("deal", "Xero status")]
    assert (custom["field_name"], custom["field_type"], custom["is_custom_field"]) == (
        "Xero status", "varchar", True)


def test_rewinning_a_deal_moves_won_time_but_keeps_first_won_time(pd, api, control):
    # Given a deal won in the app
    deal_id = api.post("/api/v2/deals", json={"title": "Twice"}).json()["data"]["id"]
    control.post("/clock", json={"freeze": True})
    control.patch(f"/app/deals/{deal_id}", json={"status": "won"})
    first = api.get(f"/api/v2/deals/{deal_id}", params={"include_fields": "first_won_time"}).json()["data"]
    # When it is reopened and won again an hour later
    control.patch(f"/app/deals/{deal_id}", json={"status": "open"})
    control.post("/clock", json={"advance": 3600})
    control.patch(f"/app/deals/{deal_id}", json={"status": "won"})
    second = api.get(f"/api/v2/deals/{deal_id}", params={"include_fields": "first_won_time"}).json()["data"]
    # Then won_time moved and first_won_time did not
    assert first["won_time"] == first["first_won_time"] == first["close_time"]
    assert second["won_time"] != first["won_time"]
    assert second["first_won_time"] == first["first_won_time"]


def test_archived_deal_cannot_be_patched_through_the_api(api, control):
    # Given a deal archived in the app
    deal_id = api.post("/api/v2/deals", json={"title": "Old"}).json()["data"]["id"]
    control.patch(f"/app/deals/{deal_id}", json={"is_archived": True})
    # When the bridge patches it
    response = api.patch(f"/api/v2/deals/{deal_id}", json={"title": "New"})
    # Then it is refused
    assert response.status_code == 400


def test_person_emails_round_trip(api):
    # Given a person with two emails, none marked primary
    created = api.post("/api/v2/persons", json={
        "name": "Ann Other", "emails": [{"value": "a@x.test", "label": "work"}, {"value": "b@x.test"}]})
    # When it is read back
    person = api.get(f"/api/v2/persons/{created.json()['data']['id']}").json()["data"]
    # Then the emails keep their order and the first became primary
    assert person["emails"] == [
        {"value": "a@x.test", "primary": True, "label": "work"},
        {"value": "b@x.test", "primary": False, "label": "work"},
    ]
    assert (person["first_name"], person["last_name"]) == ("Ann", "Other")
