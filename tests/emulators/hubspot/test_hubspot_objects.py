"""CRM v3 objects: create, read with properties and associations, update, batch read and update."""

from __future__ import annotations

import json


def _deal(api, refs, **params):
    return api.get(f"/crm/v3/objects/deals/{refs['deals']['deal']}", params=params)


def test_created_company_reads_back_with_its_properties(api):
    # Given a company created through the API
    created = api.post("/crm/v3/objects/companies", json={"properties": {"name": "Acme Ltd", "city": "Leeds"}})
    assert created.status_code == 201
    # When it is read with the properties asked for
    read = api.get(f"/crm/v3/objects/companies/{created.json()['id']}", params={"properties": "name,city,zip"})
    # Then the values are strings, unset ones null, and the id is a string
    body = read.json()
    assert body["id"] == created.json()["id"]
    assert {k: body["properties"][k] for k in ("name", "city", "zip")} == {"name": "Acme Ltd", "city": "Leeds",
                                                                            "zip": None}
    assert body["properties"]["hs_object_id"] == body["id"]
    assert body["archived"] is False


def test_get_without_properties_returns_the_default_set(api):
    # Given a deal
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "Defaults", "description": "x"}}).json()
    # When it is read without properties=
    props = api.get(f"/crm/v3/objects/deals/{deal['id']}").json()["properties"]
    # Then HubSpot's default deal properties come back, not every property
    assert set(props) == {"amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
                          "hs_object_id", "pipeline"}


def test_new_deal_starts_in_the_first_stage_of_the_default_pipeline(api):
    # Given a deal created with a name only
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "Fresh"}}).json()
    # When it is read
    props = api.get(f"/crm/v3/objects/deals/{deal['id']}", params={"properties": "pipeline,dealstage"}).json()
    # Then it sits in the default pipeline's first stage
    assert (props["properties"]["pipeline"], props["properties"]["dealstage"]) == ("default", "appointmentscheduled")


def test_deal_associations_round_trip_with_hubspots_line_items_key(api, seed_deal):
    # Given a deal seeded with a primary company, a contact and two line items
    refs = seed_deal()
    # When it is read with associations
    body = _deal(api, refs, associations="companies,contacts,line_items").json()
    # Then each association lists its ids; line items come under "line items" (with a space)
    associations = body["associations"]
    company = refs["companies"]["acme"]
    assert {(r["id"], r["type"]) for r in associations["companies"]["results"]} == {
        (company, "deal_to_company"), (company, "deal_to_company_unlabeled")}
    assert [r["id"] for r in associations["contacts"]["results"]] == [refs["contacts"]["jo"]]
    assert sorted(r["id"] for r in associations["line items"]["results"]) == sorted(refs["line_items"].values())
    assert "line_items" not in associations


def test_v4_association_created_through_the_api_is_seen_from_both_sides(api):
    # Given a deal and a contact
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "Assoc"}}).json()["id"]
    contact = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "a@b.test"}}).json()["id"]
    # When they are associated with the default type
    put = api.put(f"/crm/v4/objects/deals/{deal}/associations/default/contacts/{contact}")
    assert put.status_code == 200
    # Then the deal lists the contact and the contact lists the deal
    from_deal = api.get(f"/crm/v4/objects/deals/{deal}/associations/contacts").json()["results"]
    from_contact = api.get(f"/crm/v4/objects/contacts/{contact}/associations/deals").json()["results"]
    assert [r["toObjectId"] for r in from_deal] == [int(contact)]
    assert [t["typeId"] for t in from_deal[0]["associationTypes"]] == [3]
    assert [r["toObjectId"] for r in from_contact] == [int(deal)]


def test_primary_company_moves_when_another_company_is_made_primary(api, seed_deal):
    # Given a deal whose primary company is Acme
    refs = seed_deal()
    other = api.post("/crm/v3/objects/companies", json={"properties": {"name": "Other"}}).json()["id"]
    deal = refs["deals"]["deal"]
    # When another company is associated as primary (type 5)
    api.put(f"/crm/v4/objects/deals/{deal}/associations/companies/{other}",
            json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}])
    # Then the other company is the primary one and Acme stays, unlabeled
    results = {r["toObjectId"]: r for r in api.get(f"/crm/v4/objects/deals/{deal}/associations/companies").json()["results"]}
    assert sorted(t["typeId"] for t in results[int(other)]["associationTypes"]) == [5, 341]
    assert [t["typeId"] for t in results[int(refs["companies"]["acme"])]["associationTypes"]] == [341]


