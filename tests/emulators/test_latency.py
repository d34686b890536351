"""Latency on demand, in every emulator: POST /_emulator/latency (or EMULATOR_LATENCY_MS /
EMULATOR_JITTER_MS through the local stack) makes each API request wait at least that long; a reset
switches it off. Timings are only ever checked as lower bounds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from local.emulators.common.config import latency_from_env
from local.emulators.hubspot import HubSpotConfig, start_hubspot_emulator
from local.emulators.pipedrive import PipedriveConfig, start_pipedrive_emulator
from local.emulators.xero import XeroConfig, start_xero_emulator

# Each emulator, and an API path on it (answered 401 without credentials: the wait comes first).
EMULATORS: dict[str, tuple[Callable[[], Any], str]] = {
    "xero": (lambda: start_xero_emulator(config=XeroConfig()), "/api.xro/2.0/Invoices"),
    "pipedrive": (lambda: start_pipedrive_emulator(config=PipedriveConfig()), "/api/v2/deals"),
    "hubspot": (lambda: start_hubspot_emulator(config=HubSpotConfig()), "/crm/v3/objects/deals"),
}
LATENCY_MS = 150


@pytest.fixture(params=sorted(EMULATORS))
def emulator(request) -> Iterator[tuple[Any, str]]:
    start, path = EMULATORS[request.param]
    with start() as handle:
        yield handle, path


def elapsed(url: str) -> float:
    started = time.monotonic()
    httpx.get(url, timeout=10)
    return time.monotonic() - started


def test_an_api_request_takes_at_least_the_configured_latency(emulator):
    # Given an emulator asked for 150 ms of latency with 50 ms of jitter
    handle, path = emulator
    answer = httpx.post(f"{handle.url}/_emulator/latency", json={"latency_ms": LATENCY_MS, "jitter_ms": 50}, timeout=5)
    assert answer.json() == {"latency_ms": LATENCY_MS, "jitter_ms": 50}
    # When an API request is made
    took = elapsed(f"{handle.url}{path}")
    # Then it took at least the latency
    assert took >= LATENCY_MS / 1000


def test_a_reset_switches_latency_off(emulator):
    # Given an emulator with latency configured
    handle, _ = emulator
    httpx.post(f"{handle.url}/_emulator/latency", json={"latency_ms": LATENCY_MS}, timeout=5)
    # When it is reset
    httpx.post(f"{handle.url}/_emulator/reset", json={}, timeout=5)
    # Then no latency is configured any more, as its state says
    assert httpx.get(f"{handle.url}/_emulator/latency", timeout=5).json() == {"latency_ms": 0, "jitter_ms": 0}
    assert httpx.get(f"{handle.url}/_emulator/state", timeout=5).json()["latency"] == {"latency_ms": 0, "jitter_ms": 0}


def test_a_negative_latency_is_refused(emulator):
    # Given an emulator; When asked for a negative latency; Then it answers 400 and keeps none
    handle, _ = emulator
    assert httpx.post(f"{handle.url}/_emulator/latency", json={"latency_ms": -1}, timeout=5).status_code == 400
    assert httpx.get(f"{handle.url}/_emulator/latency", timeout=5).json()["latency_ms"] == 0


@pytest.mark.parametrize(("env", "expected"), [
    ({}, None),
    ({"EMULATOR_LATENCY_MS": "0"}, None),
    ({"EMULATOR_LATENCY_MS": "20", "EMULATOR_JITTER_MS": "10"}, {"latency_ms": 20.0, "jitter_ms": 10.0}),
    ({"EMULATOR_JITTER_MS": "5"}, {"latency_ms": 0.0, "jitter_ms": 5.0}),
])
def test_the_local_stack_reads_latency_from_the_environment(env, expected):
    # Given the environment variables the local stack reads; When parsed; Then the latency they ask for
    assert latency_from_env(env) == expected
