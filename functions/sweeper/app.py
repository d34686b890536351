"""Scheduled: re-sync Xero invoices changed since the last sweep, and overdue ones once a day."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmbridge.config import get_settings
from crmbridge.metrics import counter
from crmbridge.sync.sweep_wiring import sweeper

logger = Logger()
tracer = Tracer()
metrics = Metrics()
metric = counter(metrics)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    sweep, tenants = sweeper(get_settings(), metric)
    report = sweep.run(tenants)
    metric("SweepEnqueued", report.enqueued)
    metric("RateLimited", len(report.rate_limited))
    # A pass longer than a run's page cap resumes at the next run from its cursor.
    metric("SweepUnfinished", len(report.unfinished))
    logger.info("sweep run", extra={"tenants": report.tenants, "enqueued": report.enqueued, "pages": report.pages,
                                    "rate_limited": report.rate_limited, "unfinished": report.unfinished})
    return {"tenants": report.tenants, "enqueued": report.enqueued, "rate_limited": report.rate_limited,
            "failed": report.failed, "unfinished": report.unfinished}
