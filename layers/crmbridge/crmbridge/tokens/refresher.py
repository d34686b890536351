"""The scheduled refresh: every authorisation whose access token nears expiry gets a new set, once for
all the tenants it covers.

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
    """Each authorisation once, however many tenants it covers; the report lists tenants."""
    report = RefreshReport()
    now = manager.clock()
    for auth in manager.store.authorisations():
        tenants = list(auth.tenant_ids)
        if auth.status != "CONNECTED":
            report.disconnected.extend(tenants)
            continue
        due = (auth.access_expires_at - now < REFRESH_WITHIN_SECONDS
               or now - auth.refreshed_at > REFRESH_AT_LEAST_EVERY_SECONDS)
        if not due:
            report.fresh.extend(tenants)
            continue
        try:
            manager.refresh_authorisation(auth.key, stale_version=auth.version)
            report.refreshed.extend(tenants)
        except TenantNotConnectedError:
            report.disconnected.extend(tenants)
        except RetryableError:
            report.failed.extend(tenants)  # the next run, minutes away, tries again
    return report
