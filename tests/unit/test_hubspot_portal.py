"""HubSpot webhook events are checked against the stack's account (HUBSPOT_PORTAL_ID): an event of
another portal names another company's deal and is never enqueued."""

from __future__ import annotations

import json
import time

import pytest

from crmbridge.config import Settings
from crmbridge.errors import ConfigError
from crmbridge.secrets import HubSpotSecret
from crmbridge.webhooks.http import WebhookRequest
from crmbridge.webhooks.service import receive_hubspot
from crmbridge.webhooks.signatures import hubspot_v3_signature
from tests.unit.test_ids_and_wire import FakeQueue

OUR_PORTAL = 46_000_123
OTHER_PORTAL = 99_000_777
SECRET = "client-secret"
URL = "https://bridge.test/webhooks/hubspot"


def stage_change(deal_id: int, portal_id: int) -> dict:
    return {"eventId": deal_id, "portalId": portal_id, "occurredAt": 1_795_514_400_000,
            "subscriptionType": "deal.propertyChange", "objectId": deal_id, "propertyName": "dealstage",
            "propertyValue": "closedwon"}


def signed(events: list[dict]) -> WebhookRequest:
    body = json.dumps(events).encode()
    now = str(time.time_ns() // 1_000_000)
    return WebhookRequest(method="POST", url=URL, path="/webhooks/hubspot", body=body, headers={
        "x-hubspot-request-timestamp": now,
        "x-hubspot-signature-v3": hubspot_v3_signature("POST", URL, body, now, SECRET)})


def receive(events: list[dict], portal_id: int | None) -> tuple[object, FakeQueue]:
    queue = FakeQueue()
    secret = HubSpotSecret(client_secret=SECRET, app_token="token")
    return receive_hubspot(signed(events), secret, queue, portal_id=portal_id), queue  # type: ignore[arg-type]


def test_an_event_of_another_portal_is_not_enqueued_and_is_counted_as_dropped():
    # Given a stack for portal 46000123, and a signed payload with one event of another portal
    # When it is received
    response, queue = receive([stage_change(21, OTHER_PORTAL)], OUR_PORTAL)
    # Then it is acknowledged (HubSpot would retry otherwise) but nothing is enqueued; the drop is counted
    assert (response.status, response.outcome, response.enqueued, response.dropped) == (200, "ignored", 0, 1)
    assert queue.sent == []


def test_the_same_portals_event_is_enqueued_beside_another_portals_dropped_one():
    # Given a payload mixing an event of our portal and one of another portal
    # When it is received
    response, queue = receive([stage_change(21, OUR_PORTAL), stage_change(22, OTHER_PORTAL)], OUR_PORTAL)
    # Then only our portal's deal becomes a candidate DealWon
    assert [command.deal_id for command in queue.sent] == ["21"]
    assert (response.outcome, response.enqueued, response.dropped) == ("accepted", 1, 1)


def test_without_a_portal_setting_every_portals_events_are_enqueued():
    # Given no HUBSPOT_PORTAL_ID (the template's default, empty)
    # When events of two portals arrive
    response, queue = receive([stage_change(21, OUR_PORTAL), stage_change(22, OTHER_PORTAL)], None)
    # Then both are candidates, as before the setting existed
    assert sorted(command.deal_id for command in queue.sent) == ["21", "22"]
    assert response.dropped == 0


@pytest.mark.parametrize(("value", "expected"), [("", None), ("46000123", OUR_PORTAL)])
def test_the_portal_setting_is_read_from_the_environment_empty_meaning_not_checked(value, expected):
    # Given HUBSPOT_PORTAL_ID as the template passes it / When settings are read / Then
    assert Settings.from_environ({"HUBSPOT_PORTAL_ID": value}).hubspot_portal_id == expected


def test_a_portal_setting_that_is_not_a_number_is_a_configuration_error():
    with pytest.raises(ConfigError, match="HUBSPOT_PORTAL_ID"):
        Settings.from_environ({"HUBSPOT_PORTAL_ID": "acme"})
