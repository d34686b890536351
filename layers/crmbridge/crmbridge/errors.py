"""Typed errors: every failure is either worth retrying or not, and says why.

The worker's single error boundary (sync.processor) decides what happens to a message from these
types alone: retryable errors go back to the queue with a delay, permanent ones are recorded on the
deal's sync record for ops and acknowledged, anything else is a bug and fails the record.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""

    def __init__(self, message: str, *, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ConfigError(BridgeError):
    """The deployment is misconfigured: a missing or invalid environment value or secret."""


class RetryableError(BridgeError):
    """A transient fault (5xx, timeout, throttling): the same work may succeed later."""

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: float | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after_seconds = retry_after_seconds


class RateLimitedError(RetryableError):
    """An API said 429. `problem` is Xero's X-Rate-Limit-Problem (minute, day, concurrent...)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: float | None,
        problem: str | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message, retry_after_seconds=retry_after_seconds, details=details)
        self.problem = problem


class PermanentError(BridgeError):
    """Retrying cannot help until someone fixes data (in the CRM, Xero or the mapping).

    `reason` is a short stable code for metrics and filtering; `message` is for humans.
    """

    def __init__(
        self, reason: str, message: str, *, details: dict[str, object] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.reason = reason


class SignatureError(BridgeError):
    """A webhook's signature or credentials did not verify."""
