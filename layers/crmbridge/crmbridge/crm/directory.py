"""The CRM as go-live tooling reads it in bulk: won deals in a period, organisations, persons, products.

The sync reads one deal at a time through `crm.base.Crm`; the audit, the backfill and the leakage
report list many records at once through this interface instead, page by page, so that a thousand
deals cost tens of CRM calls, not thousands. A CRM module implements both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from crmbridge.crm.base import Crm
from crmbridge.crm.models import CrmAddress, CrmDeal, CrmOrganisation


class _Listed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class DealSummary(_Listed):
    """A deal as a listing returns it: enough to choose, count and compare, without its lines."""

    id: str
    title: str
    status: str
    value: Decimal
    currency: str
    won_time: datetime | None = None
    organisation_id: str | None = None
    person_id: str | None = None
    invoice_id: str | None = None  # the Xero invoice the bridge wrote back onto the deal, if any


class ListedPerson(_Listed):
    id: str
    name: str | None = None
    email: str | None = None
    organisation_id: str | None = None


class ListedProduct(_Listed):
    id: str
    name: str
    code: str | None = None


class CrmDirectory(Protocol):
    name: str

    def won_deals(self, *, won_from: datetime | None = None, won_to: datetime | None = None) -> Iterator[DealSummary]:
        """Deals whose status is won and whose won time is in [won_from, won_to), oldest id first."""
        ...

    def read_deals(self, deal_ids: Sequence[str]) -> list[CrmDeal]:
        """Several deals with their lines, organisation and person, in as few calls as the CRM allows;
        deals that no longer exist are left out."""
        ...

    def organisations(self) -> Iterator[CrmOrganisation]: ...

    def persons(self) -> Iterator[ListedPerson]: ...

    def products(self) -> Iterator[ListedProduct]: ...


class GoLiveCrm(Crm, CrmDirectory, Protocol):
    """What the go-live commands use of a CRM: the sync's interface, the directory, and the bridge's fields
    (a backfill makes sure they exist before any invoice does)."""

    field_entities: tuple[str, ...]

    def field_codes(self, entity: str) -> dict[str, str]: ...


__all__ = ["CrmAddress", "CrmDirectory", "DealSummary", "GoLiveCrm", "ListedPerson", "ListedProduct"]
