"""Invoices: creation, numbering, reads and filters, batches, status transitions."""

from __future__ import annotations


def _line(amount: int = 100, **extra):
    return {"Description": "Consulting", "Quantity": 1, "UnitAmount": amount, "AccountCode": "200",
            "TaxType": "OUTPUT2", **extra}


def test_invoice_numbers_are_assigned_in_sequence(api):
    # Given a contact
    contact = api.contact()
    # When two invoices are created without numbers
    first = api.invoice(contact["ContactID"])
    second = api.invoice(contact["ContactID"])
    # Then Xero numbers them INV-0001, INV-0002
    assert (first["InvoiceNumber"], second["InvoiceNumber"]) == ("INV-0001", "INV-0002")


def test_duplicate_invoice_number_is_refused(api):
    # Given an invoice INV-0100
    contact = api.contact()
    api.invoice(contact["ContactID"], InvoiceNumber="INV-0100")
    # When another invoice reuses the number
    response = api.put("/Invoices", {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]},
                                                   "InvoiceNumber": "INV-0100", "LineItems": [_line()]}]})
    # Then it is refused
    assert response.status_code == 400
    assert response.json()["Elements"][0]["ValidationErrors"][0]["Message"] == "Invoice # must be unique."


def test_new_invoice_defaults_to_draft_with_xero_dates(api):
    # Given a contact
    contact = api.contact()
    # When an invoice is created with a Date and no Status
    invoice = api.invoice(contact["ContactID"], Date="2026-03-01", DueDate="2026-03-31")
    # Then it is a DRAFT, and dates come in Xero's /Date()/ form with DateString companions
    assert invoice["Status"] == "DRAFT"
    assert invoice["Date"] == "/Date(1772323200000+0000)/"
    assert invoice["DateString"] == "2026-03-01T00:00:00"
    assert invoice["DueDateString"] == "2026-03-31T00:00:00"


def test_contact_by_name_is_created_with_the_invoice(api):
    # Given no contact called New Customer
    # When an invoice names its contact by Name only
    response = api.put("/Invoices", {"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "New Customer"},
                                                   "LineItems": [_line()]}]})
    # Then the contact exists afterwards
    assert response.status_code == 200
    contacts = api.get("/Contacts", params={"where": 'Name=="New Customer"'}).json()["Contacts"]
    assert len(contacts) == 1
    assert response.json()["Invoices"][0]["Contact"]["ContactID"] == contacts[0]["ContactID"]


def test_get_by_reference_finds_the_invoice(api):
    # Given invoices with different references
    contact = api.contact()
    api.invoice(contact["ContactID"], Reference="deal-1")
    wanted = api.invoice(contact["ContactID"], Reference="deal-2")
    # When filtered by Reference
    response = api.get("/Invoices", params={"where": 'Reference=="deal-2"'})
    # Then exactly that invoice comes back
    assert [i["InvoiceID"] for i in response.json()["Invoices"]] == [wanted["InvoiceID"]]


def test_where_combines_conditions_with_and_and_guid(api):
    # Given two contacts with DRAFT and AUTHORISED invoices
    acme, globex = api.contact("Acme"), api.contact("Globex")
    target = api.invoice(acme["ContactID"], Status="AUTHORISED")
    api.invoice(acme["ContactID"], Status="DRAFT")
    api.invoice(globex["ContactID"], Status="AUTHORISED")
    # When filtered by status AND the contact's guid
    clause = f'Status=="AUTHORISED" AND Contact.ContactID==guid("{acme["ContactID"]}")'
    response = api.get("/Invoices", params={"where": clause})
    # Then only Acme's AUTHORISED invoice matches
    assert [i["InvoiceID"] for i in response.json()["Invoices"]] == [target["InvoiceID"]]


def test_statuses_contact_ids_ids_and_invoice_numbers_filter(api):
    # Given invoices for two contacts
    acme, globex = api.contact("Acme"), api.contact("Globex")
    a1 = api.invoice(acme["ContactID"], Status="AUTHORISED")
    a2 = api.invoice(acme["ContactID"])
    g1 = api.invoice(globex["ContactID"], Status="AUTHORISED")
    # When each list parameter is used
    by_status = api.get("/Invoices", params={"Statuses": "AUTHORISED"}).json()["Invoices"]
    by_contact = api.get("/Invoices", params={"ContactIDs": acme["ContactID"]}).json()["Invoices"]
    by_ids = api.get("/Invoices", params={"IDs": f"{a2['InvoiceID']},{g1['InvoiceID']}"}).json()["Invoices"]
    by_number = api.get("/Invoices", params={"InvoiceNumbers": a1["InvoiceNumber"]}).json()["Invoices"]
    # Then each selects what it names
    assert {i["InvoiceID"] for i in by_status} == {a1["InvoiceID"], g1["InvoiceID"]}
    assert {i["InvoiceID"] for i in by_contact} == {a1["InvoiceID"], a2["InvoiceID"]}
    assert {i["InvoiceID"] for i in by_ids} == {a2["InvoiceID"], g1["InvoiceID"]}
    assert [i["InvoiceID"] for i in by_number] == [a1["InvoiceID"]]


