"""boto3 clients, created once per process and reused across warm invocations.

They honour AWS_ENDPOINT_URL by themselves, which is how the local stack points them at moto.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]


@cache
def resource(service: str) -> Any:
    return boto3.session.Session().resource(service, config=_CONFIG)  # type: ignore[call-overload]


def table(settings: Any, field: str) -> Any:
    """The DynamoDB table named by one of the Settings' table fields."""
    return resource("dynamodb").Table(settings.require(field))
