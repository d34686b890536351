"""Deal pipelines and stages: the default pipeline's closedwon and a custom pipeline's own won stage."""

from __future__ import annotations


def _stages(api) -> dict[str, dict]:
    return {s["id"]: {**s, "pipeline": p["id"]} for p in api.get("/crm/v3/pipelines/deals").json()["results"]
            for s in p["stages"]}


def test_default_pipeline_closedwon_has_probability_1_as_text(api):
    # Given the account's pipelines
    # When the bridge lists them
    stages = _stages(api)
    # Then closedwon is a closed stage of the default pipeline with probability "1.0" (a string, as HubSpot writes it)
    assert stages["closedwon"]["pipeline"] == "default"
    assert stages["closedwon"]["metadata"] == {"isClosed": "true", "probability": "1.0"}
    assert stages["closedlost"]["metadata"] == {"isClosed": "true", "probability": "0.0"}


def test_custom_pipeline_has_its_own_won_stage_id(api):
    # Given the account's pipelines
    # When the bridge lists them
    stages = _stages(api)
    # Then another pipeline has a won stage (probability 1.0) whose id is not closedwon
    won = [s for s in stages.values() if s["metadata"]["probability"] == "1.0"]
    assert {s["pipeline"] for s in won} == {"default", "1467816"}
    assert {s["id"] for s in won} == {"closedwon", "1467818"}


def test_created_pipeline_gets_numeric_ids(api):
    # Given a new pipeline with a won stage
    created = api.post("/crm/v3/pipelines/deals", json={"label": "Partners", "displayOrder": 3, "stages": [
        {"label": "Open", "displayOrder": 0, "metadata": {"probability": "0.3"}},
        {"label": "Signed", "displayOrder": 1, "metadata": {"probability": "1.0", "isClosed": "true"}},
    ]})
    # When it is read back
    assert created.status_code == 201
    pipeline = api.get(f"/crm/v3/pipelines/deals/{created.json()['id']}").json()
    # Then its stages have numeric ids and string metadata
    assert all(s["id"].isdigit() for s in pipeline["stages"])
    assert pipeline["stages"][1]["metadata"] == {"isClosed": "true", "probability": "1.0"}


def test_stage_of_another_pipeline_is_refused(api):
    # Given a deal in the default pipeline
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D"}}).json()["id"]
    # When it is moved to the Renewals pipeline's stage without changing pipeline
    response = api.patch(f"/crm/v3/objects/deals/{deal}", json={"properties": {"dealstage": "1467818"}})
    # Then HubSpot refuses the stage
    assert response.status_code == 400
    assert "INVALID_OPTION" in response.json()["message"]


def test_deal_moves_to_a_custom_pipelines_won_stage_with_its_pipeline(api):
    # Given a deal in the default pipeline
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D"}}).json()["id"]
    # When pipeline and stage change together
    response = api.patch(f"/crm/v3/objects/deals/{deal}",
                         json={"properties": {"pipeline": "1467816", "dealstage": "1467818"}})
    # Then the deal is closed won in that pipeline
    assert response.status_code == 200
    props = api.get(f"/crm/v3/objects/deals/{deal}", params={"properties": "hs_is_closed_won,pipeline"}).json()
    assert props["properties"]["hs_is_closed_won"] == "true"
