"""What a webhook function needs, built once per process from Settings and reused while warm."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from crmbridge import aws
from crmbridge.config import get_settings
from crmbridge.queue import SyncQueue
from crmbridge.secrets import HubSpotSecret, PipedriveSecret, XeroWebhookKey, load_secret
from crmbridge.webhooks import service
from crmbridge.webhooks.http import WebhookRequest, WebhookResponse


@cache
def sync_queue() -> SyncQueue:
    settings = get_settings()
    return SyncQueue(aws.client("sqs"), settings.require("sync_queue_url"))


def pipedrive_secret() -> PipedriveSecret:
    settings = get_settings()
    return load_secret(
        PipedriveSecret, settings.require("pipedrive_secret_arn"), max_age=settings.secrets_max_age_seconds
    )


def hubspot_secret() -> HubSpotSecret:
    settings = get_settings()
    return load_secret(
        HubSpotSecret, settings.require("hubspot_secret_arn"), max_age=settings.secrets_max_age_seconds
    )


def xero_webhook_key() -> XeroWebhookKey:
    settings = get_settings()
    return load_secret(
        XeroWebhookKey, settings.require("xero_webhook_secret_arn"), max_age=settings.secrets_max_age_seconds
    )


def receive_crm(source: str, request: WebhookRequest) -> WebhookResponse:
    """A CRM webhook by its route's last segment; only the stack's own CRM (CRM_PROVIDER) is served."""
    settings = get_settings()
    if source != settings.crm_provider:
        return WebhookResponse(404, "rejected_crm_not_enabled", message=f"{source} is not this stack's CRM")
    if source == "hubspot":
        return service.receive_hubspot(request, hubspot_secret(), sync_queue(),
                                       portal_id=settings.hubspot_portal_id)
    return service.receive_pipedrive(request, pipedrive_secret(), sync_queue())


_HEARTBEAT_EVERY_SECONDS = 60
_last_heartbeat: dict[str, float] = {}


def heartbeat(source: str, *, now: float | None = None) -> None:
    """Note that `source` is still sending webhooks (for `bridgectl status` and the silence check).

    At most one write a minute per warm container, so the acknowledgement path stays fast.
    """
    settings = get_settings()
    moment = time.time() if now is None else now
    if not settings.links_table or moment - _last_heartbeat.get(source, 0.0) < _HEARTBEAT_EVERY_SECONDS:
        return
    _last_heartbeat[source] = moment
    aws.resource("dynamodb").Table(settings.links_table).put_item(Item={
        "pk": f"webhook#{source}", "sk": "last_received",
        "at": datetime.fromtimestamp(moment, UTC).isoformat(),
    })


def record_outcome(metrics: Metrics, source: str, response: WebhookResponse) -> None:
    """One metric per webhook: accepted, ignored or rejected (by reason), per source."""
    metrics.add_dimension(name="Source", value=source)
    if response.outcome.startswith("rejected"):
        metrics.add_dimension(name="Reason", value=response.outcome.removeprefix("rejected_"))
        metrics.add_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="WebhooksAccepted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="CommandsEnqueued", unit=MetricUnit.Count, value=response.enqueued)
        if response.dropped:
            metrics.add_metric(name="WebhookEventsDropped", unit=MetricUnit.Count, value=response.dropped)
