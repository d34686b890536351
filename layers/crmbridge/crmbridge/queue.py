"""The sync queue: the only way work reaches the worker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crmbridge.commands import Command, QueueMessage

SQS_MAX_DELAY_SECONDS = 900
_SQS_BATCH = 10


class SyncQueue:
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def send(self, commands: Sequence[Command]) -> int:
        """Enqueue commands durably; raises if any of them was not accepted."""
        messages = [QueueMessage(command=c) for c in commands]
        for start in range(0, len(messages), _SQS_BATCH):
            chunk = messages[start : start + _SQS_BATCH]
            response = self._sqs.send_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(i), "MessageBody": m.model_dump_json()} for i, m in enumerate(chunk)
                ],
            )
            if response.get("Failed"):
                codes = sorted({f.get("Code", "?") for f in response["Failed"]})
                raise RuntimeError(f"SQS refused {len(response['Failed'])} messages: {codes}")
        return len(messages)

    def park(self, message: QueueMessage, *, until: datetime, delay_seconds: int, attempt: int) -> None:
        """Re-enqueue a message to be worked on later (its receive count starts again at zero)."""
        parked = message.model_copy(update={"not_before": until, "attempt": attempt})
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=parked.model_dump_json(),
            DelaySeconds=max(0, min(SQS_MAX_DELAY_SECONDS, delay_seconds)),
        )

    def return_now(self, receipt_handles: Sequence[str]) -> None:
        """Make received messages visible again at once (work handed back unstarted); best effort: any
        the call misses come back when their visibility timeout ends."""
        for start in range(0, len(receipt_handles), _SQS_BATCH):
            chunk = receipt_handles[start : start + _SQS_BATCH]
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(chunk)],
            )
