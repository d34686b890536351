"""The webhook functions, invoked as Lambda does, against the template's resources in moto."""

import json

import pytest

from crmbridge.commands import QueueMessage


def test_signed_pipedrive_deal_won_is_acknowledged_and_enqueued(invoke_function, event, queue_messages):
    response = invoke_function("CrmWebhookFunction", event("crm_webhook_pipedrive_deal_won"))

    assert response["statusCode"] == 200
    assert response["body"] == ""
    [message] = queue_messages()
    command = QueueMessage.model_validate_json(message["Body"]).command
    assert (command.kind, command.deal_id) == ("deal_won", "101")


def test_wrong_pipedrive_password_is_401_and_enqueues_nothing(invoke_function, event, queue_messages):
    response = invoke_function("CrmWebhookFunction", event("crm_webhook_pipedrive_bad_auth"))

    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "rejected_signature"
    assert queue_messages() == []


def test_pipedrive_event_that_is_not_a_win_is_acknowledged_and_dropped(invoke_function, event, queue_messages):
    response = invoke_function("CrmWebhookFunction", event("crm_webhook_pipedrive_deal_updated"))

    assert response["statusCode"] == 200
    assert queue_messages() == []


def test_authenticated_but_malformed_pipedrive_body_is_400(invoke_function, event, queue_messages):
    bad = event("crm_webhook_pipedrive_deal_won") | {"body": '{"meta": "oops"}'}

    response = invoke_function("CrmWebhookFunction", bad)

    assert response["statusCode"] == 400
    assert "meta" in json.loads(response["body"])["message"]
    assert queue_messages() == []


def test_webhook_for_a_crm_this_stack_does_not_run_is_404(invoke_function, event, queue_messages):
    hubspot = event("crm_webhook_pipedrive_deal_won")
    hubspot["rawPath"] = "/webhooks/hubspot"

    assert invoke_function("CrmWebhookFunction", hubspot)["statusCode"] == 404
    assert queue_messages() == []


def test_xero_intent_to_receive_with_good_signature_is_200_with_empty_body(invoke_function, event, queue_messages):
    response = invoke_function("XeroWebhookFunction", event("xero_webhook_intent_to_receive"))

    assert (response["statusCode"], response["body"]) == (200, "")
    assert queue_messages() == []


def test_xero_intent_to_receive_with_bad_signature_is_401(invoke_function, event, queue_messages):
    response = invoke_function("XeroWebhookFunction", event("xero_webhook_bad_signature"))

    assert response["statusCode"] == 401
    assert queue_messages() == []


def test_signed_xero_invoice_event_is_enqueued(invoke_function, event, queue_messages):
    response = invoke_function("XeroWebhookFunction", event("xero_webhook_invoice_updated"))

    assert (response["statusCode"], response["body"]) == (200, "")
    [message] = queue_messages()
    command = QueueMessage.model_validate_json(message["Body"]).command
    assert (command.category, command.event_type) == ("INVOICE", "UPDATE")


def _last_received(aws_stack, source):
    import boto3

    table = boto3.resource("dynamodb").Table(aws_stack.table_names["LinksTable"])
    return table.get_item(Key={"pk": f"webhook#{source}", "sk": "last_received"}).get("Item")


def test_an_authentic_webhook_records_when_its_source_was_last_heard(invoke_function, event, aws_stack):
    from crmbridge.webhooks import wiring

    wiring._last_heartbeat.clear()
    invoke_function("XeroWebhookFunction", event("xero_webhook_intent_to_receive"))

    assert _last_received(aws_stack, "xero") is not None


def test_a_rejected_webhook_does_not_count_as_its_source_being_heard(invoke_function, event, aws_stack):
    from crmbridge.webhooks import wiring

    wiring._last_heartbeat.clear()
    invoke_function("CrmWebhookFunction", event("crm_webhook_pipedrive_bad_auth"))

    assert _last_received(aws_stack, "pipedrive") is None


