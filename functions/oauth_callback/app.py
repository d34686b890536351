"""GET /oauth/xero/callback: Xero redirects here after consent; store the consent's token set."""

import html
import time

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmbridge.config import get_settings
from crmbridge.errors import BridgeError
from crmbridge.tokens import wiring
from crmbridge.tokens.connect import ConnectRefused, complete_connection, connected_text
from crmbridge.webhooks.http import request_from_event

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def _page(status: int, title: str, text: str) -> dict:
    body = f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
    return {"statusCode": status, "headers": {"content-type": "text/html; charset=utf-8"}, "body": body}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    request = request_from_event(event)
    redirect_uri = request.url.split("?", 1)[0]
    try:
        connected = complete_connection(
            wiring.identity(settings), wiring.token_store(settings), wiring.signing_key(settings),
            code=request.query.get("code"), state=request.query.get("state"), redirect_uri=redirect_uri,
            now=int(time.time()), error=request.query.get("error"),
            error_description=request.query.get("error_description"),
        )
    except ConnectRefused as exc:
        metrics.add_metric(name="ConnectRefused", unit=MetricUnit.Count, value=1)
        logger.warning("Xero connection refused", extra={"reason": exc.message})
        return _page(400, "Connection refused", exc.message)
    except BridgeError as exc:
        logger.error("Xero connection failed", extra={"reason": exc.message})
        return _page(502, "Connection failed", exc.message)
    metrics.add_metric(name="XeroConnected", unit=MetricUnit.Count, value=len(connected.tenants))
    logger.info("Xero connected", extra={"tenants": [t for t, _ in connected.tenants], "selected": connected.selected})
    return _page(200, "Xero connected", connected_text(connected))
