"""Control: state, reset, the salesperson's app actions, and starting the emulator the ways the local
stack and a developer do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from local.emulators.hubspot import HubSpotConfig, start_hubspot_emulator

ROOT = Path(__file__).resolve().parents[3]


def test_state_holds_records_pipelines_and_webhook_settings(api, control, seed_deal):
    # Given a seeded deal
    refs = seed_deal()
    # When the state is dumped
    state = control.get("/state").json()
    # Then it has the deal with its associations, the pipelines and the default subscriptions
    (deal,) = state["objects"]["deals"]
    assert deal["id"] == refs["deals"]["deal"]
    assert "line items" in deal["associations"]
    assert [p["id"] for p in state["pipelines"]] == ["default", "1467816"]
    assert [s["subscriptionType"] for s in state["webhooks"]["subscriptions"]] == ["deal.creation",
                                                                                   "deal.propertyChange"]
    assert state["emulator"] == "hubspot"


def test_reset_forgets_records_and_custom_properties(api, control, seed_deal):
    # Given a deal and a custom property group
    seed_deal()
    api.post("/crm/v3/properties/deals/groups", json={"name": "xero_bridge", "label": "Xero Bridge"})
    # When the emulator is reset
    control.post("/reset", json={})
    # Then both are gone
    state = control.get("/state").json()
    assert state["objects"]["deals"] == []
    assert api.get("/crm/v3/properties/deals/groups/xero_bridge").status_code == 404


def test_app_actions_act_as_a_person_and_do_not_count_against_limits(api, control):
    # Given a limit of one request per window, used up by the bridge (frozen clock)
    control.post("/clock", json={"freeze": True})
    control.post("/ratelimit", json={"max_per_interval": 1})
    api.get("/crm/v3/owners")
    # When the salesperson creates a deal in HubSpot
    created = control.post("/app/deals", json={"properties": {"dealname": "From the app"}})
    # Then it goes through: app actions are not API calls
    assert created.status_code == 201
    assert created.json()["properties"]["dealname"] == "From the app"


def test_app_action_with_an_unknown_user_is_refused(control):
    # Given no user 42
    # When an app action names it
    response = control.post("/app/deals", params={"user_id": "42"}, json={"properties": {"dealname": "x"}})
    # Then it is refused
    assert response.status_code == 400


def test_started_like_the_local_stack_it_sends_webhooks_to_the_gateway_url(receiver):
    # Given the emulator started as the local stack starts it, with the gateway's webhook URL
    with start_hubspot_emulator(port=0, host="127.0.0.1", webhook_url=receiver.url) as hs:
        # When the salesperson wins a deal in HubSpot
        hs.seed({"deals": [{"ref": "d", "properties": {"dealname": "Stack"}}]})
        deal = hs.state()["objects"]["deals"][0]["id"]
        httpx.patch(f"{hs.url}/_emulator/app/deals/{deal}", json={"properties": {"dealstage": "closedwon"}})
        # Then the webhook reaches that URL
        (request,) = receiver.wait_for(1)
    assert request.path == "/webhooks/hubspot"
    assert request.events[0]["propertyValue"] == "closedwon"


def test_credentials_come_from_the_environment_by_default(monkeypatch):
    # Given other local credentials in the environment
    monkeypatch.setenv("HUBSPOT_APP_TOKEN", "env-token")
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", "env-secret")
    # When the emulator is started without a config
    with start_hubspot_emulator() as hs:
        ok = httpx.get(f"{hs.url}/crm/v3/owners", headers={"Authorization": "Bearer env-token"})
        refused = httpx.get(f"{hs.url}/crm/v3/owners", headers={"Authorization": "Bearer local-hubspot-token"})
    # Then it uses them
    assert (ok.status_code, refused.status_code) == (200, 401)
    assert hs.client_secret == "env-secret"


def test_hermetic_config_ignores_the_environment(monkeypatch):
    # Given a token in the environment
    monkeypatch.setenv("HUBSPOT_APP_TOKEN", "env-token")
    # When the emulator is started with HubSpotConfig()
    with start_hubspot_emulator(config=HubSpotConfig()) as hs:
        # Then the design's local token works
        assert httpx.get(f"{hs.url}/crm/v3/owners", headers={"Authorization": "Bearer local-hubspot-token"}).status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_standalone_module_listens_on_hubspot_emulator_port():
    # Given a free port in HUBSPOT_EMULATOR_PORT
    port = _free_port()
    env = {**os.environ, "HUBSPOT_EMULATOR_PORT": str(port), "PYTHONPATH": str(ROOT)}
    # When `python -m local.emulators.hubspot` runs
    process = subprocess.Popen([sys.executable, "-m", "local.emulators.hubspot"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        state = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and state is None:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/_emulator/state", timeout=1).json()
            except httpx.TransportError:
                time.sleep(0.1)
        # Then it serves the emulator there
        assert state is not None and state["emulator"] == "hubspot"
    finally:
        process.terminate()
        process.wait(timeout=10)
