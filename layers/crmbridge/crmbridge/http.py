"""Shared HTTP plumbing for the API clients: one httpx client per process, errors typed by status."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import httpx

from crmbridge.errors import PermanentError, RateLimitedError, RetryableError


@cache
def http_client(timeout_seconds: float = 10.0) -> httpx.Client:
    """Kept across warm invocations so connections (and TLS sessions) are reused."""
    return httpx.Client(timeout=httpx.Timeout(timeout_seconds, connect=3.0), http2=False)


def send(
    client: httpx.Client, request: httpx.Request, *, service: str
) -> httpx.Response:
    """Send a request; transport failures and timeouts become RetryableError."""
    try:
        return client.send(request)
    except httpx.TimeoutException as exc:
        raise RetryableError(f"{service} timed out", details={"service": service}) from exc
    except httpx.TransportError as exc:
        raise RetryableError(f"{service} unreachable: {exc.__class__.__name__}", details={"service": service}) from exc


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def raise_for_transient(response: httpx.Response, *, service: str,
                        problem: Callable[[httpx.Response], str | None] = lambda r: None) -> None:
    """429 and 5xx are worth retrying later; the caller maps the other statuses itself."""
    if response.status_code == 429:
        raise RateLimitedError(
            f"{service} rate limit hit", retry_after_seconds=retry_after_seconds(response),
            problem=problem(response), details={"service": service},
        )
    if response.status_code >= 500:
        raise RetryableError(
            f"{service} answered {response.status_code}", retry_after_seconds=retry_after_seconds(response),
            details={"service": service},
        )


def permanent_for_status(response: httpx.Response, *, service: str, what: str) -> PermanentError:
    return PermanentError(
        f"{service}_{response.status_code}",
        f"{service} answered {response.status_code} to {what}",
        details={"service": service},
    )
