"""Builds the worker from Settings once per process."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from crmbridge import aws
from crmbridge.config import get_settings
from crmbridge.queue import SyncQueue
from crmbridge.sync.processor import CommandHandler, Worker, powertools_runner
from crmbridge.sync.records import SyncRecords


def command_handlers() -> dict[str, CommandHandler]:
    """The commands this stack can carry out, by kind."""
    return {}


@cache
def worker(metrics: Metrics) -> Worker:
    settings = get_settings()
    store = DynamoDBPersistenceLayer(
        table_name=settings.require("idempotency_table"), boto3_client=aws.client("dynamodb")
    )
    return Worker(
        queue=SyncQueue(aws.client("sqs"), settings.require("sync_queue_url")),
        records=SyncRecords(aws.resource("dynamodb").Table(settings.require("links_table"))),
        handlers=command_handlers(),
        run_once=powertools_runner(store),
        on_metric=lambda name, value: metrics.add_metric(name=name, unit=MetricUnit.Count, value=value),
    )
