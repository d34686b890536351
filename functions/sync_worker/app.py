"""Sync worker: consumes the sync queue in batches, while its remaining time allows, and reports partial
batch failures (what failed, and what it had no time to start)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmbridge.config import get_settings
from crmbridge.metrics import counter
from crmbridge.sync import wiring
from crmbridge.sync.batch import TimeBudget, process_batch

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@tracer.capture_method
def record_handler(record: dict) -> str:
    logger.append_keys(message_id=record["messageId"])
    return wiring.worker(metrics).process(record["body"]).status


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    worker = wiring.worker(metrics)
    worker.run_once.register_lambda_context(context)
    # Time kept in reserve: one HTTP call hanging until its timeout, plus the slowest record so far.
    budget = TimeBudget(context, reserve_ms=int(get_settings().http_timeout_seconds * 1000))
    return process_batch(event, record_handler, budget, queue=worker.queue, on_metric=counter(metrics))
