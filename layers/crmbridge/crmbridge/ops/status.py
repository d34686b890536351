"""`bridgectl status`: is the bridge healthy, and what needs an operator?

Queue and dead-letter queue depths, each Xero connection (never its tokens), when webhooks last
arrived, the most recent permanent failures, what is parked (why, until when, when it gives up) and, on request (a scan of the whole history table), the
last sync activity each way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr

from crmbridge.ops.common import (
    ProgressFn,
    describe_subject,
    from_epoch,
    no_progress,
    parse_time,
    scan_all,
)
from crmbridge.ops.setup import field_warnings
from crmbridge.ops.target import Target
from crmbridge.sync.contacts import DECISION_NEEDED
from crmbridge.sync.records import PARKED
from crmbridge.tokens.store import TokenStore

QUEUES = ("SyncQueue", "SyncDeadLetterQueue")
WEBHOOK_SOURCES = ("pipedrive", "hubspot", "xero")
# Where a webhook function records the last request it accepted from a source (see webhook_seen_key).
WEBHOOK_SORT_KEY = "last_received"
DIRECTIONS = ("crm_to_xero", "xero_to_crm")
STALE_PARK_GRACE = timedelta(hours=1)


def webhook_seen_key(source: str) -> dict[str, str]:
    """The links-table item a webhook function writes when it accepts a request from `source` (at
    most once a minute per warm container): {"pk": "webhook#<source>", "sk": "last_received", "at": ISO}."""
    return {"pk": f"webhook#{source}", "sk": WEBHOOK_SORT_KEY}


@dataclass
class QueueDepth:
    queue: str
    url: str
    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


@dataclass
class ConnectionView:
    """A Xero connection as ops may see it: its state and token times, never a token."""

    tenant_id: str
    tenant_name: str | None
    status: str
    reason: str | None
    access_expires_at: datetime | None
    refreshed_at: datetime | None
    access_token_valid: bool
    version: int


@dataclass
class WebhookSeen:
    source: str
    received_at: datetime | None  # None: never recorded


@dataclass
class Activity:
    direction: str
    last_at: datetime | None
    entries: int


@dataclass
class Failure:
    subject: str
    label: str
    reason: str
    message: str
    updated_at: datetime | None
    command: str | None = None


@dataclass
class Parked:
    """Work waiting for its reason to clear (a rate limit, a connection, another worker)."""

    subject: str
    label: str
    why: str
    until: datetime | None
    since: datetime | None
    gives_up_at: datetime | None  # then it becomes a recorded failure, parked_too_long


@dataclass
class StatusReport:
    target: str
    at: datetime
    queues: list[QueueDepth]
    connections: list[ConnectionView]
    webhooks: list[WebhookSeen]
    webhooks_recorded: bool
    activity: list[Activity]
    failures: list[Failure]
    failures_total: int
    notes: list[str] = field(default_factory=list)
    contact_decisions: list[Failure] = field(default_factory=list)  # deals a person must choose a contact for
    parked: list[Parked] = field(default_factory=list)  # work waiting, oldest park first


def queue_depth(sqs: Any, logical_id: str, url: str) -> QueueDepth:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
    ])["Attributes"]
    return QueueDepth(queue=logical_id, url=url,
                      visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
                      in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                      delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)))


def connections(target: Target, *, now: datetime) -> list[ConnectionView]:
    """Each Xero organisation with its authorisation's state, read without token attributes."""
    out = []
    for state in TokenStore(target.table("TokensTable")).states():
        expires = from_epoch(state.access_expires_at)
        out.append(ConnectionView(
            tenant_id=state.tenant_id, tenant_name=state.tenant_name, status=state.status,
            reason=state.status_reason, access_expires_at=expires, refreshed_at=from_epoch(state.refreshed_at),
            access_token_valid=state.status == "CONNECTED" and expires is not None and expires > now,
            version=state.version,
        ))
    return out


def webhooks_seen(target: Target) -> list[WebhookSeen]:
    """When each source was last heard: the deployment's CRM and Xero always, other sources if recorded."""
    table = target.table("LinksTable")
    out = []
    for source in WEBHOOK_SOURCES:
        item = table.get_item(Key=webhook_seen_key(source)).get("Item")
        if item is None and source not in (target.crm_provider, "xero"):
            continue
        item = item or {}
        out.append(WebhookSeen(source=source, received_at=parse_time(item.get("at") or item.get("received_at"))))
    return out


def last_activity(target: Target, *, progress: ProgressFn = no_progress) -> list[Activity]:
    """The newest sync-history entry each way (a scan of the history table, times only)."""
    items = scan_all(target.table("SyncHistoryTable"), progress=progress, ProjectionExpression="#d, #a",
                     ExpressionAttributeNames={"#d": "direction", "#a": "at"})
    newest: dict[str, datetime | None] = dict.fromkeys(DIRECTIONS)
    counts = dict.fromkeys(DIRECTIONS, 0)
    for item in items:
        direction = str(item.get("direction", "?"))
        at = parse_time(item.get("at"))
        counts[direction] = counts.get(direction, 0) + 1
        current = newest.get(direction)
        if at is not None and (current is None or at > current):
            newest[direction] = at
    return [Activity(direction=d, last_at=newest.get(d), entries=counts.get(d, 0)) for d in newest]


