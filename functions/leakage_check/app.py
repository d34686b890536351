"""Scheduled: the revenue-leakage report (won deals without an invoice, invoices without a deal, amounts
that differ); LeakageFound counts the findings, and the alarm on it tells someone."""

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmbridge.config import get_settings
from crmbridge.metrics import counter
from crmbridge.ops.golive import golive_from_settings
from crmbridge.ops.leakage import Leakage

logger = Logger()
tracer = Tracer()
metrics = Metrics()
metric = counter(metrics)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    since = datetime.now(UTC) - timedelta(days=settings.leakage_lookback_days)
    report = Leakage(golive_from_settings(settings, metric)).run(won_from=since)
    metric("LeakageFound", len(report.findings))
    for kind, count in report.counts.items():
        metric(f"Leakage_{kind}", count)
    for finding in report.findings[:100]:
        logger.warning("revenue leakage", extra={"kind": finding.kind, "deal_id": finding.deal_id,
                                                  "invoice_id": finding.invoice_id, "detail": finding.detail})
    logger.info("leakage check run", extra={"deals": report.deals_checked, "invoices": report.invoices_checked,
                                            **report.counts})
    return {"deals_checked": report.deals_checked, "invoices_checked": report.invoices_checked,
            "findings": len(report.findings), **report.counts}
