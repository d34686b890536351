"""v1 notes: created on a deal with HTML content, listed by deal."""

from __future__ import annotations


def test_note_is_created_and_listed_for_its_deal(api):
    # Given two deals
    deal_id = api.post("/api/v2/deals", json={"title": "Paid"}).json()["data"]["id"]
    other_id = api.post("/api/v2/deals", json={"title": "Other"}).json()["data"]["id"]
    api.post("/v1/notes", json={"content": "<p>Other</p>", "deal_id": other_id})
    # When the bridge adds a note to the first deal for its owner
    created = api.post("/v1/notes", json={"content": "<p>Invoice <b>INV-0001</b> paid</p>", "deal_id": deal_id,
                                          "user_id": 1})
    listed = api.get("/v1/notes", params={"deal_id": deal_id}).json()
    # Then the note has an id and is the only one listed for that deal
    note = created.json()["data"]
    assert created.status_code == 200
    assert isinstance(note["id"], int)
    assert (note["deal_id"], note["user_id"], note["content"]) == (deal_id, 1, "<p>Invoice <b>INV-0001</b> paid</p>")
    assert note["deal"] == {"title": "Paid"}
    assert [n["id"] for n in listed["data"]] == [note["id"]]
    assert listed["additional_data"]["pagination"]["more_items_in_collection"] is False


def test_note_without_a_deal_organization_or_person_is_refused(api):
    # Given note content only
    # When it is posted
    response = api.post("/v1/notes", json={"content": "<p>Orphan</p>"})
    # Then it is refused
    assert response.status_code == 400


def test_note_on_an_unknown_deal_is_refused(api):
    # Given no deal 77
    # When a note is attached to it
    response = api.post("/v1/notes", json={"content": "<p>?</p>", "deal_id": 77})
    # Then it is refused
    assert response.status_code == 400
