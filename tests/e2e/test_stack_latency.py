"""Latency asked of the local stack (EMULATOR_LATENCY_MS / EMULATOR_JITTER_MS, as `make demo` takes them)
reaches every emulator. A module of its own: it starts its own stack, and only one runs per process."""

from __future__ import annotations

import httpx
import pytest

from local.stack import LocalStack

pytestmark = pytest.mark.e2e


def test_latency_asked_of_the_stack_is_added_by_every_emulator(monkeypatch):
    # Given EMULATOR_LATENCY_MS / EMULATOR_JITTER_MS set, as `make demo` takes them
    monkeypatch.setenv("EMULATOR_LATENCY_MS", "15")
    monkeypatch.setenv("EMULATOR_JITTER_MS", "5")

    # When the stack starts
    with LocalStack.ephemeral(parameters={"CrmProvider": "hubspot"}) as stack:
        latencies = {name: httpx.get(f"{stack.urls[name]}/_emulator/latency", timeout=5).json()
                     for name in ("xero", "pipedrive", "hubspot")}

    # Then each emulator adds it in front of its API
    assert latencies == {name: {"latency_ms": 15, "jitter_ms": 5} for name in ("xero", "pipedrive", "hubspot")}
