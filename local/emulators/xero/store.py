"""Everything the Xero emulator holds; guarded by the emulator's one lock (core.lock)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime

from local.emulators.common import Clock

from . import render
from .config import XeroConfig
from .dates import to_wire
from .defaults import DEMO_TENANT_ID, new_org
from .models import Connection, Org


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: list[str]
    auth_event_id: str
    expires_at: datetime
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    used: bool = False


@dataclass
class AccessToken:
    token: str
    client_id: str
    scope: list[str]
    auth_event_id: str
    issued_at: datetime
    expires_at: datetime


@dataclass
class RefreshToken:
    token: str
    client_id: str
    scope: list[str]
    auth_event_id: str
    issued_at: datetime
    # Set when this token was exchanged; `successor` is the token that exchange returned.
    rotated_at: datetime | None = None
    successor: str | None = None
    revoked: bool = False


@dataclass
class IdempotencyRecord:
    fingerprint: str
    status: int
    body: bytes
    headers: dict[str, str]
    stored_at: datetime


@dataclass
class IdentityState:
    auth_codes: dict[str, AuthCode] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    token_calls: dict[str, int] = field(default_factory=dict)
    token_log: list[dict] = field(default_factory=list)


class XeroStore:
    def __init__(self, config: XeroConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        now = self.clock.now()
        demo = new_org(self.config.demo_org_name, now, tenant_id=DEMO_TENANT_ID)
        self.orgs: dict[str, Org] = {demo.tenant_id: demo}
        # Organisations the authorize endpoint consents to (the demo one, plus any added with connect).
        self.consent_tenants: list[str] = [demo.tenant_id]
        self.identity = IdentityState()
        self.idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self.intent_to_receive_checks: list[dict] = []

    @property
    def demo_tenant_id(self) -> str:
        return DEMO_TENANT_ID

    def add_org(self, name: str, base_currency: str = "GBP", connect: bool = True,
                tenant_id: str | None = None) -> Org:
        org = new_org(name, self.clock.now(), tenant_id=tenant_id.lower() if tenant_id else None,
                      base_currency=base_currency)
        self.orgs[org.tenant_id] = org
        if connect:
            self.consent_tenants.append(org.tenant_id)
            self.connect(org.tenant_id, str(uuid.uuid4()))
        return org

    def connect(self, tenant_id: str, auth_event_id: str) -> Connection:
        """Create or refresh the app's connection to a tenant, as a user consent does."""
        now = self.clock.now()
        for connection in self.identity.connections.values():
            if connection.tenant_id == tenant_id:
                connection.auth_event_id = auth_event_id
                connection.updated = now
                return connection
        connection = Connection(str(uuid.uuid4()), tenant_id, auth_event_id, now, now)
        self.identity.connections[connection.id] = connection
        return connection

    def connected(self, tenant_id: str) -> bool:
        return any(c.tenant_id == tenant_id for c in self.identity.connections.values())

    # state dump ---------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        today = self.clock.now().date()
        orgs = {}
        for tenant_id, org in self.orgs.items():
            orgs[tenant_id] = to_wire({
                "tenantId": tenant_id,
                "name": org.name,
                "baseCurrency": org.base_currency,
                "currencies": {code: rate for code, rate in org.currencies.items()},
                "contacts": [render.contact(org, c, today) for c in org.contacts.values()],
                "invoices": [render.invoice(org, i, unitdp=4) for i in org.invoices.values()],
                "payments": [render.payment(org, p) for p in org.payments.values()],
            })
        identity = self.identity
        return {
            "orgs": orgs,
            "consentTenants": list(self.consent_tenants),
            "identity": {
                "token_calls": dict(identity.token_calls),
                "token_log": list(identity.token_log),
                "connections": [asdict(c) for c in identity.connections.values()],
                "auth_codes": [asdict(c) for c in identity.auth_codes.values()],
                "access_tokens": [asdict(t) for t in identity.access_tokens.values()],
                "refresh_tokens": [asdict(t) for t in identity.refresh_tokens.values()],
            },
            "idempotency": [
                {"tenantId": tenant, "key": key, "status": record.status, "stored_at": record.stored_at}
                for (tenant, key), record in self.idempotency.items()
            ],
            "intent_to_receive_checks": list(self.intent_to_receive_checks),
        }

