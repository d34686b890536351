"""The Pipedrive and HubSpot emulators in this process, once per test module, for the CRM clients' tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.emulators.hubspot import HubSpotConfig, start_hubspot_emulator
from local.emulators.pipedrive import PipedriveConfig, start_pipedrive_emulator


@pytest.fixture(scope="module")
def pipedrive_emulator() -> Iterator[Any]:
    with start_pipedrive_emulator(config=PipedriveConfig(), burst_limit=100000) as handle:
        yield handle


@pytest.fixture(scope="module")
def hubspot_emulator() -> Iterator[Any]:
    with start_hubspot_emulator(config=HubSpotConfig()) as handle:
        yield handle


def set_up_account(crm: Any) -> Any:
    """The CRM account as `bridgectl setup` leaves it: the bridge's fields exist (no codes stored)."""
    for entity in crm.field_entities:
        crm.create_fields(entity, crm.find_fields(entity)[1])
    return crm
