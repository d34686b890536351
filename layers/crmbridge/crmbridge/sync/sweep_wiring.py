"""Builds the sweeper from Settings."""

from __future__ import annotations

from collections.abc import Callable

from crmbridge import aws
from crmbridge.aws import table
from crmbridge.config import Settings
from crmbridge.http import http_client
from crmbridge.queue import SyncQueue
from crmbridge.sync.sweep import Sweeper, Watermarks
from crmbridge.sync.wiring import day_limit_metric
from crmbridge.tokens.wiring import token_manager
from crmbridge.xero.client import XeroClient


def sweeper(settings: Settings, metric: Callable[[str, float], None]) -> tuple[Sweeper, list[str]]:
    """The sweeper and the tenants it sweeps (every connected organisation)."""
    tokens = token_manager(settings, metric)
    xero = XeroClient(http_client(settings.http_timeout_seconds), settings.xero_api_url, tokens,
                      on_response=day_limit_metric(metric))
    queue = SyncQueue(aws.client("sqs"), settings.require("sync_queue_url"))
    tenants = [c.tenant_id for c in tokens.store.all() if c.status == "CONNECTED"]
    return Sweeper(xero=xero, queue=queue, watermarks=Watermarks(table(settings, "links_table"))), tenants
