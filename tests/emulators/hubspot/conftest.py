"""Fixtures: a HubSpot emulator on an ephemeral port (one per session, reset per test), API clients,
and a webhook receiver that keeps the raw bytes and headers of every request (signatures need them).

No __init__.py in this folder on purpose: a package named `hubspot` here would shadow the official SDK
(`hubspot-api-client`), which these tests use as an independent oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from local.emulators.hubspot import HubSpotConfig, HubSpotEmulatorHandle, start_hubspot_emulator
from tests.webhook_receiver import Receiver, receiving

TOKEN = "local-hubspot-token"
SECRET = "local-hubspot-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving("/webhooks/hubspot") as state:
        yield state


@pytest.fixture(scope="session")
def _running() -> Iterator[HubSpotEmulatorHandle]:
    # Hermetic defaults: the suite must not depend on the developer's environment.
    with start_hubspot_emulator(config=HubSpotConfig()) as handle:
        yield handle


@pytest.fixture
def hs(_running: HubSpotEmulatorHandle) -> HubSpotEmulatorHandle:
    """A freshly reset emulator: no records, real time, default limits, no webhook target."""
    response = httpx.post(f"{_running.url}/_emulator/reset", json={})
    assert response.json() == {"reset": True}
    return _running


@pytest.fixture
def api(hs: HubSpotEmulatorHandle) -> Iterator[httpx.Client]:
    """The bridge's view: its private app token."""
    with httpx.Client(base_url=hs.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5) as client:
        yield client


@pytest.fixture
def control(hs: HubSpotEmulatorHandle) -> Iterator[httpx.Client]:
    """Control endpoints and the salesperson's actions in HubSpot (/_emulator/app/...)."""
    with httpx.Client(base_url=f"{hs.url}/_emulator", timeout=5) as client:
        yield client


@pytest.fixture
def hooked(control: httpx.Client, receiver: Receiver) -> Receiver:
    """Webhooks go to the receiver."""
    assert control.post("/webhooks", json={"url": receiver.url}).status_code == 200
    return receiver


@pytest.fixture
def settle(control: httpx.Client) -> Callable[[], None]:
    """Wait until no webhook is batching, in flight or due now."""

    def wait() -> None:
        assert control.post("/webhooks/wait", json={"timeout": 5}).json() == {"idle": True}

    return wait


@pytest.fixture
def seed_deal(hs: HubSpotEmulatorHandle) -> Callable[..., dict[str, dict[str, str]]]:
    """A company, a contact and a deal with two line items (deal properties overridable); returns the refs."""
    return lambda **deal: _seed_deal(hs, **deal)


def _seed_deal(hs: HubSpotEmulatorHandle, **deal: Any) -> dict[str, dict[str, str]]:
    body = {
        "companies": [{"ref": "acme", "properties": {"name": "Acme Ltd", "city": "London", "zip": "EC1A 1BB",
                                                    "country": "United Kingdom"}}],
        "contacts": [{"ref": "jo", "properties": {"firstname": "Jo", "lastname": "Bloggs", "email": "jo@acme.test"},
                      "companies": ["acme"]}],
        "deals": [{
            "ref": "deal", "company": "acme", "contacts": ["jo"],
            "properties": {"dealname": "Acme renewal", "dealstage": "contractsent", **deal},
            "line_items": [
                {"ref": "licence", "properties": {"name": "Licence", "quantity": "2", "price": "100.50",
                                                  "hs_sku": "LIC-STD", "hs_discount_percentage": "10"}},
                {"ref": "training", "properties": {"name": "Training", "quantity": "1", "price": "250",
                                                   "discount": "25", "hs_sku": "TRAIN"}},
            ],
        }],
    }
    return hs.seed(body)["refs"]
