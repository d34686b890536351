"""Leakage decisions over fakes of the CRM and Xero and moto's links table: what counts as a won deal
without an invoice, an invoice without a deal, and an amount that differs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from moto import mock_aws

from crmbridge.config import Settings
from crmbridge.crm.models import CrmLine
from crmbridge.mapping.config import MappingConfig
from crmbridge.ops.backfill import Backfill
from crmbridge.ops.golive import GoLive
from crmbridge.ops.leakage import Leakage
from crmbridge.ops.throttle import Throttle
from crmbridge.sync.links import Links
from tests.unit.test_ops_fakes import TENANT, WON, FakeCrm, FakeXero, links_table


@pytest.fixture
def world() -> Iterator[tuple[FakeCrm, FakeXero, GoLive]]:
    with mock_aws():
        crm, xero = FakeCrm(3), FakeXero()
        golive = GoLive(target=None, settings=Settings(), crm=crm, xero=xero, links=Links(links_table()),  # type: ignore[arg-type]
                        mapping=MappingConfig(default_account_code="200"), tenant_id=TENANT)
        Backfill(golive, Throttle(sleep=lambda s: None)).run()
        yield crm, xero, golive


def findings(golive: GoLive, **options) -> list[tuple[str, str | None]]:
    report = Leakage(golive, clock=lambda: WON + timedelta(days=1), **options).run()
    return sorted((f.kind, f.deal_id) for f in report.findings)


def reprice(crm: FakeCrm, deal_id: str, price: str) -> None:
    """The salesperson changes the deal's line after it was invoiced."""
    line = CrmLine(name="Support", quantity=Decimal(1), unit_price=Decimal(price), tax_percent=Decimal(20),
                   tax_method="exclusive")
    crm.deals[deal_id] = crm.deals[deal_id].model_copy(update={"lines": [line]})


def test_invoiced_deals_leak_nothing(world):
    _, _, golive = world
    assert findings(golive) == []


def test_a_won_deal_without_an_invoice_is_found(world):
    crm, _, golive = world
    crm.deals["4"] = crm.deals["1"].model_copy(update={"id": "4"})
    assert findings(golive) == [("won_without_invoice", "4")]


def test_a_deal_whose_invoice_was_voided_has_no_invoice(world):
    _, xero, golive = world
    xero.invoices[0] = xero.invoices[0].model_copy(update={"status": "VOIDED"})
    assert findings(golive) == [("won_without_invoice", xero.invoices[0].reference)]


def test_an_invoice_whose_deal_was_lost_is_found(world):
    crm, _, golive = world
    crm.deals["2"] = crm.deals["2"].model_copy(update={"status": "lost"})
    assert findings(golive) == [("invoice_without_deal", "2")]


def test_a_deal_repriced_after_invoicing_differs_in_amount(world):
    crm, _, golive = world
    reprice(crm, "3", "150")
    report = Leakage(golive, clock=lambda: WON + timedelta(days=1)).run()
    [finding] = report.findings
    assert (finding.kind, finding.deal_id, finding.deal_amount, finding.invoice_amount) == \
        ("amount_mismatch", "3", Decimal("180.00"), Decimal("120.0"))


def test_a_difference_within_the_tolerance_is_not_a_finding(world):
    crm, _, golive = world
    reprice(crm, "3", "100.01")
    assert findings(golive, tolerance=Decimal("0.05")) == []
    assert findings(golive, tolerance=Decimal("0.001")) == [("amount_mismatch", "3")]


def test_deals_won_within_the_grace_period_are_left_to_the_live_sync(world):
    crm, _, golive = world
    crm.deals["4"] = crm.deals["1"].model_copy(update={"id": "4", "won_time": WON + timedelta(hours=23, minutes=30)})
    assert findings(golive) == []
    assert findings(golive, grace=timedelta(0)) == [("won_without_invoice", "4")]
