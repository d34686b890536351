"""API Gateway HTTP API (payload 2.0) events in and out, independent of any one webhook."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    url: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    outcome: str  # accepted | ignored | handshake | rejected_<reason>
    enqueued: int = 0
    message: str | None = None
    dropped: int = 0  # events of an authentic payload left out: an id in them not valid, or another portal


class BadRequestEncoding(ValueError):
    """The event claims a base64 body that is not."""


def request_from_event(event: dict[str, Any]) -> WebhookRequest:
    """Rebuild the request as the caller sent it, raw body bytes included (signatures need them)."""
    http = event.get("requestContext", {}).get("http", {})
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequestEncoding("body is not valid base64") from exc
    else:
        body = raw.encode("utf-8", "surrogateescape")
    path = event.get("rawPath") or http.get("path") or "/"
    query = event.get("rawQueryString") or ""
    host = headers.get("host") or event.get("requestContext", {}).get("domainName", "localhost")
    proto = headers.get("x-forwarded-proto", "https")
    url = f"{proto}://{host}{path}" + (f"?{query}" if query else "")
    return WebhookRequest(
        method=(http.get("method") or "POST").upper(),
        url=url,
        path=path,
        headers=headers,
        body=body,
        query=dict(event.get("queryStringParameters") or {}),
    )


def to_api_response(response: WebhookResponse) -> dict[str, Any]:
    """2xx answers carry an empty body (Xero requires it for Intent-to-Receive); errors say why."""
    if 200 <= response.status < 300:
        return {"statusCode": response.status, "body": ""}
    return {
        "statusCode": response.status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"error": response.outcome, "message": response.message}),
    }
