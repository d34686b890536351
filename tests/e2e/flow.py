"""Drivers shared by the end-to-end flows: a connected local stack running with one CRM, deals seeded
in that CRM, invoices read from Xero. The people around the bridge act through the emulators, as in the
demo; flow["crm"] is the stack's CRM (local.demo.CrmDriver), so one test runs against either CRM.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import boto3
import httpx
import pytest

from local.demo import CrmDriver, HubSpot, Pipedrive, Report, Urls, Xero, connect_xero, crm_driver, wait_for
from local.stack import LocalStack

CRMS = ("pipedrive", "hubspot")


@contextmanager
def running_flow(crm: str = "pipedrive", **stack_options: Any) -> Iterator[dict[str, Any]]:
    """The local stack running with `crm` (its CrmProvider), Xero connected through the real callback, and
    drivers for the emulators: flow["crm"] is the stack's CRM."""
    with LocalStack.ephemeral(visibility_timeout=2, schedule_speedup=0, parameters={"CrmProvider": crm},
                              **stack_options) as stack:
        urls = Urls(gateway=stack.urls["gateway"], xero=stack.urls["xero"], pipedrive=stack.urls["pipedrive"],
                    hubspot=stack.urls.get("hubspot"))
        with open(os.devnull, "w") as discard:
            connect_xero(urls, Report(out=discard))
        xero = Xero(urls.xero)
        xero.sign_in()
        # The bridge and these tests share one Pipedrive token: lift the burst limit for the tests' reads.
        httpx.post(f"{urls.pipedrive}/_emulator/ratelimit", json={"burst_limit": 100000}, timeout=5)
        if urls.hubspot:
            httpx.post(f"{urls.hubspot}/_emulator/ratelimit", json={"max_per_interval": 100000}, timeout=5)
        # Many deals a minute, and the tests read Xero too: the per-minute limit is not under test here.
        httpx.post(f"{urls.xero}/_emulator/limits", json={"minute": 100000}, timeout=5)
        yield {"stack": stack, "urls": urls, "crm": crm_driver(crm, urls), "pipedrive": Pipedrive(urls.pipedrive),
               "hubspot": HubSpot(urls.hubspot) if urls.hubspot else None, "xero": xero}


def only(flow: dict, crm: str) -> None:
    """For behaviour one CRM has and the other has not: the test is skipped on the other."""
    if flow["crm"].name != crm:
        pytest.skip(f"{crm} only")


def seed_deal(crm: CrmDriver, **deal: Any) -> tuple[Any, Any]:
    """A deal in the CRM (see CrmDriver.seed_deal): (deal id, organisation id or None)."""
    return crm.seed_deal(**deal)


def win(flow: dict, deal_id: Any) -> None:
    flow["crm"].win(deal_id)


def invoice_number(flow: dict, deal_id: Any) -> str:
    return wait_for(f"deal {deal_id} invoice number", lambda: flow["crm"].deal_field(deal_id, "invoice_number"),
                    timeout=30)


def sync_record(flow: dict, deal_id: Any) -> dict[str, Any] | None:
    table = boto3.resource("dynamodb").Table(flow["stack"].table_name("LinksTable"))
    return table.get_item(Key={"pk": f"deal#{flow['crm'].name}#{deal_id}", "sk": "sync"}).get("Item")


def line(price: str, qty: int = 1, *, tax: int = 20, method: str = "exclusive", **extra) -> dict:
    """A deal line as CrmDriver.seed_deal takes it (Pipedrive's shape; the HubSpot driver translates it)."""
    return {"name": extra.pop("name", "Service"), "code": extra.pop("code", None), "item_price": float(price), "quantity": qty, "tax": tax,
            "tax_method": method, **extra}


ACME = {"name": "Acme Ltd", "address": {"value": "1 High St, London", "country": "United Kingdom"}}


def the_invoice(flow: dict, deal_id: int) -> dict[str, Any]:
    [found] = flow["xero"].invoices(str(deal_id))
    return flow["xero"].invoice(found["InvoiceID"])


def totals(invoice: dict) -> tuple[Decimal, Decimal, Decimal]:
    return tuple(Decimal(str(invoice[k])) for k in ("SubTotal", "TotalTax", "Total"))  # type: ignore[return-value]