def permanent_failures(target: Target, *, limit: int | None = 20,
                       progress: ProgressFn = no_progress) -> tuple[list[Failure], int]:
    """Sync records that ended in a permanent failure, newest first (and how many there are)."""
    items = scan_all(target.table("LinksTable"), progress=progress,
                     FilterExpression=Attr("sk").eq("sync") & Attr("status").eq("FAILED"))
    failures = [Failure(subject=str(i["pk"]), label=describe_subject(str(i["pk"])), reason=str(i.get("reason", "?")),
                        message=str(i.get("message", "")), updated_at=parse_time(i.get("updated_at")),
                        command=i.get("command"))
                for i in items]
    failures.sort(key=lambda f: f.updated_at.timestamp() if f.updated_at else 0.0, reverse=True)
    return failures[:limit], len(failures)


def parked_work(target: Target, *, progress: ProgressFn = no_progress) -> list[Parked]:
    """Sync records of work that is parked: why, until when, and when it gives up (oldest park first)."""
    items = scan_all(target.table("LinksTable"), progress=progress,
                     FilterExpression=Attr("sk").eq("sync") & Attr("status").eq(PARKED))
    parked = [Parked(subject=str(i["pk"]), label=describe_subject(str(i["pk"])), why=str(i.get("message", "")),
                     until=parse_time(i.get("parked_until")), since=parse_time(i.get("parked_since")),
                     gives_up_at=parse_time(i.get("gives_up_at")))
              for i in items]
    parked.sort(key=lambda p: p.since.timestamp() if p.since else 0.0)
    return parked


def collect_status(target: Target, *, now: datetime, failures_limit: int = 20, activity: bool = False,
                   progress: ProgressFn = no_progress) -> StatusReport:
    sqs = target.client("sqs")
    queues = [queue_depth(sqs, q, target.queue_url(q)) for q in QUEUES]
    seen = webhooks_seen(target)
    recorded = any(w.received_at for w in seen)
    notes = []
    if not recorded:
        notes.append("No webhook has been recorded as received yet (each webhook function notes its source at "
                     "most once a minute)" + ("." if activity else ": --activity shows the last sync each way."))
    every, total = permanent_failures(target, limit=None, progress=progress)
    failures = every[:failures_limit]
    report = StatusReport(
        target=target.describe(), at=now, queues=queues, connections=connections(target, now=now),
        webhooks=seen, webhooks_recorded=recorded, activity=last_activity(target, progress=progress) if activity else [],
        failures=failures, failures_total=total, notes=notes,
    )
    dlq = next(q for q in queues if q.queue == "SyncDeadLetterQueue")
    if dlq.total:
        report.notes.append(f"{dlq.total} message(s) in the dead-letter queue: `bridgectl dlq list`.")
    report.notes.extend(field_warnings(target))
    if not report.connections:
        report.notes.append("No Xero organisation is connected: `bridgectl connect`.")
    elif (len(report.connections) > 1 and not target.parameters.get("XeroTenantId")
          and TokenStore(target.table("TokensTable")).selection() is None):
        report.notes.append(f"{len(report.connections)} Xero organisations are connected and none is chosen for "
                            "invoicing (deals fail as no_xero_organisation): `bridgectl tenants use TENANT_ID`.")
    for connection in report.connections:
        name = connection.tenant_name or connection.tenant_id
        if connection.status != "CONNECTED":
            report.notes.append(f"Xero tenant {name} is disconnected ({connection.reason or 'no reason recorded'}): "
                                "`bridgectl connect` again.")
        elif not connection.access_token_valid:
            report.notes.append(f"Xero tenant {name}'s access token has expired: is the token refresher running? "
                                "(its logs; TokenRefreshFailureAlarm). The worker refreshes on demand meanwhile.")
    report.contact_decisions = [f for f in every if f.reason == DECISION_NEEDED]
    if report.contact_decisions:
        labels = ", ".join(f.label for f in report.contact_decisions[:10])
        report.notes.append(
            f"{len(report.contact_decisions)} deal(s) need a contact decision ({labels}"
            f"{', ...' if len(report.contact_decisions) > 10 else ''}): each failure's message names the Xero "
            "contacts the evidence points to; settle one with `bridgectl contact use DEAL_ID XERO_CONTACT_ID`.")
    if total > len(failures):
        report.notes.append(f"{total} permanent failures in all; showing the newest {len(failures)}.")
    report.parked = parked_work(target, progress=progress)
    if report.parked:
        report.notes.append(f"{len(report.parked)} item(s) parked, waiting for their reason to clear; each becomes "
                            "a permanent failure (parked_too_long) if it has not cleared by its give-up time.")
        # A parked message comes back within 15 minutes: one past its give-up time hours ago has left the queue.
        stale = [p for p in report.parked if p.gives_up_at and p.gives_up_at + STALE_PARK_GRACE < now]
        if stale:
            report.notes.append(f"{len(stale)} parked item(s) are past their give-up time and have not come back "
                                f"({', '.join(p.label for p in stale[:5])}): look for them in `bridgectl dlq list`, "
                                "or `bridgectl resync` them.")
    return report
