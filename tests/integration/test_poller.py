"""The local SQS event source mapping, against the template's queues in moto."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.poller import QueuePoller, sqs_event_sources, visibility_timeout_override
from local.provision import Provisioned, provision
from local.template import FunctionSpec, functions, load_template
from tests.integration.fixtures import recorder


def worker_spec(**overrides: Any) -> FunctionSpec:
    """The fixture worker, subscribed to the sync queue with the template's own SQS event."""
    events = copy.deepcopy(functions(load_template())["SyncWorkerFunction"].events)
    for event in events.values():
        event["Properties"].update(overrides)
    return FunctionSpec(
        logical_id="PollerTestFunction",
        code_uri="tests/integration/fixtures/sqs_app",
        handler="app.lambda_handler",
        timeout=10,
        environment={},
        events=events,
    )


@pytest.fixture
def queues() -> Iterator[Provisioned]:
    """The template's resources in moto, with 2 receives before a message goes to the DLQ."""
    recorder.clear()
    with mock_aws():
        yield provision(boto3.session.Session(), parameters={"QueueMaxReceiveCount": "2"})
    recorder.clear()


@pytest.fixture
def sqs(queues):
    return boto3.client("sqs")


@pytest.fixture
def send(queues, sqs) -> Callable[..., str]:
    def _send(instruction: dict[str, Any], **kwargs: Any) -> str:
        url = queues.queue_urls["SyncQueue"]
        return sqs.send_message(QueueUrl=url, MessageBody=json.dumps(instruction), **kwargs)["MessageId"]

    return _send


@pytest.fixture
def start_poller(queues) -> Iterator[Callable[..., QueuePoller]]:
    started: list[QueuePoller] = []

    def _start(spec: FunctionSpec | None = None, *, visibility_timeout: int | None = 30) -> QueuePoller:
        spec = spec or worker_spec()
        [source] = sqs_event_sources(queues, {spec.logical_id: spec})
        # Short polling (the stack long-polls for 1 s) so that stopping between tests is immediate.
        poller = QueuePoller(source, visibility_timeout=visibility_timeout, wait_time_seconds=0).start()
        started.append(poller)
        return poller

    yield _start
    for poller in started:
        poller.stop()


def counts(sqs, url: str) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def wait_for(condition: Callable[[], bool], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_template_sqs_event_resolves_to_the_sync_queue_with_its_batch_settings(queues):
    [source] = sqs_event_sources(queues)

    assert source.function.logical_id == "SyncWorkerFunction"
    assert source.queue_url == queues.queue_urls["SyncQueue"]
    assert (source.batch_size, source.report_batch_item_failures, source.maximum_concurrency) == (5, True, 5)


def test_record_is_the_sqs_event_lambda_sends(queues, send, start_poller):
    message_id = send({"ok": 1}, MessageAttributes={"trace": {"DataType": "String", "StringValue": "t-1"}})

    poller = start_poller()
    poller.drain(timeout=5)

    [record] = recorder.records()
    assert record["messageId"] == message_id
    assert json.loads(record["body"]) == {"ok": 1}
    assert record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"} <= record["attributes"].keys()
    assert record["messageAttributes"]["trace"] == {
        "stringValue": "t-1", "stringListValues": [], "binaryListValues": [], "dataType": "String"
    }
    assert (record["eventSource"], record["awsRegion"]) == ("aws:sqs", "eu-west-2")
    assert record["eventSourceARN"] == queues.attrs[("SyncQueue", "Arn")]
    assert len(record["md5OfBody"]) == 32


def test_partial_batch_failure_deletes_only_the_succeeded_messages(queues, sqs, send, start_poller):
    send({"ok": 1})
    failing = send({"fail": True})
    send({"ok": 2})

    poller = start_poller(visibility_timeout=30)
    wait_for(lambda: poller.stats["batches"] >= 1 and poller.in_flight == 0)

    assert [len(batch) for batch in recorder.batches()] == [3]
    assert counts(sqs, queues.queue_urls["SyncQueue"]) == (0, 1)  # only the failed one is left, invisible
    assert (poller.stats["succeeded_messages"], poller.stats["failed_messages"]) == (2, 1)
    assert failing in {r["messageId"] for r in recorder.records()}


def test_failed_message_reappears_after_the_visibility_timeout(queues, send, start_poller):
    failing = send({"fail": True})

    start_poller(visibility_timeout=1)
    wait_for(lambda: len(recorder.records()) >= 2)

    first, second = recorder.records()[:2]
    assert first["messageId"] == second["messageId"] == failing
    assert (first["attributes"]["ApproximateReceiveCount"], second["attributes"]["ApproximateReceiveCount"]) == ("1", "2")


def test_message_failing_max_receive_count_times_moves_to_the_dlq(queues, sqs, send, start_poller):
    failing = send({"fail": True})
    dlq = queues.queue_urls["SyncDeadLetterQueue"]

    start_poller(visibility_timeout=1)
    wait_for(lambda: counts(sqs, dlq)[0] == 1, timeout=10)

    [dead] = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert dead["MessageId"] == failing
    assert [r["messageId"] for r in recorder.records()] == [failing, failing]  # maxReceiveCount is 2
    assert counts(sqs, queues.queue_urls["SyncQueue"]) == (0, 0)


def test_handler_exception_fails_the_whole_batch(queues, sqs, send, start_poller):
    send({"ok": 1})
    send({"raise": True})

    poller = start_poller(visibility_timeout=30)
    wait_for(lambda: poller.stats["failed_batches"] == 1 and poller.in_flight == 0)

    assert counts(sqs, queues.queue_urls["SyncQueue"]) == (0, 2)  # nothing deleted
    assert poller.stats["succeeded_messages"] == 0


def test_failure_naming_a_message_outside_the_batch_fails_the_whole_batch(queues, sqs, send, start_poller):
    send({"ok": 1})
    send({"fail_unknown": True})

    poller = start_poller(visibility_timeout=30)
    wait_for(lambda: poller.stats["failed_batches"] == 1 and poller.in_flight == 0)

    assert counts(sqs, queues.queue_urls["SyncQueue"]) == (0, 2)


def test_maximum_concurrency_bounds_concurrent_invocations(queues, send, start_poller):
    for _ in range(6):
        send({"sleep": 0.3})

    poller = start_poller(worker_spec(BatchSize=1, ScalingConfig={"MaximumConcurrency": 2}))
    poller.drain(timeout=8)

    assert len(recorder.records()) == 6
    assert recorder.peak_concurrency == 2


def test_drain_returns_once_every_message_is_processed(queues, sqs, send, start_poller):
    for n in range(3):
        send({"ok": n})

    start_poller().drain(timeout=5)

    assert sorted(json.loads(r["body"])["ok"] for r in recorder.records()) == [0, 1, 2]
    assert counts(sqs, queues.queue_urls["SyncQueue"]) == (0, 0)


def test_drain_times_out_while_a_failed_message_waits_to_reappear(queues, send, start_poller):
    send({"fail": True})

    poller = start_poller(visibility_timeout=30)

    with pytest.raises(TimeoutError, match="NotVisible"):
        poller.drain(timeout=1)


def test_visibility_override_from_the_environment_is_set_on_the_queue(queues, sqs, start_poller, monkeypatch):
    monkeypatch.setenv("LOCAL_VISIBILITY_TIMEOUT_SECONDS", "2")

    start_poller(visibility_timeout=visibility_timeout_override())

    attrs = sqs.get_queue_attributes(QueueUrl=queues.queue_urls["SyncQueue"], AttributeNames=["VisibilityTimeout"])
    assert attrs["Attributes"]["VisibilityTimeout"] == "2"
