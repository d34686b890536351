"""Which CRM and Xero events become commands, and what the commands say."""

import json

import pytest

from crmbridge.commands import DealWon, QueueMessage
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
