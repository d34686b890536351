"""CRM webhooks (POST /webhooks/pipedrive, /webhooks/hubspot): verify, normalise, enqueue."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmbridge.webhooks import wiring
from crmbridge.webhooks.http import BadRequestEncoding, WebhookResponse, request_from_event, to_api_response

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])  # it calls AWS only: patching every library would import httpx at cold start
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    source = event.get("rawPath", "").rstrip("/").rsplit("/", 1)[-1]
    try:
        response = wiring.receive_crm(source, request_from_event(event))
    except BadRequestEncoding as exc:
        response = WebhookResponse(400, "rejected_encoding", message=str(exc))
    if not response.outcome.startswith("rejected"):
        wiring.heartbeat(source)
    wiring.record_outcome(metrics, source, response)
    logger.info("webhook handled", extra={"source": source, "status": response.status, "outcome": response.outcome, "enqueued": response.enqueued})
    return to_api_response(response)
