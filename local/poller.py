"""SQS event source mappings, run locally: long-poll each queue and invoke its function as Lambda does.

For every function event of `Type: SQS` in the template, a `QueuePoller` runs MaximumConcurrency
threads (ScalingConfig; 5 when unset). Each thread is one execution environment at a time: it receives
up to BatchSize messages (long polling, WaitTimeSeconds 1 so latency stays low), builds the SQS event
Lambda sends (Records with messageId, receiptHandle, body, attributes, messageAttributes, md5OfBody,
eventSource, eventSourceARN, awsRegion), invokes the handler and then, as Lambda does:

- the handler raised (or ran past its Timeout): the whole batch failed, nothing is deleted;
- FunctionResponseTypes has ReportBatchItemFailures: the messages named in `batchItemFailures` are
  left on the queue and every other one is deleted; an empty or null list (or no answer) is complete
  success; an answer that is not an object, or an itemIdentifier that is empty or not in the batch,
  fails the whole batch;
- otherwise the whole batch succeeded and is deleted.

A message left on the queue reappears after the queue's visibility timeout, and SQS (moto) moves it to
the dead-letter queue after the redrive policy's maxReceiveCount receives.

The template's VisibilityTimeout (360 s, 6 x the worker timeout) makes local retries slow: set
LOCAL_VISIBILITY_TIMEOUT_SECONDS and the local stack sets that on each polled queue when it starts.
MaximumBatchingWindowInSeconds is not emulated: a batch is what one ReceiveMessage returns.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from local.gateway import LambdaRuntime
from local.provision import Provisioned
from local.template import FunctionSpec, functions

logger = logging.getLogger(__name__)

VISIBILITY_ENV = "LOCAL_VISIBILITY_TIMEOUT_SECONDS"
DEFAULT_MAXIMUM_CONCURRENCY = 5
WAIT_TIME_SECONDS = 1

# The message system attributes Lambda puts in a record's `attributes`.
_LAMBDA_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "DeadLetterQueueSourceArn",
)


@dataclass(frozen=True)
class SqsEventSource:
    """One `Type: SQS` event of a function, resolved against the provisioned queues."""

    function: FunctionSpec
    event_name: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    maximum_concurrency: int = DEFAULT_MAXIMUM_CONCURRENCY
    enabled: bool = True

    @property
    def region(self) -> str:
        return self.queue_arn.split(":")[3]


def sqs_event_sources(provisioned: Provisioned, specs: dict[str, FunctionSpec] | None = None) -> list[SqsEventSource]:
    """Every SQS event source of the functions (the template's, by default)."""
    specs = specs if specs is not None else functions(provisioned.template)
    url_by_arn = {
        provisioned.attrs[(logical_id, "Arn")]: url for logical_id, url in provisioned.queue_urls.items()
    }
    sources = []
    for spec in specs.values():
        for name, event in spec.events.items():
            if event.get("Type") != "SQS":
                continue
            props = provisioned.resolve(event.get("Properties") or {})
            arn = str(props["Queue"])
            if arn not in url_by_arn:
                raise LookupError(f"{spec.logical_id}.{name}: queue {arn} was not provisioned")
            scaling = props.get("ScalingConfig") or {}
            sources.append(
                SqsEventSource(
                    function=spec,
                    event_name=name,
                    queue_url=url_by_arn[arn],
                    queue_arn=arn,
                    batch_size=int(props.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                    maximum_concurrency=int(scaling.get("MaximumConcurrency", DEFAULT_MAXIMUM_CONCURRENCY)),
                    enabled=str(props.get("Enabled", True)).lower() != "false",
                )
            )
    return sources


def visibility_timeout_override(environ: dict[str, str] | None = None) -> int | None:
    """LOCAL_VISIBILITY_TIMEOUT_SECONDS, when set: the visibility timeout the local queues get."""
    value = (os.environ if environ is None else environ).get(VISIBILITY_ENV, "").strip()
    if not value:
        return None
    seconds = int(value)
    if not 0 <= seconds <= 43200:
        raise ValueError(f"{VISIBILITY_ENV}={value}: SQS allows 0 to 43200 seconds")
    return seconds


def _message_attributes(message: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, attr in (message.get("MessageAttributes") or {}).items():
        value: dict[str, Any] = {}
        if "StringValue" in attr:
            value["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            value["binaryValue"] = base64.b64encode(attr["BinaryValue"]).decode("ascii")
        value["stringListValues"] = list(attr.get("StringListValues") or [])
        value["binaryListValues"] = [base64.b64encode(v).decode("ascii") for v in attr.get("BinaryListValues") or []]
        value["dataType"] = attr["DataType"]
        out[name] = value
    return out


def sqs_record(message: dict[str, Any], source: SqsEventSource) -> dict[str, Any]:
    """One message as a record of the SQS event Lambda sends."""
    attributes = message.get("Attributes") or {}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {k: attributes[k] for k in _LAMBDA_ATTRIBUTES if k in attributes},
        "messageAttributes": _message_attributes(message),
        "md5OfBody": message["MD5OfBody"],
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": source.queue_arn, "awsRegion": source.region})
    return record


class BatchResponseError(ValueError):
    """A partial batch response Lambda would reject: the whole batch counts as failed."""


def failed_message_ids(result: Any, message_ids: list[str]) -> set[str]:
    """The ids a ReportBatchItemFailures answer says failed (raises if it fails the whole batch)."""
    if result is None:
        return set()
    if not isinstance(result, dict):
        raise BatchResponseError(f"the answer is a {type(result).__name__}, not an object")
    failures = result.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        raise BatchResponseError("batchItemFailures is not a list")
    failed = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in message_ids:
            raise BatchResponseError(f"itemIdentifier {identifier!r} is not a message of this batch")
        failed.add(identifier)
    return failed


class QueuePoller:
    """One SQS event source mapping: `.start()`, `.stop()`, `.drain(timeout)`, `.stats`."""

    def __init__(self, source: SqsEventSource, *, sqs: Any = None, runtime: LambdaRuntime | None = None,
                 visibility_timeout: int | None = None, wait_time_seconds: int = WAIT_TIME_SECONDS) -> None:
        self.source = source
        self.runtime = runtime or LambdaRuntime()
        self.visibility_timeout = visibility_timeout
        self.wait_time_seconds = wait_time_seconds
        self._sqs = sqs or boto3.client(
            "sqs", config=Config(max_pool_connections=max(10, source.maximum_concurrency + 2))
        )
        self.stats: Counter[str] = Counter()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._state = threading.Condition()
        self._receive_lock = threading.Lock()
        self._in_flight = 0
        self._completed = 0

    @property
    def name(self) -> str:
        return f"{self.source.function.logical_id}.{self.source.event_name}"

    def start(self) -> QueuePoller:
        if self._threads:
            return self
        if self.visibility_timeout is not None:
            self._sqs.set_queue_attributes(
                QueueUrl=self.source.queue_url, Attributes={"VisibilityTimeout": str(self.visibility_timeout)}
            )
        if not self.source.enabled:
            logger.info("%s is disabled in the template: not polling", self.name)
            return self
        self._stopping.clear()
        for number in range(max(1, self.source.maximum_concurrency)):
            thread = threading.Thread(target=self._poll, name=f"poller-{self.name}-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)
        logger.info("polling %s for %s (batch %d, concurrency %d)", self.source.queue_url, self.name,
                    self.source.batch_size, self.source.maximum_concurrency)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads = []

    def __enter__(self) -> QueuePoller:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def in_flight(self) -> int:
        with self._state:
            return self._in_flight

    def queue_counts(self) -> dict[str, int]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        attributes = self._sqs.get_queue_attributes(QueueUrl=self.source.queue_url, AttributeNames=names)
        return {name: int(attributes["Attributes"].get(name, 0)) for name in names}

    def idle(self, include_delayed: bool = True) -> tuple[bool, str]:
        """(True, "") when the queue holds nothing (visible, in flight, and unless told otherwise delayed)
        and no invocation runs; else (False, what is left)."""
        with self._state:
            before = (self._in_flight, self._completed)
        counts = self.queue_counts()
        with self._state:
            after = (self._in_flight, self._completed)
        if not include_delayed:
            counts.pop("ApproximateNumberOfMessagesDelayed")
        if before == after and after[0] == 0 and not any(counts.values()):
            return True, ""
        return False, f"{self.name}: {counts}, {after[0]} invocations in flight"

    def drain(self, timeout: float = 10.0, *, include_delayed: bool = True, interval: float = 0.05) -> None:
        """Wait until `idle()`; TimeoutError says what is left. Delayed messages (the worker parks
        rate-limited work with a delay) count as work left unless include_delayed=False."""
        _wait_idle([self], timeout, interval, include_delayed)

    # ------------------------------------------------------------------------- the pollers' loop

    def _poll(self) -> None:
        while not self._stopping.is_set():
            try:
                # One ReceiveMessage at a time per mapping: moto's receive is not atomic across threads
                # and would now and then hand one message to two pollers. Invocations still overlap.
                with self._receive_lock:
                    if self._stopping.is_set():
                        return
                    response = self._sqs.receive_message(
                        QueueUrl=self.source.queue_url,
                        MaxNumberOfMessages=min(10, self.source.batch_size),
                        WaitTimeSeconds=self.wait_time_seconds,
                        MessageSystemAttributeNames=["All"],
                        MessageAttributeNames=["All"],
                    )
            except Exception:  # the poller outlives a failing endpoint, as Lambda's does
                if self._stopping.is_set():
                    return
                logger.warning("%s: ReceiveMessage failed; retrying", self.name, exc_info=True)
                self._stopping.wait(0.5)
                continue
            messages = response.get("Messages") or []
            if not messages:
                if not self.wait_time_seconds:
                    self._stopping.wait(0.05)  # short polling: do not spin
                continue
            with self._state:
                self._in_flight += 1
            try:
                self._process(messages)
            finally:
                with self._state:
                    self._in_flight -= 1
                    self._completed += 1

    def _count(self, **amounts: int) -> None:
        with self._state:
            self.stats.update(amounts)

    def _process(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [sqs_record(m, self.source) for m in messages]}
        ids = [m["MessageId"] for m in messages]
        self._count(batches=1, messages=len(messages))
        try:
            result = self.runtime.invoke(self.source.function, event)
            failed = failed_message_ids(result, ids) if self.source.report_batch_item_failures else set()
        except Exception:  # an invocation error fails the batch, as in Lambda
            logger.exception("%s: the batch of %d failed; its messages return after the visibility timeout",
                             self.name, len(messages))
            self._count(failed_batches=1, failed_messages=len(messages))
            return
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            response = self._sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            if response.get("Failed"):
                logger.warning("%s: %d deletes failed: %s", self.name, len(response["Failed"]), response["Failed"])
        self._count(succeeded_messages=len(done), failed_messages=len(failed))
        if failed:
            logger.info("%s: %d of %d messages reported failed", self.name, len(failed), len(messages))


class QueuePollers:
    """Every SQS event source of the stack, started and stopped together."""

    def __init__(self, pollers: list[QueuePoller]) -> None:
        self.pollers = pollers

    @classmethod
    def from_provisioned(cls, provisioned: Provisioned, *, runtime: LambdaRuntime | None = None,
                         visibility_timeout: int | None = None, sqs: Any = None) -> QueuePollers:
        runtime = runtime or LambdaRuntime()
        return cls([
            QueuePoller(source, sqs=sqs, runtime=runtime, visibility_timeout=visibility_timeout)
            for source in sqs_event_sources(provisioned)
        ])

    def start(self) -> QueuePollers:
        for poller in self.pollers:
            poller.start()
        return self

    def stop(self) -> None:
        for poller in self.pollers:
            poller._stopping.set()  # all at once: each takes up to one long poll to notice
        for poller in self.pollers:
            poller.stop()

    def drain(self, timeout: float = 10.0, *, include_delayed: bool = True, interval: float = 0.05) -> None:
        """Wait until every queue is empty and no invocation runs (checked in one pass, since one
        function's work can enqueue to another's queue)."""
        _wait_idle(self.pollers, timeout, interval, include_delayed)

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """Per event source mapping: batches, messages, succeeded/failed messages, failed batches."""
        return {poller.name: dict(poller.stats) for poller in self.pollers}


def _wait_idle(pollers: list[QueuePoller], timeout: float, interval: float, include_delayed: bool) -> None:
    deadline = time.monotonic() + timeout
    while True:
        states = [poller.idle(include_delayed) for poller in pollers]
        if all(ok for ok, _ in states):
            return
        if time.monotonic() >= deadline:
            left = "; ".join(why for ok, why in states if not ok)
            raise TimeoutError(f"not drained after {timeout} s: {left}")
        time.sleep(interval)
