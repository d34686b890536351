from __future__ import annotations

from typing import Any

import pytest

from local.lambdas import invoke
from local.template import functions, load_template


@pytest.fixture
def invoke_function(aws_stack):
    specs = functions(load_template())

    def _invoke(logical_id: str, event: dict[str, Any]) -> Any:
        return invoke(specs[logical_id], event)

    return _invoke


@pytest.fixture
def queue_messages(aws_stack):
    import boto3

    sqs = boto3.client("sqs")

    def _messages(logical_id: str = "SyncQueue") -> list[dict[str, Any]]:
        url = aws_stack.queue_urls[logical_id]
        out: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in {o["MessageId"] for o in out}]
            if not fresh:
                return out
            out.extend(fresh)

    return _messages
