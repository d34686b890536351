"""Fixtures: a Pipedrive emulator on an ephemeral port, an API client, and a tiny webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.emulators.pipedrive import PipedriveConfig, PipedriveEmulatorHandle, start_pipedrive_emulator
from tests.webhook_receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving("/webhooks/pipedrive") as state:
        yield state


@pytest.fixture(scope="session")
def _running() -> Iterator[PipedriveEmulatorHandle]:
    # One server for the suite (stopping one costs the 0.5 s poll of serve_forever); reset per test.
    with start_pipedrive_emulator(config=PipedriveConfig()) as handle:
        yield handle


@pytest.fixture
def pd(_running: PipedriveEmulatorHandle) -> PipedriveEmulatorHandle:
    """A freshly reset emulator: no data, real time, default limits, no webhooks."""
    response = httpx.post(f"{_running.url}/_emulator/reset", json={})
    assert response.json() == {"reset": True}
    return _running


@pytest.fixture
def api(pd: PipedriveEmulatorHandle) -> Iterator[httpx.Client]:
    """The bridge's view: the integration user's API token."""
    with httpx.Client(base_url=pd.url, headers={"x-api-token": pd.token}, timeout=5) as client:
        yield client


@pytest.fixture
def control(pd: PipedriveEmulatorHandle) -> Iterator[httpx.Client]:
    """Control endpoints and the salesperson's "app" actions."""
    with httpx.Client(base_url=f"{pd.url}/_emulator", timeout=5) as client:
        yield client


def register_webhook(api: httpx.Client, url: str, **extra: Any) -> dict:
    body = {"subscription_url": url, "event_action": "*", "event_object": "deal", "name": "bridge",
            "http_auth_user": "bridge", "http_auth_password": "s3cret-webhook", "version": "2.0", **extra}
    response = api.post("/v1/webhooks", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]
