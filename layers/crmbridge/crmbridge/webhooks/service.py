"""Receive a webhook: authenticate the raw bytes, parse, normalise, enqueue, answer.

Order matters: nothing is parsed before the signature verifies, and nothing is acknowledged with a
2xx before its commands are durably on the queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from pydantic import ValidationError

from crmbridge.commands import Command
from crmbridge.errors import SignatureError
from crmbridge.queue import SyncQueue
from crmbridge.secrets import HubSpotSecret, PipedriveSecret, XeroWebhookKey
from crmbridge.webhooks.http import WebhookRequest, WebhookResponse
from crmbridge.webhooks.hubspot import HUBSPOT_EVENTS, deal_won_candidates, of_portal
from crmbridge.webhooks.pipedrive import PipedriveWebhook, deal_won_command
from crmbridge.webhooks.signatures import verify_basic_auth, verify_hubspot_v3, verify_xero_signature
from crmbridge.webhooks.xero import XeroWebhook, resource_commands

# API Gateway caps payloads at 10 MB; no genuine webhook we accept comes near 1 MB.
MAX_BODY_BYTES = 1_000_000


def _verified[T](request: WebhookRequest, verify: Callable[[], None], parse: Callable[[bytes], T]) -> T | WebhookResponse:
    """Size, then authenticity on the raw bytes, then parsing: the first check that fails is the answer."""
    if len(request.body) > MAX_BODY_BYTES:
        return WebhookResponse(413, "rejected_too_large", message="body exceeds 1 MB")
    try:
        verify()
    except SignatureError as exc:
        return WebhookResponse(401, "rejected_signature", message=exc.message)
    try:
        return parse(request.body)
    except ValidationError as exc:
        return WebhookResponse(400, "rejected_payload", message=_first_error(exc))


def _enqueue(queue: SyncQueue, commands: Sequence[Command]) -> WebhookResponse:
    if not commands:
        return WebhookResponse(200, "ignored")
    return WebhookResponse(200, "accepted", enqueued=queue.send(commands))


def receive_pipedrive(
    request: WebhookRequest,
    secret: PipedriveSecret,
    queue: SyncQueue,
    *,
    integration_user_id: str | None = None,
) -> WebhookResponse:
    hook = _verified(request, lambda: verify_basic_auth(
        request.header("authorization"), secret.webhook_user, secret.webhook_password.get_secret_value(),
    ), PipedriveWebhook.model_validate_json)
    if isinstance(hook, WebhookResponse):
        return hook
    command = deal_won_command(hook, integration_user_id=integration_user_id)
    return _enqueue(queue, [command] if command else [])


def receive_hubspot(
    request: WebhookRequest,
    secret: HubSpotSecret,
    queue: SyncQueue,
    *,
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    portal_id: int | None = None,
) -> WebhookResponse:
    """v3 signature over method, the full URI HubSpot called, the raw body and the timestamp; then the
    array of events, those of another portal than `portal_id` (when set) dropped and counted; each deal
    whose stage changed becomes a candidate DealWon the worker confirms."""
    events = _verified(request, lambda: verify_hubspot_v3(
        method=request.method, uri=request.url, raw_body=request.body,
        timestamp_ms=request.header("x-hubspot-request-timestamp"),
        signature=request.header("x-hubspot-signature-v3"),
        client_secret=secret.client_secret.get_secret_value(), now_ms=now_ms,
    ), HUBSPOT_EVENTS.validate_json)
    if isinstance(events, WebhookResponse):
        return events
    ours, dropped = of_portal(events, portal_id)
    response = _enqueue(queue, deal_won_candidates(ours))
    return replace(response, dropped=dropped) if dropped else response


def receive_xero(request: WebhookRequest, key: XeroWebhookKey, queue: SyncQueue) -> WebhookResponse:
    hook = _verified(request, lambda: verify_xero_signature(
        request.body, request.header("x-xero-signature"), key.webhook_key.get_secret_value(),
    ), XeroWebhook.model_validate_json)
    if isinstance(hook, WebhookResponse):
        return hook
    if hook.handshake:
        return WebhookResponse(200, "handshake")  # Intent-to-Receive: empty events, signed
    response = _enqueue(queue, resource_commands(hook))
    return replace(response, dropped=len(hook.dropped)) if hook.dropped else response


def _first_error(exc: ValidationError) -> str:
    """A short, body-free description: field location and problem, never the input value."""
    first = exc.errors(include_input=False, include_url=False)[0]
    location = ".".join(str(part) for part in first.get("loc", ())) or "body"
    return f"{location}: {first.get('msg', 'invalid')}"
