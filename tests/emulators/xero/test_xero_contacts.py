"""Contacts: create, read, filter, update, duplicate names, balances."""

from __future__ import annotations

from decimal import Decimal


def test_created_contact_can_be_read_by_id(api):
    # Given a contact created with PUT
    created = api.contact("Acme Ltd", EmailAddress="ap@acme.test")
    # When it is read by its ContactID
    response = api.get(f"/Contacts/{created['ContactID']}")
    # Then it comes back with Xero's fields
    assert response.status_code == 200
    [contact] = response.json()["Contacts"]
    assert contact["Name"] == "Acme Ltd"
    assert contact["EmailAddress"] == "ap@acme.test"
    assert contact["ContactStatus"] == "ACTIVE"
    assert contact["UpdatedDateUTC"].startswith("/Date(")


def test_duplicate_contact_name_is_refused(api):
    # Given a contact named Acme Ltd
    api.contact("Acme Ltd")
    # When another contact with the same name is created
    response = api.put("/Contacts", {"Contacts": [{"Name": "Acme Ltd"}]})
    # Then Xero's validation exception names the clash
    assert response.status_code == 400
    body = response.json()
    assert body["Type"] == "ValidationException"
    message = body["Elements"][0]["ValidationErrors"][0]["Message"]
    assert "is already assigned to another contact" in message


def test_where_finds_contacts_by_email_and_by_name(api):
    # Given two contacts
    api.contact("Acme Ltd", EmailAddress="ap@acme.test")
    api.contact("Globex", EmailAddress="billing@globex.test")
    # When filtered with where on EmailAddress, then on Name
    by_email = api.get("/Contacts", params={"where": 'EmailAddress=="billing@globex.test"'}).json()["Contacts"]
    by_name = api.get("/Contacts", params={"where": 'Name=="Acme Ltd"'}).json()["Contacts"]
    # Then each finds exactly its contact
    assert [c["Name"] for c in by_email] == ["Globex"]
    assert [c["Name"] for c in by_name] == ["Acme Ltd"]


def test_where_with_an_unknown_field_is_a_query_parse_error(api):
    # Given a where clause on a field contacts do not have
    # When listed
    response = api.get("/Contacts", params={"where": 'Colour=="red"'})
    # Then Xero answers 400 QueryParseException
    assert response.status_code == 400
    assert response.json()["Type"] == "QueryParseException"


def test_ids_parameter_filters_contacts(api):
    # Given three contacts
    ids = [api.contact(name)["ContactID"] for name in ("A", "B", "C")]
    # When listed with IDs of two
    response = api.get("/Contacts", params={"IDs": f"{ids[0]},{ids[2]}"})
    # Then only those two come back
    assert sorted(c["ContactID"] for c in response.json()["Contacts"]) == sorted([ids[0], ids[2]])


def test_post_updates_a_contact_and_bumps_updated_date(api, emulator_control):
    # Given a contact
    created = api.contact("Acme Ltd")
    emulator_control("clock", {"advance": 5})
    # When it is updated with POST and its ContactID
    response = api.post("/Contacts", {"Contacts": [{"ContactID": created["ContactID"], "EmailAddress": "new@acme.test"}]})
    # Then the field changes, and UpdatedDateUTC moves with the emulator clock
    assert response.status_code == 200
    updated = response.json()["Contacts"][0]
    assert updated["EmailAddress"] == "new@acme.test"
    assert updated["Name"] == "Acme Ltd"
    assert updated["UpdatedDateUTC"] > created["UpdatedDateUTC"]


def test_if_modified_since_lists_only_later_changes(api, emulator_control):
    # Given one contact, then a later one
    api.contact("Old Co")
    emulator_control("clock", {"advance": 600})
    now = emulator_control("clock", method="GET")["now"]
    emulator_control("clock", {"advance": 1})
    api.contact("New Co")
    # When listed with If-Modified-Since between the two
    response = api.get("/Contacts", headers={"If-Modified-Since": now})
    # Then only the later contact is returned
    assert [c["Name"] for c in response.json()["Contacts"]] == ["New Co"]


def test_balances_count_authorised_invoices_and_overdue_ones(api, emulator_control):
    # Given an AUTHORISED invoice due yesterday, one due in a week, and a DRAFT
    contact = api.contact("Acme Ltd")
    today = emulator_control("clock", method="GET")["now"][:10]
    api.invoice(contact["ContactID"], Status="AUTHORISED", DueDate="2000-01-01")  # 120.00, overdue
    api.invoice(contact["ContactID"], Status="AUTHORISED", DueDate="2999-01-01")  # 120.00, not yet due
    api.invoice(contact["ContactID"], Status="DRAFT", DueDate=today)
    # When the contact is read
    contact = api.get(f"/Contacts/{contact['ContactID']}").json()["Contacts"][0]
    # Then outstanding is both AUTHORISED invoices and overdue only the past-due one
    receivable = contact["Balances"]["AccountsReceivable"]
    assert Decimal(str(receivable["Outstanding"])) == Decimal("240.00")
    assert Decimal(str(receivable["Overdue"])) == Decimal("120.00")


def test_invoice_becomes_overdue_when_the_clock_passes_its_due_date(new_api, emulator_control):
    # Given an AUTHORISED invoice due on 11 January 2030, seen on its due day
    emulator_control("clock", {"set": "2030-01-11T12:00:00Z"})
    api = new_api()
    contact = api.contact("Acme Ltd")
    api.invoice(contact["ContactID"], Status="AUTHORISED", Date="2030-01-01", DueDate="2030-01-11")
    on_due_day = api.get(f"/Contacts/{contact['ContactID']}").json()["Contacts"][0]["Balances"]
    # When the emulator clock moves past the due date
    emulator_control("clock", {"advance": 24 * 3600})
    after = new_api().get(f"/Contacts/{contact['ContactID']}").json()["Contacts"][0]["Balances"]
    # Then it counts as overdue only from the next day
    assert on_due_day["AccountsReceivable"]["Overdue"] == 0
    assert Decimal(str(after["AccountsReceivable"]["Overdue"])) == Decimal("120.00")