# HubSpot (a stack whose CrmProvider is hubspot) ---------------------------------------------------------

def signed_now(hubspot_event: dict, *, secret: str = "local-hubspot-secret", skew_ms: int = 0) -> dict:
    """The sample event signed as HubSpot would sign it now (the v3 timestamp is only good for 5 minutes)."""
    import time

    from crmbridge.webhooks.http import request_from_event
    from crmbridge.webhooks.signatures import hubspot_v3_signature

    timestamp = str(time.time_ns() // 1_000_000 + skew_ms)
    url = request_from_event(hubspot_event).url
    headers = dict(hubspot_event["headers"], **{
        "x-hubspot-request-timestamp": timestamp,
        "x-hubspot-signature-v3": hubspot_v3_signature("POST", url, hubspot_event["body"].encode(), timestamp, secret),
    })
    return hubspot_event | {"headers": headers}


@pytest.fixture
def hubspot_stack(aws_stack, monkeypatch):
    from crmbridge.config import get_settings

    monkeypatch.setenv("CRM_PROVIDER", "hubspot")
    get_settings.cache_clear()
    yield aws_stack
    get_settings.cache_clear()


def test_signed_hubspot_stage_change_is_acknowledged_and_enqueued_once(invoke_function, event, queue_messages,
                                                                      hubspot_stack):
    response = invoke_function("CrmWebhookFunction", signed_now(event("hubspot_crm_webhook_deal_won")))

    assert (response["statusCode"], response["body"]) == (200, "")
    [message] = queue_messages()  # the batch holds the same event twice and a creation event
    command = QueueMessage.model_validate_json(message["Body"]).command
    assert (command.kind, command.crm, command.deal_id) == ("deal_won", "hubspot", "21000000101")


def test_hubspot_sample_signed_with_another_secret_is_401_and_enqueues_nothing(invoke_function, event, queue_messages,
                                                                                hubspot_stack):
    response = invoke_function("CrmWebhookFunction",
                               signed_now(event("hubspot_crm_webhook_bad_signature"), secret="not-the-client-secret"))

    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "rejected_signature"
    assert queue_messages() == []


@pytest.mark.parametrize("skew_ms", [-301_000, 301_000])
def test_hubspot_timestamp_outside_five_minutes_either_way_is_401(invoke_function, event, queue_messages,
                                                                  hubspot_stack, skew_ms):
    response = invoke_function("CrmWebhookFunction", signed_now(event("hubspot_crm_webhook_deal_won"), skew_ms=skew_ms))

    assert response["statusCode"] == 401
    assert queue_messages() == []


def test_hubspot_signature_covers_the_raw_body(invoke_function, event, queue_messages, hubspot_stack):
    signed = signed_now(event("hubspot_crm_webhook_deal_won"))
    tampered = signed | {"body": signed["body"].replace("21000000101", "21000000999")}

    assert invoke_function("CrmWebhookFunction", tampered)["statusCode"] == 401
    assert queue_messages() == []


def test_hubspot_events_without_a_stage_change_are_acknowledged_and_dropped(invoke_function, event, queue_messages,
                                                                           hubspot_stack):
    response = invoke_function("CrmWebhookFunction", signed_now(event("hubspot_crm_webhook_deal_created")))

    assert response["statusCode"] == 200
    assert queue_messages() == []


def test_authentic_hubspot_body_that_is_not_an_array_of_events_is_400(invoke_function, event, queue_messages,
                                                                     hubspot_stack):
    bad = event("hubspot_crm_webhook_deal_won") | {"body": '{"objectId": 1}'}

    response = invoke_function("CrmWebhookFunction", signed_now(bad))

    assert response["statusCode"] == 400
    assert queue_messages() == []


def test_a_pipedrive_webhook_to_a_hubspot_stack_is_404(invoke_function, event, queue_messages, hubspot_stack):
    assert invoke_function("CrmWebhookFunction", event("crm_webhook_pipedrive_deal_won"))["statusCode"] == 404
    assert queue_messages() == []