def test_line_item_belongs_to_one_deal_only(api, seed_deal):
    # Given a line item of a deal
    refs = seed_deal()
    other_deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "Other"}}).json()["id"]
    # When it is associated with a second deal
    response = api.put(f"/crm/v4/objects/line_items/{refs['line_items']['licence']}/associations/default/deals/{other_deal}")
    # Then HubSpot refuses: a line item has one parent
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_patch_with_unknown_property_is_refused_with_hubspots_error_shape(api, seed_deal):
    # Given a deal
    refs = seed_deal()
    # When the bridge writes a property that does not exist
    response = api.patch(f"/crm/v3/objects/deals/{refs['deals']['deal']}",
                         json={"properties": {"xero_invoice_number": "INV-1"}})
    # Then the 400 names the property in HubSpot's shape, and nothing was written
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    (detail,) = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert (detail["error"], detail["name"], detail["isValid"]) == ("PROPERTY_DOESNT_EXIST", "xero_invoice_number", False)


def test_patch_of_a_read_only_property_is_refused(api, seed_deal):
    # Given a deal
    refs = seed_deal()
    # When a calculated property is written
    response = api.patch(f"/crm/v3/objects/deals/{refs['deals']['deal']}", json={"properties": {"hs_is_closed_won": "true"}})
    # Then HubSpot says it is read-only
    assert response.status_code == 400
    assert "READ_ONLY_VALUE" in response.json()["message"]


def test_patch_with_an_invalid_value_writes_nothing(api, seed_deal):
    # Given a deal named "Acme renewal"
    refs = seed_deal()
    # When one valid and one invalid value are written together
    response = api.patch(f"/crm/v3/objects/deals/{refs['deals']['deal']}",
                         json={"properties": {"dealname": "Renamed", "amount": "12,50"}})
    # Then the write is refused as a whole
    assert response.status_code == 400 and "INVALID_FLOAT" in response.json()["message"]
    assert _deal(api, refs, properties="dealname").json()["properties"]["dealname"] == "Acme renewal"


def test_numbers_come_back_as_strings_without_trailing_zeros(api):
    # Given a deal without line items
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "Numbers"}}).json()["id"]
    # When its amount is written with trailing zeros
    api.patch(f"/crm/v3/objects/deals/{deal}", json={"properties": {"amount": "1200.50"}})
    # Then it reads back as a string, trailing zeros dropped
    props = api.get(f"/crm/v3/objects/deals/{deal}", params={"properties": "amount"}).json()["properties"]
    assert props["amount"] == "1200.5"


def test_empty_string_clears_a_property(api):
    # Given a company with a city
    company = api.post("/crm/v3/objects/companies", json={"properties": {"name": "C", "city": "York"}}).json()["id"]
    # When the city is set to ""
    api.patch(f"/crm/v3/objects/companies/{company}", json={"properties": {"city": ""}})
    # Then it reads back unset
    assert api.get(f"/crm/v3/objects/companies/{company}", params={"properties": "city"}).json()["properties"]["city"] is None


def test_line_item_amounts_are_calculated_like_hubspot(api, seed_deal):
    # Given line items: 2 x 100.50 less 10 %, and 1 x 250 less a 25 unit discount
    refs = seed_deal()
    ids = [refs["line_items"]["licence"], refs["line_items"]["training"]]
    # When they are read in one batch
    response = api.post("/crm/v3/objects/line_items/batch/read",
                        json={"inputs": [{"id": i} for i in ids],
                              "properties": ["amount", "hs_pre_discount_amount", "hs_total_discount"]})
    # Then amount is the net price after discount, as strings
    assert response.status_code == 200
    amounts = {r["id"]: r["properties"] for r in response.json()["results"]}
    assert amounts[ids[0]]["amount"] == "180.9" and amounts[ids[0]]["hs_total_discount"] == "20.1"
    assert amounts[ids[1]]["amount"] == "225" and amounts[ids[1]]["hs_pre_discount_amount"] == "250"


def test_deal_amount_follows_its_line_items(api, seed_deal):
    # Given a deal whose line items total 405.90
    refs = seed_deal()
    assert _deal(api, refs, properties="amount").json()["properties"]["amount"] == "405.9"
    # When a line item's quantity changes
    api.patch(f"/crm/v3/objects/line_items/{refs['line_items']['training']}", json={"properties": {"quantity": "2"}})
    # Then the deal amount is recalculated
    assert _deal(api, refs, properties="amount").json()["properties"]["amount"] == "630.9"


