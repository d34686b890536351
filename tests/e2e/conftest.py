"""The embedded local stack, once per module, on free ports (so it runs next to a `make local`)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.stack import EXTERNAL_URLS, LocalStack

PROXIED = "HUBSPOT_API_URL"
PROXY_URL = "http://127.0.0.1:9/a-recording-proxy"


@pytest.fixture(scope="module")
def stack_env_before() -> Iterator[dict[str, str | None]]:
    """The external base URLs as they were before the stack started, one of them set as if a proxy sat
    in front of the service (the stack must leave it alone)."""
    previous = os.environ.get(PROXIED)
    os.environ.setdefault(PROXIED, PROXY_URL)
    yield {name: os.environ.get(name) for name in EXTERNAL_URLS}
    if previous is None:
        os.environ.pop(PROXIED, None)


@pytest.fixture(scope="module")
def local_stack(stack_env_before) -> Iterator[LocalStack]:
    # Failed messages come back after 2 s instead of the template's 180 s; schedules only on demand.
    with LocalStack.ephemeral(visibility_timeout=2, schedule_speedup=0) as stack:
        yield stack


@pytest.fixture(scope="module", params=["pipedrive", "hubspot"])
def flow(request) -> Iterator[dict]:
    """A connected local stack per module and CRM, with drivers for the CRM and Xero (tests/e2e/flow.py):
    every test that takes `flow` runs once with each CRM."""
    from tests.e2e.flow import running_flow

    with running_flow(request.param) as running:
        yield running
