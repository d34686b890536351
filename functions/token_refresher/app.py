"""Scheduled: refresh each Xero authorisation's tokens (once for all its organisations) before they expire, one
writer at a time."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmbridge.config import get_settings
from crmbridge.metrics import counter
from crmbridge.tokens import wiring
from crmbridge.tokens.refresher import refresh_due

logger = Logger()
tracer = Tracer()
metrics = Metrics()
metric = counter(metrics)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    report = refresh_due(wiring.token_manager(get_settings(), metric))
    metric("ConnectionsDisconnected", len(report.disconnected))
    logger.info("token refresh run", extra={"refreshed": len(report.refreshed), "fresh": len(report.fresh),
                                            "disconnected": report.disconnected, "failed": report.failed})
    return {"refreshed": report.refreshed, "fresh": report.fresh,
            "disconnected": report.disconnected, "failed": report.failed}
