"""One invocation's batch of SQS records, worked on only while the invocation has time for another.

Lambda stops a function at its Timeout and then counts the whole batch as failed: every message comes
back, the finished ones included, and repeated timeouts dead-letter them. So before each record the
worker asks the Lambda context how much time is left, and once that is less than a record may take
(the slowest record of this invocation so far, plus one HTTP call stuck until its timeout) it takes no
more: the records not started are handed back as batch item failures, made visible again at once, and
the finished ones are acknowledged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from crmbridge.queue import SyncQueue

logger = Logger()


class RemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class TimeBudget:
    """Whether there is time to start another record: the remaining time must cover the slowest record
    seen so far (a first record is assumed to take `reserve_ms`) plus `reserve_ms` (one call hanging
    until its HTTP timeout, then the answer to Lambda)."""

    def __init__(self, context: RemainingTime, *, reserve_ms: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._context = context
        self._reserve_ms = reserve_ms
        self._clock = clock
        self.slowest_ms = 0

    @property
    def needed_ms(self) -> int:
        return max(self.slowest_ms, self._reserve_ms) + self._reserve_ms

    def has_time_for_another(self) -> bool:
        return self._context.get_remaining_time_in_millis() >= self.needed_ms

    def timed(self, work: Callable[[], Any]) -> Any:
        started = self._clock()
        try:
            return work()
        finally:
            self.slowest_ms = max(self.slowest_ms, int((self._clock() - started) * 1000))


def process_batch(event: dict[str, Any], handle: Callable[[dict[str, Any]], Any], budget: TimeBudget, *,
                  queue: SyncQueue | None = None, on_metric: Callable[[str, float], None] = lambda n, v: None,
                  ) -> dict[str, list[dict[str, str]]]:
    """Run `handle` on each record while the budget allows; the partial batch response Lambda expects
    (ReportBatchItemFailures). A record whose handler raises is a failure (SQS retries it)."""
    records = event.get("Records") or []
    failed: list[str] = []
    for index, record in enumerate(records):
        if not budget.has_time_for_another():
            left = records[index:]
            failed.extend(r["messageId"] for r in left)
            on_metric("RecordsHandedBack", len(left))
            logger.warning("time running short: handing the rest of the batch back",
                           extra={"handed_back": len(left), "done": index, "needed_ms": budget.needed_ms})
            if queue is not None:
                queue.return_now([r["receiptHandle"] for r in left if r.get("receiptHandle")])
            break
        try:
            budget.timed(lambda record=record: handle(record))
        except Exception:  # the worker has classified it (a bug, or an unreadable body): SQS retries the record
            logger.exception("record failed", extra={"message_id": record.get("messageId")})
            failed.append(record["messageId"])
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
