"""Builds the worker from Settings once per process."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from crmbridge import aws
from crmbridge.aws import table
from crmbridge.commands import DealWon
from crmbridge.config import Settings, get_settings
from crmbridge.crm.clients import crm_client
from crmbridge.crm.models import CrmDeal
from crmbridge.http import http_client
from crmbridge.mapping.config import MappingConfig, load_mapping
from crmbridge.metrics import counter
from crmbridge.queue import SyncQueue
from crmbridge.sync.deal_won import DealWonSync
from crmbridge.sync.history import SyncHistory
from crmbridge.sync.links import Links
from crmbridge.sync.processor import CommandHandler, PowertoolsRunner, Worker
from crmbridge.sync.records import SyncRecords
from crmbridge.sync.serial import SerialWriter
from crmbridge.sync.xero_changes import XeroChangeSync
from crmbridge.tokens.store import TokenStore
from crmbridge.tokens.tenants import resolve_tenant
from crmbridge.tokens.wiring import token_manager
from crmbridge.xero.client import XeroClient


def tenant_resolver(settings: Settings, store: TokenStore, mapping: MappingConfig | None = None,
                    on_metric=lambda name, value: None):
    """The organisation a deal is invoiced to (tokens/tenants.py): the pin, the mapping's tenant route for
    the deal, else the chosen one. Without a deal (the go-live commands): the pin or the chosen one."""
    def tenant_for(command: DealWon | None, deal: CrmDeal | None = None) -> str:
        return resolve_tenant(settings.xero_tenant_id, store, mapping, deal, on_metric=on_metric)
    return tenant_for


def day_limit_metric(metric):
    """Every Xero answer says how many calls the organisation has left today: alarm before it runs out."""
    def record(tenant_id: str, response) -> None:
        remaining = response.headers.get("x-daylimit-remaining")
        if remaining is not None and remaining.isdigit():
            metric("XeroDayLimitRemaining", int(remaining))
    return record


def command_handlers(settings: Settings, metric) -> dict[str, CommandHandler]:
    """The commands this stack can carry out, by kind."""
    http = http_client(settings.http_timeout_seconds)
    tokens = token_manager(settings, metric)
    crm = crm_client(settings, http)
    xero = XeroClient(http, settings.xero_api_url, tokens, on_response=day_limit_metric(metric))
    mapping = load_mapping(settings.mapping_file)
    deal_won = DealWonSync(
        crm=crm, xero=xero, links=Links(table(settings, "links_table")), mapping=mapping,
        invoice_status=settings.invoice_status, tenant_for=tenant_resolver(settings, tokens.store, mapping, metric),
        on_metric=metric,
    )
    changes = XeroChangeSync(crm=crm, xero=xero, links=deal_won.links, mapping=deal_won.mapping,
                             serial=SerialWriter(table(settings, "links_table")), on_metric=metric)
    return {"deal_won": deal_won, "xero_changed": changes}  # type: ignore[dict-item]


@cache
def worker(metrics: Metrics) -> Worker:
    settings = get_settings()
    metric = counter(metrics)
    store = DynamoDBPersistenceLayer(
        table_name=settings.require("idempotency_table"), boto3_client=aws.client("dynamodb")
    )
    return Worker(
        queue=SyncQueue(aws.client("sqs"), settings.require("sync_queue_url")),
        records=SyncRecords(table(settings, "links_table")),
        handlers=command_handlers(settings, metric),
        run_once=PowertoolsRunner(store),
        history=SyncHistory(table(settings, "history_table"), retention_days=settings.history_retention_days),
        on_metric=metric,
        park_recheck_seconds=settings.park_recheck_seconds,
        park_limit=timedelta(seconds=settings.park_limit_seconds),
    )