def test_pages_hold_100_invoices_with_their_lines(api):
    # Given 105 invoices created in two batches
    contact = api.contact()
    batch = [{"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]}, "LineItems": [_line()]}] * 55
    for _ in range(2):
        assert api.put("/Invoices", {"Invoices": batch}).status_code == 200
    # When pages 1 and 2 are read
    page1 = api.get("/Invoices", params={"page": 1}).json()
    page2 = api.get("/Invoices", params={"page": 2}).json()
    # Then 100 then 10 come back with the pagination block, and line items are included
    assert len(page1["Invoices"]) == 100 and len(page2["Invoices"]) == 10
    assert page1["pagination"] == {"page": 1, "pageSize": 100, "pageCount": 2, "itemCount": 110}
    assert page1["Invoices"][0]["LineItems"]


def test_page_size_changes_the_page_length(api):
    # Given 5 invoices
    contact = api.contact()
    for _ in range(5):
        api.invoice(contact["ContactID"])
    # When read 2 per page, ordered by number descending
    response = api.get("/Invoices", params={"page": 2, "pageSize": 2, "order": "InvoiceNumber DESC"}).json()
    # Then page 2 holds the 3rd and 4th highest numbers
    assert [i["InvoiceNumber"] for i in response["Invoices"]] == ["INV-0003", "INV-0002"]
    assert response["pagination"]["pageCount"] == 3


def test_if_modified_since_returns_only_invoices_changed_after(api, emulator_control):
    # Given an old invoice and one updated ten minutes later
    contact = api.contact()
    old = api.invoice(contact["ContactID"])
    changed = api.invoice(contact["ContactID"])
    emulator_control("clock", {"advance": 600})
    since = emulator_control("clock", method="GET")["now"]
    emulator_control("clock", {"advance": 1})
    api.post("/Invoices", {"Invoices": [{"InvoiceID": changed["InvoiceID"], "Reference": "edited"}]})
    # When listed with If-Modified-Since
    response = api.get("/Invoices", headers={"If-Modified-Since": since})
    # Then only the updated invoice comes back
    assert [i["InvoiceID"] for i in response.json()["Invoices"]] == [changed["InvoiceID"]]
    assert old["InvoiceID"] != changed["InvoiceID"]


def test_summarize_errors_false_answers_per_element_with_200(api):
    # Given a batch with one valid and one invalid invoice
    contact = api.contact()
    good = {"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]}, "Reference": "good", "LineItems": [_line()]}
    bad = {"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]}, "Reference": "bad",
           "LineItems": [_line(TaxType="NOPE")]}
    # When sent with summarizeErrors=false
    response = api.put("/Invoices", {"Invoices": [good, bad]}, params={"summarizeErrors": "false"})
    # Then HTTP 200 with each element's outcome in order
    assert response.status_code == 200
    first, second = response.json()["Invoices"]
    assert first["HasErrors"] is False and first["InvoiceID"]
    assert second["HasErrors"] is True
    assert second["ValidationErrors"][0]["Message"].startswith("The TaxType code 'NOPE' does not exist")


def test_default_summarising_fails_whole_batch_but_creates_the_valid_elements(api):
    # Given the same mixed batch
    contact = api.contact()
    good = {"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]}, "Reference": "good", "LineItems": [_line()]}
    bad = {"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]}, "Reference": "bad",
           "LineItems": [_line(AccountCode="999")]}
    # When sent without summarizeErrors
    response = api.put("/Invoices", {"Invoices": [good, bad]})
    # Then the answer is a 400 ValidationException listing only the bad element...
    assert response.status_code == 400
    body = response.json()
    assert (body["ErrorNumber"], body["Type"], body["Message"]) == (10, "ValidationException",
                                                                    "A validation exception occurred")
    assert [e["Reference"] for e in body["Elements"]] == ["bad"]
    assert body["Elements"][0]["ValidationErrors"] == [
        {"Message": "Account code '999' is not a valid code for this document."}]
    # ...while the valid one was created all the same
    assert len(api.get("/Invoices", params={"where": 'Reference=="good"'}).json()["Invoices"]) == 1


def test_draft_can_be_authorised_then_voided(api):
    # Given a DRAFT invoice
    invoice = api.invoice(api.contact()["ContactID"])
    # When it is authorised, then voided
    authorised = api.post(f"/Invoices/{invoice['InvoiceID']}", {"Invoices": [{"Status": "AUTHORISED"}]})
    voided = api.post("/Invoices", {"Invoices": [{"InvoiceID": invoice["InvoiceID"], "Status": "VOIDED"}]})
    # Then both transitions are accepted, and VOIDED leaves nothing due
    assert authorised.json()["Invoices"][0]["Status"] == "AUTHORISED"
    assert voided.json()["Invoices"][0]["Status"] == "VOIDED"
    assert voided.json()["Invoices"][0]["AmountDue"] == 0


def test_draft_can_be_deleted_but_authorised_cannot(api):
    # Given a DRAFT and an AUTHORISED invoice
    contact = api.contact()
    draft = api.invoice(contact["ContactID"])
    authorised = api.invoice(contact["ContactID"], Status="AUTHORISED")
    # When each is set to DELETED
    deleted = api.post("/Invoices", {"Invoices": [{"InvoiceID": draft["InvoiceID"], "Status": "DELETED"}]})
    refused = api.post("/Invoices", {"Invoices": [{"InvoiceID": authorised["InvoiceID"], "Status": "DELETED"}]})
    # Then the DRAFT is deleted and the AUTHORISED one is refused
    assert deleted.json()["Invoices"][0]["Status"] == "DELETED"
    assert refused.status_code == 400


def test_invoice_cannot_be_created_paid_or_voided(api):
    # Given a contact
    contact = api.contact()
    # When an invoice is created directly as PAID
    response = api.put("/Invoices", {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]},
                                                   "Status": "PAID", "LineItems": [_line()]}]})
    # Then Xero refuses the status
    assert response.status_code == 400
    assert response.json()["Elements"][0]["ValidationErrors"][0]["Message"] == "Invoice not of valid status for creation"


