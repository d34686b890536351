"""Connecting a Xero organisation: the authorization URL with a signed, expiring state, and the
callback that exchanges the code and stores one token set per tenant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from crmbridge.errors import BridgeError
from crmbridge.tokens.store import StoredConnection, TokenStore
from crmbridge.xero.identity import XeroIdentity

STATE_TTL_SECONDS = 600


class StateError(BridgeError):
    """The callback's state is missing, forged or expired: store nothing."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def state_key(client_secret: str) -> bytes:
    """A key for signing states, derived from the app secret so there is no other secret to manage."""
    return hmac.new(client_secret.encode(), b"xero-crm-bridge oauth state", hashlib.sha256).digest()


def make_state(key: bytes, *, now: int, ttl: int = STATE_TTL_SECONDS) -> str:
    payload = _b64(json.dumps({"exp": now + ttl, "nonce": secrets.token_urlsafe(12)}, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def check_state(key: bytes, state: str | None, *, now: int) -> None:
    if not state or state.count(".") != 1:
        raise StateError("missing or malformed state")
    payload, signature = state.split(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise StateError("state signature does not match")
    try:
        expires = int(json.loads(_unb64(payload))["exp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError("state payload unreadable") from exc
    if expires < now:
        raise StateError("state expired: start the connection again")


def authorize_url(authorize_endpoint: str, *, client_id: str, redirect_uri: str, scopes: str, state: str) -> str:
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                       "scope": scopes, "state": state})
    return f"{authorize_endpoint}?{query}"


@dataclass(frozen=True)
class Connected:
    tenants: list[tuple[str, str | None]]  # (tenant id, name)


def complete_connection(identity: XeroIdentity, store: TokenStore, key: bytes, *, code: str | None,
                        state: str | None, redirect_uri: str, now: int) -> Connected:
    """The callback: verify state, exchange the code, list tenants, store a token set for each."""
    check_state(key, state, now=now)
    if not code:
        raise StateError("no authorization code in the callback")
    tokens = identity.exchange_code(code, redirect_uri)
    connections = [c for c in identity.connections(tokens.access_token) if c.tenant_type == "ORGANISATION"]
    for connection in connections:
        store.connect(StoredConnection(
            tenant_id=connection.tenant_id, tenant_name=connection.tenant_name,
            access_token=tokens.access_token, refresh_token=tokens.refresh_token,
            access_expires_at=now + tokens.expires_in, refreshed_at=now,
        ))
    return Connected(tenants=[(c.tenant_id, c.tenant_name) for c in connections])
