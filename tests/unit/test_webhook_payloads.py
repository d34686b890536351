"""Which CRM and Xero events become commands, and what the commands say."""

import json

import pytest

from crmbridge.commands import DealWon, QueueMessage
from crmbridge.webhooks.hubspot import HUBSPOT_EVENTS, deal_won_candidates
from crmbridge.webhooks.pipedrive import PipedriveWebhook, deal_won_command
from crmbridge.webhooks.xero import XeroWebhook, resource_commands
from tests.conftest import load_event


def pipedrive_body(name: str) -> dict:
    return json.loads(load_event(name)["body"])


def test_deal_changed_to_won_becomes_a_deal_won_command():
    hook = PipedriveWebhook.model_validate(pipedrive_body("crm_webhook_pipedrive_deal_won"))
    command = deal_won_command(hook)
    assert command == DealWon(
        crm="pipedrive", deal_id="101", won_time="2026-11-24T10:00:00Z",
        source_event_id="8a1f3c52-0f8e-4c7a-9d55-5b1f0e2a7c11",
    )


def test_deal_created_already_won_is_invoiced_too():
    body = pipedrive_body("crm_webhook_pipedrive_deal_won")
    body["meta"]["action"] = "create"
    body["previous"] = None
    assert deal_won_command(PipedriveWebhook.model_validate(body)) is not None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["previous"].update(status="won"),  # already won before this change
        lambda b: b.update(previous={"title": "x"}),  # status did not change
        lambda b: b["data"].update(status="lost"),
        lambda b: b["meta"].update(entity="person"),
        lambda b: b["meta"].update(action="delete"),
    ],
)
def test_other_deal_events_are_dropped(mutate):
    body = pipedrive_body("crm_webhook_pipedrive_deal_won")
    mutate(body)
    assert deal_won_command(PipedriveWebhook.model_validate(body)) is None


def test_the_bridges_own_api_writes_do_not_trigger_a_sync():
    body = pipedrive_body("crm_webhook_pipedrive_deal_won")
    body["meta"].update(change_source="api", user_id="42")
    hook = PipedriveWebhook.model_validate(body)
    assert deal_won_command(hook, integration_user_id="42") is None
    assert deal_won_command(hook, integration_user_id="7") is not None


def test_v1_payload_with_current_and_previous_is_understood():
    body = {
        "meta": {"action": "updated", "object": "deal", "id": 101, "v": 1},
        "current": {"id": 101, "status": "won", "won_time": "2026-11-24 10:00:00"},
        "previous": {"id": 101, "status": "open"},
    }
    command = deal_won_command(PipedriveWebhook.model_validate(body))
    assert command is not None and command.deal_id == "101"


def test_won_again_after_reopening_has_another_idempotency_key():
    first = DealWon(crm="pipedrive", deal_id="1", won_time="2026-01-01T00:00:00Z")
    again = DealWon(crm="pipedrive", deal_id="1", won_time="2026-02-01T00:00:00Z")
    assert first.idempotency_key != again.idempotency_key


def test_xero_events_become_one_command_per_resource_change():
    body = json.loads(load_event("xero_webhook_invoice_updated")["body"])
    body["events"].append(dict(body["events"][0]))  # the same event twice in one batch
    body["events"].append({**body["events"][0], "eventCategory": "SUBSCRIPTION"})
    commands = resource_commands(XeroWebhook.model_validate(body))
    assert len(commands) == 1
    assert commands[0].category == "INVOICE"
    assert commands[0].resource_id == "4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01"


def test_queue_message_round_trips_through_json():
    message = QueueMessage(command=DealWon(crm="pipedrive", deal_id="9"))
    assert QueueMessage.model_validate_json(message.model_dump_json()) == message


# HubSpot ---------------------------------------------------------------------------------------------

def hubspot_events(name: str = "hubspot_crm_webhook_deal_won") -> list[dict]:
    return json.loads(load_event(name)["body"])


def stage_event(deal_id: int, stage: str | None, at: int, **extra) -> dict:
    return {"eventId": 7, "subscriptionId": 2, "portalId": 46000123, "appId": 3100456, "occurredAt": at,
            "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": deal_id,
            "propertyName": "dealstage", "propertyValue": stage, "changeSource": "CRM_UI", **extra}


def candidates(events: list[dict]) -> list[DealWon]:
    return deal_won_candidates(HUBSPOT_EVENTS.validate_python(events))


def test_a_hubspot_stage_change_to_closedwon_becomes_a_candidate_deal_won():
    [command] = candidates([stage_event(21000000101, "closedwon", 1795514399000)])

    assert command == DealWon(crm="hubspot", deal_id="21000000101", won_time="2026-11-24T09:59:59.000Z",
                              source_event_id="7")


def test_a_change_to_any_other_stage_is_a_candidate_too_for_the_worker_to_confirm():
    # A custom pipeline's won stage has a numeric id and probability 1.0: only its pipeline says so.
    [command] = candidates([stage_event(21000000101, "1467818", 1795514399000)])

    assert command.deal_id == "21000000101"


def test_the_same_event_delivered_twice_in_one_request_is_one_command():
    assert len(candidates(hubspot_events())) == 1


def test_out_of_order_events_for_one_deal_collapse_to_the_latest_change():
    events = [stage_event(5, "closedwon", 2000), stage_event(5, "contractsent", 1000), stage_event(6, "closedwon", 1500)]

    commands = {c.deal_id: c.won_time for c in candidates(events)}

    assert commands == {"5": "1970-01-01T00:00:02.000Z", "6": "1970-01-01T00:00:01.500Z"}


def test_a_redelivery_has_the_idempotency_key_of_the_first_delivery():
    [first] = candidates([stage_event(5, "closedwon", 2000)])
    [retry] = candidates([stage_event(5, "closedwon", 2000, attemptNumber=3, eventId=99)])

    assert first.idempotency_key == retry.idempotency_key


@pytest.mark.parametrize("event", [
    {**stage_event(5, "closedwon", 1), "propertyName": "amount", "propertyValue": "100"},
    {**stage_event(5, "closedwon", 1), "subscriptionType": "company.propertyChange"},
    {k: v for k, v in stage_event(5, None, 1).items() if k not in ("propertyName", "propertyValue")}
    | {"subscriptionType": "deal.creation", "changeFlag": "CREATED"},
    stage_event(5, "", 1),  # the stage cleared
])
def test_events_that_are_not_a_stage_change_are_dropped(event):
    assert candidates([event]) == []


def test_older_payloads_naming_the_subscription_eventType_are_understood():
    event = stage_event(5, "closedwon", 1)
    event["eventType"] = event.pop("subscriptionType")

    assert [c.deal_id for c in candidates([event])] == ["5"]


def test_a_generic_object_property_change_on_a_deals_stage_is_a_candidate_too():
    generic = {**stage_event(5, "closedwon", 1), "subscriptionType": "object.propertyChange", "objectTypeId": "0-3"}
    company = {**generic, "objectTypeId": "0-2", "objectId": 6}

    assert [c.deal_id for c in candidates([generic, company])] == ["5"]


def test_a_hundred_events_in_one_request_give_one_command_per_deal():
    events = [stage_event(1000 + i % 40, "closedwon", 5000 + i) for i in range(100)]

    assert len(candidates(events)) == 40


def test_the_hubspot_worker_sample_carries_what_the_webhook_would_enqueue():
    [record] = load_event("hubspot_sync_worker_deal_won")["Records"]
    [from_webhook] = candidates(hubspot_events())

    assert QueueMessage.model_validate_json(record["body"]).command == from_webhook
