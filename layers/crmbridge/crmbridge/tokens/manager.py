"""Fresh access tokens for every caller, with exactly one refresh per authorisation at a time.

One consent covering several organisations has one token set: every tenant of it refreshes that one
set, under its one lease (refreshing per tenant would rotate the token under the other tenants' feet).

Xero refresh tokens rotate on every use, and two concurrent refreshes of one token set end in
invalid_grant. So a refresh happens only under a lease (a conditional write on the connection's
item); everyone else waits for the holder's result and uses it. The old refresh token is replaced
only after the new set is stored: if the token endpoint's answer is lost (timeout, crash), the next
attempt reuses the stored token, which Xero accepts again within its 30-minute grace period.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from crmbridge.errors import RetryableError
from crmbridge.tokens.store import StoredAuthorisation, StoredConnection, TokenStore
from crmbridge.xero.identity import InvalidGrantError, XeroIdentity

logger = Logger(child=True)

# Refresh this long before the access token's expiry, so no call starts with a token about to die.
ACCESS_TOKEN_SKEW_SECONDS = 120


class TenantNotConnectedError(RetryableError):
    """No usable token set for this tenant: work for it waits (parked) until someone reconnects."""

    def __init__(self, tenant_id: str, why: str) -> None:
        # Parked for an hour at a time: reconnecting takes a person, and nothing is lost meanwhile.
        super().__init__(f"Xero tenant {tenant_id} is not connected: {why}", retry_after_seconds=3600)
        self.tenant_id = tenant_id


@dataclass
class TokenManager:
    store: TokenStore
    identity: XeroIdentity
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    lease_seconds: int = 20
    wait_seconds: float = 25.0
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    on_metric: Callable[[str, float], None] = lambda name, value: None

    def access_token(self, tenant_id: str) -> str:
        connection = self._connected(tenant_id)
        if connection.access_expires_at - ACCESS_TOKEN_SKEW_SECONDS > self.clock():
            return connection.access_token
        return self.refresh(tenant_id, stale_version=connection.version).access_token

    def expired(self, tenant_id: str, token: str) -> None:
        """Xero refused a token we thought valid: refresh it now, unless someone already has."""
        connection = self._connected(tenant_id)
        if connection.access_token == token:
            self.refresh(tenant_id, stale_version=connection.version)

    def refresh(self, tenant_id: str, *, stale_version: int | None = None) -> StoredConnection:
        """Refresh the tenant's authorisation (shared by every tenant of its consent); the tenant's view."""
        key = self.store.authorisation_key(tenant_id)
        if key is None:
            raise TenantNotConnectedError(tenant_id, "no token set stored")
        self.refresh_authorisation(key, stale_version=stale_version)
        return self._connected(tenant_id)

    def refresh_authorisation(self, key: str, *, stale_version: int | None = None) -> StoredAuthorisation:
        """Refresh under the lease; if another holder refreshes first, return its result.

        stale_version: the version the caller found too old; a newer stored version is the result.
        """
        deadline = self.clock() + self.wait_seconds
        while True:
            auth = self._usable(key)
            if stale_version is not None and auth.version > stale_version:
                return auth
            now = int(self.clock())
            if self.store.acquire_lease(key, self.owner, now=now, until=now + self.lease_seconds):
                # Re-read under the lease: the previous holder may have stored a new set between our
                # read and our lease, and its refresh token is the only one still valid.
                current = self._usable(key)
                if stale_version is not None and current.version > stale_version:
                    self.store.release_lease(key, self.owner)
                    return current
                return self._refresh_holding_lease(current)
            if self.clock() > deadline:
                raise RetryableError(f"token refresh for {_who(auth)} still held by another worker",
                                     retry_after_seconds=5)
            self.sleep(0.1)

    def _refresh_holding_lease(self, auth: StoredAuthorisation) -> StoredAuthorisation:
        key = auth.key
        try:
            tokens = self.identity.refresh(auth.refresh_token)
        except InvalidGrantError:
            self.store.mark_disconnected(key, "invalid_grant: authorise the connection again")
            self.on_metric("TokenRefreshFailures", 1)
            logger.error("Xero refresh token refused: connection marked disconnected",
                         extra={"authorisation": key, "tenant_ids": list(auth.tenant_ids)})
            raise TenantNotConnectedError(_who(auth), "refresh token refused (invalid_grant)") from None
        except BaseException:
            # The stored refresh token is untouched and stays valid within Xero's grace period.
            self.store.release_lease(key, self.owner)
            self.on_metric("TokenRefreshFailures", 1)
            raise
        now = int(self.clock())
        saved = self.store.save_refreshed(
            key, self.owner, access_token=tokens.access_token, refresh_token=tokens.refresh_token,
            access_expires_at=now + tokens.expires_in, refreshed_at=now,
        )
        if not saved:
            # Our lease expired mid-call and someone else refreshed: theirs is the current set.
            raise RetryableError(f"token refresh for {_who(auth)} lost its lease", retry_after_seconds=1)
        self.on_metric("TokenRefreshes", 1)
        logger.info("Xero tokens refreshed", extra={"authorisation": key, "tenant_ids": list(auth.tenant_ids)})
        refreshed = self.store.get_authorisation(key)
        assert refreshed is not None
        return refreshed

    def _usable(self, key: str) -> StoredAuthorisation:
        auth = self.store.get_authorisation(key)
        if auth is None:
            raise TenantNotConnectedError(key, "no token set stored")
        if auth.status != "CONNECTED":
            raise TenantNotConnectedError(_who(auth), auth.status_reason or "disconnected")
        return auth

    def _connected(self, tenant_id: str) -> StoredConnection:
        connection = self.store.get(tenant_id)
        if connection is None:
            raise TenantNotConnectedError(tenant_id, "no token set stored")
        if connection.status != "CONNECTED":
            raise TenantNotConnectedError(tenant_id, connection.status_reason or "disconnected")
        return connection


def _who(auth: StoredAuthorisation) -> str:
    """The tenants an authorisation covers, for messages (its key when none is known)."""
    return ", ".join(auth.tenant_ids) or auth.key
