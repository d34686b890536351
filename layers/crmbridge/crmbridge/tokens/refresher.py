"""The scheduled refresh: every connected tenant whose access token nears expiry gets a new set.

Running every few minutes keeps access tokens fresh for cold workers, and refreshing at least daily
keeps each refresh token far from Xero's 60-day idle expiry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crmbridge.errors import RetryableError
from crmbridge.tokens.manager import TenantNotConnectedError, TokenManager

REFRESH_WITHIN_SECONDS = 15 * 60
REFRESH_AT_LEAST_EVERY_SECONDS = 24 * 3600


@dataclass
class RefreshReport:
    refreshed: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    disconnected: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def refresh_due(manager: TokenManager) -> RefreshReport:
    report = RefreshReport()
    now = manager.clock()
    for connection in manager.store.all():
        tenant = connection.tenant_id
        if connection.status != "CONNECTED":
            report.disconnected.append(tenant)
            continue
        due = (connection.access_expires_at - now < REFRESH_WITHIN_SECONDS
               or now - connection.refreshed_at > REFRESH_AT_LEAST_EVERY_SECONDS)
        if not due:
            report.fresh.append(tenant)
            continue
        try:
            manager.refresh(tenant, stale_version=connection.version)
            report.refreshed.append(tenant)
        except TenantNotConnectedError:
            report.disconnected.append(tenant)
        except RetryableError:
            report.failed.append(tenant)  # the next run, minutes away, tries again
    return report
