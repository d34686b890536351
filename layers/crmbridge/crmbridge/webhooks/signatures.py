"""Webhook authenticity checks, on the raw bytes, in constant time, before any parsing.

Modelled on the Slack and Stripe SDK verifiers: pure functions of the request and the secret, with
an injectable clock where a timestamp is signed. Each returns nothing and raises SignatureError.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import unquote

from crmbridge.errors import SignatureError

# HubSpot rejects requests older than 5 minutes; we apply the same window to the future for skew.
HUBSPOT_MAX_SKEW_MS = 5 * 60 * 1000

# The escapes HubSpot's v3 documentation says to decode in the URI before signing.
_HUBSPOT_URI_ESCAPES = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B")


def _hmac_sha256_b64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


def xero_signature(raw_body: bytes, webhook_key: str) -> str:
    """x-xero-signature: base64 HMAC-SHA256 of the raw body, keyed with the key's UTF-8 text."""
    return _hmac_sha256_b64(webhook_key.encode("utf-8"), raw_body)


def verify_xero_signature(raw_body: bytes, signature: str | None, webhook_key: str) -> None:
    if not signature:
        raise SignatureError("missing x-xero-signature")
    expected = xero_signature(raw_body, webhook_key)
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8", "replace")):
        raise SignatureError("x-xero-signature does not match")


def basic_auth_header(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def verify_basic_auth(authorization: str | None, user: str, password: str) -> None:
    """Pipedrive webhooks carry HTTP Basic credentials only (no HMAC exists for them)."""
    if not authorization:
        raise SignatureError("missing Authorization header")
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise SignatureError("Authorization is not Basic")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("Authorization is not valid base64") from exc
    given_user, sep, given_password = decoded.partition(b":")
    # Both comparisons always run so the time taken does not reveal which part was wrong.
    user_ok = hmac.compare_digest(given_user, user.encode("utf-8"))
    password_ok = hmac.compare_digest(given_password, password.encode("utf-8"))
    if not (sep and user_ok and password_ok):
        raise SignatureError("wrong webhook credentials")


def hubspot_v3_uri(uri: str) -> str:
    """The URI as HubSpot signs it: only its documented escapes decoded, nothing else."""
    for escape in _HUBSPOT_URI_ESCAPES:
        uri = uri.replace(escape, unquote(escape)).replace(escape.lower(), unquote(escape))
    return uri


def hubspot_v3_signature(
    method: str, uri: str, raw_body: bytes, timestamp_ms: str, client_secret: str
) -> str:
    message = method.upper().encode() + hubspot_v3_uri(uri).encode("utf-8") + raw_body + timestamp_ms.encode()
    return _hmac_sha256_b64(client_secret.encode("utf-8"), message)


def verify_hubspot_v3(
    *,
    method: str,
    uri: str,
    raw_body: bytes,
    timestamp_ms: str | None,
    signature: str | None,
    client_secret: str,
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
) -> None:
    if not signature or not timestamp_ms:
        raise SignatureError("missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
    try:
        sent_at = int(timestamp_ms)
    except ValueError as exc:
        raise SignatureError("X-HubSpot-Request-Timestamp is not a number") from exc
    if abs(now_ms() - sent_at) > HUBSPOT_MAX_SKEW_MS:
        raise SignatureError("X-HubSpot-Request-Timestamp outside the 5-minute window")
    expected = hubspot_v3_signature(method, uri, raw_body, timestamp_ms, client_secret)
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8", "replace")):
        raise SignatureError("X-HubSpot-Signature-v3 does not match")
