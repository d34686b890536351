"""Connecting a Xero organisation: the authorization URL with a signed, expiring, single-use state,
and the callback that exchanges the code and stores one token set for the organisations of its consent.
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
from crmbridge.tokens.store import TokenStore
from crmbridge.xero.identity import Connection, InvalidGrantError, XeroIdentity, authentication_event_id

STATE_TTL_SECONDS = 600


class ConnectRefused(BridgeError):
    """The callback cannot connect anything (the operator's browser shows why, with a 400)."""


class StateError(ConnectRefused):
    """The callback's state is missing, forged, expired or used already: store nothing."""


# OAuth 2.0's authorization error codes (RFC 6749 section 4.1.2.1), in words an operator understands.
_XERO_ERRORS = {
    "access_denied": "the consent was declined in Xero, so nothing was connected",
    "invalid_scope": "Xero refused the permissions the bridge asked for (XERO_SCOPES)",
    "unauthorized_client": "Xero does not let this app connect this way: check the app's settings in Xero",
    "invalid_request": "Xero found the connect request malformed",
    "unsupported_response_type": "Xero refused the kind of authorisation the bridge asked for",
    "server_error": "Xero had an error of its own",
    "temporarily_unavailable": "Xero is temporarily unavailable",
}
_DESCRIPTION_LIMIT = 300


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


@dataclass(frozen=True)
class State:
    nonce: str
    expires_at: int


def check_state(key: bytes, state: str | None, *, now: int) -> State:
    if not state or state.count(".") != 1:
        raise StateError("missing or malformed state")
    payload, signature = state.split(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise StateError("state signature does not match")
    try:
        fields = json.loads(_unb64(payload))
        expires, nonce = int(fields["exp"]), str(fields["nonce"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError("state payload unreadable") from exc
    if expires < now:
        raise StateError("state expired: run `bridgectl connect` again and open the new link")
    return State(nonce=nonce, expires_at=expires)


def authorize_url(authorize_endpoint: str, *, client_id: str, redirect_uri: str, scopes: str, state: str) -> str:
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                       "scope": scopes, "state": state})
    return f"{authorize_endpoint}?{query}"


@dataclass(frozen=True)
class Connected:
    tenants: list[tuple[str, str | None]]  # (tenant id, name)
    selected: str | None  # the organisation deals are invoiced to, once one is chosen


def connected_text(connected: Connected) -> str:
    """What the operator reads after consenting: what is connected, and where invoices go."""
    names = dict(connected.tenants)
    listed = ", ".join(f"{name or tenant} ({tenant})" for tenant, name in connected.tenants)
    text = f"The bridge is connected to {listed}. "
    if connected.selected is None:
        return text + ("No organisation is chosen for invoicing yet: pick one with "
                       "`bridgectl tenants use TENANT_ID` (`bridgectl tenants` lists them).")
    chosen = names.get(connected.selected) or connected.selected
    return text + (f"Deals are invoiced to {chosen}; `bridgectl tenants use TENANT_ID` picks another.")


def xero_error_text(error: str, description: str | None) -> str:
    """Xero's own error on the redirect, said plainly (its description cut short: it is not ours)."""
    words = _XERO_ERRORS.get(error, "Xero did not complete the connection")
    text = f"{words} (Xero said: {error}"
    if description:
        text += f", {description.strip()[:_DESCRIPTION_LIMIT]}"
    return text + "). Run `bridgectl connect` again to retry."


def complete_connection(identity: XeroIdentity, store: TokenStore, key: bytes, *, code: str | None,
                        state: str | None, redirect_uri: str, now: int, error: str | None = None,
                        error_description: str | None = None) -> Connected:
    """The callback: verify and use up the state, exchange the code, store this consent's tenants.

    The state is used up before the code is exchanged, so a replayed link is refused even with a code
    of its own. Xero's /connections lists every tenant the app has for the user; only those of this
    consent (their authEventId is the token's authentication_event_id) get this token set.
    """
    if error:
        raise ConnectRefused(xero_error_text(error, error_description))
    checked = check_state(key, state, now=now)
    if not code:
        raise StateError("no authorization code in the callback")
    if not store.consume_state(checked.nonce, expires_at=checked.expires_at):
        raise StateError("this connect link was used already: run `bridgectl connect` again and open the new link")
    try:
        tokens = identity.exchange_code(code, redirect_uri)
    except InvalidGrantError:
        raise ConnectRefused("Xero refused the authorisation code: it was used already or has expired. "
                             "Run `bridgectl connect` again and open the new link.") from None
    consent = authentication_event_id(tokens.access_token)
    connections = [c for c in identity.connections(tokens.access_token, auth_event_id=consent)
                   if c.tenant_type == "ORGANISATION"]
    if consent is None:
        consent = _only_consent(connections)
    connections = [c for c in connections if c.auth_event_id == consent]
    if not connections:
        raise ConnectRefused("the consent in Xero covered no organisation: run `bridgectl connect` again "
                             "and tick the organisation to connect")
    tenants = [(c.tenant_id, c.tenant_name) for c in connections]
    store.connect_authorisation(consent, tenants, access_token=tokens.access_token,
                                refresh_token=tokens.refresh_token, access_expires_at=now + tokens.expires_in,
                                now=now)
    selection = store.selection()
    return Connected(tenants=tenants, selected=selection.tenant_id if selection else None)


def _only_consent(connections: list[Connection]) -> str:
    """Without the token's claim, the consent is known only when every connection shares one."""
    events = {c.auth_event_id for c in connections}
    if len(events) == 1 and None not in events:
        return next(iter(events))  # type: ignore[return-value]
    raise ConnectRefused("Xero's token does not say which consent it belongs to, and the app's connections "
                         "come from several: disconnect the app in Xero from the "
                         "organisations you do not want, then run `bridgectl connect` again")
