"""Properties and property groups: the custom properties the bridge creates on first use."""

from __future__ import annotations

GROUP = {"name": "xero_bridge", "label": "Xero Bridge", "displayOrder": -1}
INVOICE_NUMBER = {"name": "xero_invoice_number", "label": "Xero invoice number", "type": "string",
                  "fieldType": "text", "groupName": "xero_bridge"}


def test_custom_property_created_in_its_group_is_listed_and_writable(api):
    # Given the bridge's property group
    assert api.post("/crm/v3/properties/deals/groups", json=GROUP).status_code == 201
    # When it creates its property
    created = api.post("/crm/v3/properties/deals", json=INVOICE_NUMBER)
    # Then the property is listed, not HubSpot-defined, and a deal takes a value for it
    assert created.status_code == 201
    listed = {p["name"]: p for p in api.get("/crm/v3/properties/deals").json()["results"]}
    assert listed["xero_invoice_number"]["groupName"] == "xero_bridge"
    assert "hubspotDefined" not in listed["xero_invoice_number"]
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D", "xero_invoice_number": "INV-7"}})
    assert deal.json()["id"]
    read = api.get(f"/crm/v3/objects/deals/{deal.json()['id']}", params={"properties": "xero_invoice_number"})
    assert read.json()["properties"]["xero_invoice_number"] == "INV-7"


def test_creating_a_property_twice_is_a_409(api):
    # Given an existing custom property
    api.post("/crm/v3/properties/deals/groups", json=GROUP)
    api.post("/crm/v3/properties/deals", json=INVOICE_NUMBER)
    # When it is created again
    response = api.post("/crm/v3/properties/deals", json=INVOICE_NUMBER)
    # Then HubSpot says it already exists
    assert response.status_code == 409
    assert response.json()["category"] == "OBJECT_ALREADY_EXISTS"


def test_property_in_a_missing_group_is_refused(api):
    # Given no xero_bridge group
    # When a property names it
    response = api.post("/crm/v3/properties/deals", json=INVOICE_NUMBER)
    # Then it is refused
    assert response.status_code == 400


def test_type_and_field_type_must_go_together(api):
    # Given the group
    api.post("/crm/v3/properties/companies/groups", json=GROUP)
    # When a number property is declared as a text field
    response = api.post("/crm/v3/properties/companies", json={
        "name": "xero_outstanding", "label": "Outstanding", "type": "number", "fieldType": "text",
        "groupName": "xero_bridge"})
    # Then it is refused, as HubSpot validates the pair
    assert response.status_code == 400
    assert "fieldType" in response.json()["message"]


def test_hs_prefix_is_reserved(api):
    # Given the group
    api.post("/crm/v3/properties/deals/groups", json=GROUP)
    # When a custom property is named hs_...
    response = api.post("/crm/v3/properties/deals", json={**INVOICE_NUMBER, "name": "hs_xero"})
    # Then it is refused
    assert response.status_code == 400


def test_bool_property_takes_true_and_false_only(api):
    # Given a bool property on companies
    api.post("/crm/v3/properties/companies/groups", json=GROUP)
    api.post("/crm/v3/properties/companies", json={"name": "xero_on_stop", "label": "On stop", "type": "bool",
                                                   "fieldType": "booleancheckbox", "groupName": "xero_bridge"})
    company = api.post("/crm/v3/objects/companies", json={"properties": {"name": "C"}}).json()["id"]
    # When it is written with "yes", then with true
    refused = api.patch(f"/crm/v3/objects/companies/{company}", json={"properties": {"xero_on_stop": "yes"}})
    accepted = api.patch(f"/crm/v3/objects/companies/{company}", json={"properties": {"xero_on_stop": True}})
    # Then only the boolean is accepted, stored as "true"
    assert refused.status_code == 400 and "INVALID_OPTION" in refused.json()["message"]
    assert accepted.status_code == 200
    read = api.get(f"/crm/v3/objects/companies/{company}", params={"properties": "xero_on_stop"})
    assert read.json()["properties"]["xero_on_stop"] == "true"


def test_date_property_takes_an_iso_date_or_midnight_milliseconds(api):
    # Given a date property on deals
    api.post("/crm/v3/properties/deals/groups", json=GROUP)
    api.post("/crm/v3/properties/deals", json={"name": "xero_due_date", "label": "Due", "type": "date",
                                               "fieldType": "date", "groupName": "xero_bridge"})
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D"}}).json()["id"]
    # When it is written as a date, as midnight in ms, and as a time of day
    iso = api.patch(f"/crm/v3/objects/deals/{deal}", json={"properties": {"xero_due_date": "2025-04-30"}})
    ms = api.patch(f"/crm/v3/objects/deals/{deal}", json={"properties": {"xero_due_date": "1746057600000"}})
    noon = api.patch(f"/crm/v3/objects/deals/{deal}", json={"properties": {"xero_due_date": "2025-05-01T12:00:00Z"}})
    # Then the first two are dates (read back YYYY-MM-DD) and the third is refused
    assert (iso.status_code, ms.status_code, noon.status_code) == (200, 200, 400)
    read = api.get(f"/crm/v3/objects/deals/{deal}", params={"properties": "xero_due_date"})
    assert read.json()["properties"]["xero_due_date"] == "2025-05-01"


def test_single_property_reads_by_name(api):
    # Given the standard deal properties
    # When one is read by name
    response = api.get("/crm/v3/properties/deals/dealstage")
    # Then its definition comes back
    assert response.status_code == 200
    assert (response.json()["type"], response.json()["hubspotDefined"]) == ("enumeration", True)