def test_voided_invoice_cannot_be_modified(api):
    # Given a VOIDED invoice
    invoice = api.invoice(api.contact()["ContactID"], Status="AUTHORISED")
    api.post("/Invoices", {"Invoices": [{"InvoiceID": invoice["InvoiceID"], "Status": "VOIDED"}]})
    # When its reference is changed
    response = api.post("/Invoices", {"Invoices": [{"InvoiceID": invoice["InvoiceID"], "Reference": "x"}]})
    # Then it is refused
    assert response.status_code == 400


def test_unknown_invoice_id_is_404(api):
    # Given no such invoice
    # When read by id
    response = api.get("/Invoices/00000000-0000-0000-0000-000000000000")
    # Then 404 with Xero's text
    assert response.status_code == 404
    assert "cannot be found" in response.text


def test_invoice_can_be_read_by_number(api):
    # Given an invoice
    invoice = api.invoice(api.contact()["ContactID"])
    # When read with its InvoiceNumber in the path
    response = api.get(f"/Invoices/{invoice['InvoiceNumber']}")
    # Then it is found
    assert response.json()["Invoices"][0]["InvoiceID"] == invoice["InvoiceID"]


def test_paths_are_case_insensitive(api):
    # Given an invoice
    api.invoice(api.contact()["ContactID"])
    # When listed with a lower-case path
    response = api.get("/invoices")
    # Then it works as /Invoices does
    assert response.status_code == 200
    assert len(response.json()["Invoices"]) == 1


def test_malformed_json_is_refused(api):
    # Given a body that is not JSON
    # When sent
    response = api.request("PUT", "/Invoices", content=b"{not json", headers={"Content-Type": "application/json"})
    # Then a 400 comes back
    assert response.status_code == 400


def test_where_contact_id_guid_shorthand_and_summary_only(api):
    # Given invoices for two contacts
    acme, globex = api.contact("Acme"), api.contact("Globex")
    mine = api.invoice(acme["ContactID"])
    api.invoice(globex["ContactID"])
    # When filtered with the ContactID==guid("...") shorthand, summary only
    response = api.get("/Invoices", params={"where": f'ContactID==guid("{acme["ContactID"].upper()}")',
                                            "summaryOnly": "true", "page": 1})
    # Then Acme's invoice comes back, guids compared case-insensitively, without line items
    [invoice] = response.json()["Invoices"]
    assert invoice["InvoiceID"] == mine["InvoiceID"]
    assert invoice["LineItems"] == []


def test_list_without_page_omits_line_items(api):
    # Given an invoice with a line
    api.invoice(api.contact()["ContactID"])
    # When listed without `page` (Xero then returns every match, without lines)
    [invoice] = api.get("/Invoices").json()["Invoices"]
    # Then the lines are left out; GET by id has them
    assert invoice["LineItems"] == []
    assert api.get(f"/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]["LineItems"]
