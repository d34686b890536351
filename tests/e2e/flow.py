"""Drivers shared by the end-to-end flows: a connected local stack, deals seeded in Pipedrive,
invoices read from Xero. The people around the bridge act through the emulators, as in the demo.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import boto3
import httpx

from local.demo import Pipedrive, Report, Urls, Xero, connect_xero, wait_for
from local.stack import LocalStack


@contextmanager
def running_flow(**stack_options: Any) -> Iterator[dict[str, Any]]:
    """The local stack with Xero connected through the real callback, and drivers for both emulators."""
    with LocalStack.ephemeral(visibility_timeout=2, schedule_speedup=0, **stack_options) as stack:
        urls = Urls(gateway=stack.urls["gateway"], xero=stack.urls["xero"], pipedrive=stack.urls["pipedrive"])
        with open(os.devnull, "w") as discard:
            connect_xero(urls, Report(out=discard))
        xero = Xero(urls.xero)
        xero.sign_in()
        # The bridge and these tests share one Pipedrive token: lift the burst limit for the tests' reads.
        httpx.post(f"{urls.pipedrive}/_emulator/ratelimit", json={"burst_limit": 100000}, timeout=5)
        # Many deals a minute, and the tests read Xero too: the per-minute limit is not under test here.
        httpx.post(f"{urls.xero}/_emulator/limits", json={"minute": 100000}, timeout=5)
        yield {"stack": stack, "urls": urls, "pipedrive": Pipedrive(urls.pipedrive), "xero": xero}


def seed_deal(pipedrive: Pipedrive, *, org: dict | None = None, person_email: str | None = None,
              lines: list[dict] | None = None, currency: str = "GBP", value: float = 0,
              status: str = "open") -> tuple[int, int | None]:
    ref = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {"deals": [{"ref": "d", "title": f"Deal {ref}", "currency": currency, "value": value,
                                       "status": status, "products": lines or []}]}
    if org is not None:
        body["organizations"] = [{"ref": "o", **org}]
        body["deals"][0]["org_ref"] = "o"
    if person_email:
        body["persons"] = [{"ref": "p", "name": "Pat Buyer", "emails": [{"value": person_email, "primary": True}]}]
        body["deals"][0]["person_ref"] = "p"
    body["products"] = []
    for index, item in enumerate(lines or []):
        body["products"].append({"ref": f"p{index}", "name": item.pop("name"), "code": item.pop("code", None)})
        item["product_ref"] = f"p{index}"
    refs = pipedrive.seed(body)["refs"]
    return refs["deals"]["d"], refs["organizations"].get("o")


def win(flow: dict, deal_id: int) -> None:
    flow["pipedrive"].app_update_deal(deal_id, {"status": "won"})


def invoice_number(flow: dict, deal_id: int) -> str:
    pipedrive = flow["pipedrive"]
    return wait_for(f"deal {deal_id} invoice number",
                    lambda: pipedrive.custom(pipedrive.deal(deal_id), "deal", "Xero invoice number"), timeout=30)


def sync_record(flow: dict, deal_id: int) -> dict[str, Any] | None:
    table = boto3.resource("dynamodb").Table(flow["stack"].table_name("LinksTable"))
    return table.get_item(Key={"pk": f"deal#pipedrive#{deal_id}", "sk": "sync"}).get("Item")


def line(price: str, qty: int = 1, *, tax: int = 20, method: str = "exclusive", **extra) -> dict:
    return {"name": extra.pop("name", "Service"), "code": extra.pop("code", None), "item_price": float(price), "quantity": qty, "tax": tax,
            "tax_method": method, **extra}


ACME = {"name": "Acme Ltd", "address": {"value": "1 High St, London", "country": "United Kingdom"}}


def the_invoice(flow: dict, deal_id: int) -> dict[str, Any]:
    [found] = flow["xero"].invoices(str(deal_id))
    return flow["xero"].invoice(found["InvoiceID"])


def totals(invoice: dict) -> tuple[Decimal, Decimal, Decimal]:
    return tuple(Decimal(str(invoice[k])) for k in ("SubTotal", "TotalTax", "Total"))  # type: ignore[return-value]
