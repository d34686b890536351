"""Xero webhooks: the signed batch body and the Intent-to-Receive handshake.

Body: {"events": [{resourceUrl, resourceId, eventDateUtc, eventType, eventCategory, tenantId,
tenantType}], "firstEventSequence", "lastEventSequence", "entropy"}; header x-xero-signature =
base64(HMAC-SHA256(webhook key as UTF-8, raw body)). Intent-to-Receive requests carry no events and
sequence numbers 0; the receiver must answer 200 with an empty body when the signature is right and
401 when it is wrong, within 5 seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
import string
import time
from collections.abc import Callable

from local.emulators.common.webhooks import post

ENTROPY_ALPHABET = string.ascii_uppercase


def sign(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def _entropy(rng: random.Random) -> str:
    return "".join(rng.choice(ENTROPY_ALPHABET) for _ in range(20))


def encode(payload: dict) -> bytes:
    # Compact, as Xero sends it; the signature covers these exact bytes.
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


class XeroWebhookBatcher:
    """Turns published events into one signed delivery, numbering events in sequence."""

    def __init__(self, key_source: Callable[[], str], seed: int = 0) -> None:
        self._key_source = key_source
        self._sequence = itertools.count(1)
        self._rng = random.Random(seed)

    def reset(self) -> None:
        self._sequence = itertools.count(1)

    def build(self, events: list[dict]) -> list[tuple[bytes, dict[str, str], dict]]:
        first = last = 0
        for _ in events:
            last = next(self._sequence)
            first = first or last
        payload = {"events": events, "firstEventSequence": first, "lastEventSequence": last,
                   "entropy": _entropy(self._rng)}
        body = encode(payload)
        headers = {"Content-Type": "application/json", "x-xero-signature": sign(self._key_source(), body),
                   "User-Agent": "Xero-Webhooks (emulated)"}
        meta = {"first_sequence": first, "last_sequence": last, "events": len(events)}
        return [(body, headers, meta)]


def intent_to_receive(url: str, key: str, rng: random.Random, timeout: float = 5.0) -> dict:
    """Run Xero's handshake: a correctly signed empty batch must get 200 with an empty body, an
    incorrectly signed one 401, each within `timeout` seconds."""
    checks = []
    for correct in rng.sample([True, False], 2):
        body = encode({"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": _entropy(rng)})
        signature = sign(key, body) if correct else sign(key + "-wrong", body)
        started = time.monotonic()
        status, response, error = post(url, body, {"Content-Type": "application/json", "x-xero-signature": signature},
                                       timeout)
        elapsed = time.monotonic() - started
        expected = 200 if correct else 401
        passed = status == expected and elapsed <= timeout and (not correct or response == b"")
        reason = None
        if error:
            reason = error
        elif status != expected:
            reason = f"expected HTTP {expected}, got {status}"
        elif correct and response != b"":
            reason = "a valid request must be answered with an empty body"
        checks.append({
            "signature": "valid" if correct else "invalid",
            "expected_status": expected,
            "status": status,
            "elapsed_ms": round(elapsed * 1000, 1),
            "passed": passed,
            "reason": reason,
        })
    return {"url": url, "passed": all(check["passed"] for check in checks), "checks": checks}
