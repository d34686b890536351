"""Fixtures shared by every suite: sample events from events/, and an AWS account in moto."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

# Lambda sets a function's environment before its first import; modules that the tests import while
# collecting must see the same service name, or their loggers start apart from the functions' loggers.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "xero-crm-bridge")


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach real AWS: fake credentials and one region everywhere."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "XeroCrmBridgeTest")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "xero-crm-bridge")


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.fixture
def event():
    return load_event


@pytest.fixture
def aws_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The template's resources in an in-process moto account, with the functions' environment set."""
    from moto import mock_aws

    from crmbridge import aws
    from crmbridge.config import get_settings
    from local.provision import provision
    from local.template import functions, load_template

    with mock_aws():
        aws.client.cache_clear()
        aws.resource.cache_clear()
        stack = provision(boto3.session.Session())
        for spec in functions(load_template()).values():
            for key, value in stack.function_environment(spec).items():
                monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        yield stack
        get_settings.cache_clear()
        aws.client.cache_clear()
        aws.resource.cache_clear()


class AtomicTable:
    """A boto3 Table whose calls are serialised. DynamoDB makes each single-item conditional write
    atomic; in-process moto does not under threads, so concurrency tests would fail on moto's race
    rather than on ours."""

    def __init__(self, table: Any) -> None:
        import threading

        self._table = table
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._table, name)
        if not callable(attribute):
            return attribute

        def serialised(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return serialised
