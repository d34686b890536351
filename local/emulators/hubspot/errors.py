"""HubSpot's error bodies: {"status": "error", "message", "correlationId", "category", ...}."""

from __future__ import annotations

import json
import uuid
from typing import Any


class ApiError(Exception):
    """An error answered in HubSpot's shape."""

    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
            **self.extra,
        }


def validation_error(message: str, **extra: Any) -> ApiError:
    return ApiError(400, message, "VALIDATION_ERROR", **extra)


def not_found(message: str = "resource not found") -> ApiError:
    return ApiError(404, message, "OBJECT_NOT_FOUND")


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
        "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        "INVALID_AUTHENTICATION",
    )


def property_errors(invalid: list[dict[str, Any]], portal_id: int) -> ApiError:
    """A write naming unknown, read-only or badly typed properties: one 400 listing every problem.

    HubSpot puts the per-property results into the message as JSON text (and nowhere else), so clients
    that want the property names parse it; `errors` repeats them in the structured form of newer APIs.
    """
    results = [
        {
            "isValid": False,
            "message": item["message"],
            "error": item["error"],
            "name": item["name"],
            "localizedErrorMessage": item["message"],
            "portalId": portal_id,
        }
        for item in invalid
    ]
    return validation_error(
        f"Property values were not valid: {json.dumps(results, separators=(',', ':'))}",
        errors=[
            {"message": item["message"], "code": item["error"], "context": {"propertyName": [item["name"]]}}
            for item in invalid
        ],
    )


def rate_limited(policy: str, app_id: int, portal_id: int) -> ApiError:
    """A 429: `policyName` says which limit (TEN_SECONDLY_ROLLING or DAILY)."""
    return ApiError(
        429,
        f"You have reached your {policy.lower()} limit.",
        "RATE_LIMITS",
        errorType="RATE_LIMIT",
        policyName=policy,
        groupName=f"publicapi:private-app:{app_id}:{portal_id}",
    )