def test_batch_read_with_a_missing_id_answers_207_with_the_found_ones(api, seed_deal):
    # Given one existing line item
    refs = seed_deal()
    # When it is read in a batch with an id that does not exist
    response = api.post("/crm/v3/objects/line_items/batch/read",
                        json={"inputs": [{"id": refs["line_items"]["licence"]}, {"id": "999"}], "properties": ["name"]})
    # Then HubSpot answers 207: the found record, and an error naming the missing id
    assert response.status_code == 207
    body = response.json()
    assert [r["properties"]["name"] for r in body["results"]] == ["Licence"]
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND" and body["errors"][0]["context"]["ids"] == ["999"]


def test_batch_of_more_than_100_is_refused(api):
    # Given 101 ids
    # When they are read in one batch
    response = api.post("/crm/v3/objects/line_items/batch/read", json={"inputs": [{"id": str(i)} for i in range(101)]})
    # Then the batch is refused
    assert response.status_code == 400


def test_batch_update_writes_every_input(api):
    # Given two companies
    ids = [api.post("/crm/v3/objects/companies", json={"properties": {"name": n}}).json()["id"] for n in ("A", "B")]
    # When both are updated in one batch
    response = api.post("/crm/v3/objects/companies/batch/update",
                        json={"inputs": [{"id": i, "properties": {"city": "Bath"}} for i in ids]})
    # Then both changed
    assert response.status_code == 200
    assert [api.get(f"/crm/v3/objects/companies/{i}", params={"properties": "city"}).json()["properties"]["city"]
            for i in ids] == ["Bath", "Bath"]


def test_missing_object_is_404(api):
    # Given no deal 123
    # When it is read
    response = api.get("/crm/v3/objects/deals/123")
    # Then 404 in HubSpot's shape
    assert response.status_code == 404
    assert response.json()["category"] == "OBJECT_NOT_FOUND"


def test_moving_a_deal_to_closedwon_stamps_closedate_and_closed_won(api, seed_deal):
    # Given an open deal without a close date
    refs = seed_deal()
    # When it is moved to closedwon
    api.patch(f"/crm/v3/objects/deals/{refs['deals']['deal']}", json={"properties": {"dealstage": "closedwon"}})
    # Then HubSpot's calculated properties say so
    props = _deal(api, refs, properties="closedate,hs_is_closed_won,hs_is_closed").json()["properties"]
    assert props["closedate"] is not None
    assert (props["hs_is_closed_won"], props["hs_is_closed"]) == ("true", "true")


def test_note_is_created_with_its_deal_association(api, seed_deal):
    # Given a deal
    refs = seed_deal()
    deal = refs["deals"]["deal"]
    # When a note is created with hs_note_body, hs_timestamp and an association to the deal (type 214)
    created = api.post("/crm/v3/objects/notes", json={
        "properties": {"hs_note_body": "<p>Invoice INV-1 paid</p>", "hs_timestamp": "2025-03-01T10:00:00Z"},
        "associations": [{"to": {"id": deal}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                          "associationTypeId": 214}]}],
    })
    # Then the note exists and the deal lists it
    assert created.status_code == 201
    assert created.json()["properties"]["hs_timestamp"] == "2025-03-01T10:00:00.000Z"
    notes = _deal(api, refs, associations="notes").json()["associations"]["notes"]["results"]
    assert [n["id"] for n in notes] == [created.json()["id"]]


def test_note_without_hs_timestamp_is_refused(api):
    # Given a note body only
    # When the note is created
    response = api.post("/crm/v3/objects/notes", json={"properties": {"hs_note_body": "hello"}})
    # Then HubSpot requires hs_timestamp
    assert response.status_code == 400
    assert "hs_timestamp" in response.json()["message"]


def test_association_to_a_missing_record_is_refused(api):
    # Given no deal 999
    # When a note is associated with it on creation
    response = api.post("/crm/v3/objects/notes", json={
        "properties": {"hs_note_body": "x", "hs_timestamp": "2025-01-01T00:00:00Z"},
        "associations": [{"to": {"id": "999"}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                           "associationTypeId": 214}]}],
    })
    # Then the note is not created
    assert response.status_code == 400
