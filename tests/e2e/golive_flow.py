"""Drivers for the go-live tests and the backfill benchmark: bridgectl in-process against the local
stack, won deals seeded in bulk, Xero's data and clock read and moved through the emulator.

`measure_backfill_throughput()` is the benchmark (bench/ calls it): a backfill against the Xero
emulator's real limits (60 calls a minute per organisation) on a moved clock, where the throttle's
waits advance the emulator clock instead of sleeping, so minutes of Xero time pass in seconds.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import httpx
import pytest

from crmbridge.ops.backfill import Backfill
from crmbridge.ops.cli import run_cli
from crmbridge.ops.golive import golive
from crmbridge.ops.target import local_target
from crmbridge.ops.throttle import Throttle
from local.credentials import credential

SEED_CHUNK = 500


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


def bridgectl(flow: dict[str, Any], *args: str, code: int | None = 0) -> Ran:
    """bridgectl in this process against the flow's stack, with its own output streams."""
    env = {"AWS_ENDPOINT_URL": flow["stack"].urls["moto"], "COLUMNS": "200"}
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env):
        os.environ.pop("BRIDGE_STACK", None)
        result = Ran(run_cli(list(args), stdout=out, stderr=err), out.getvalue(), err.getvalue())
    if code is not None:
        assert result.code == code, f"bridgectl {' '.join(args)} -> {result.code}\n{result.stdout}\n{result.stderr}"
    return result


def bridgectl_json(flow: dict[str, Any], *args: str, code: int | None = 0) -> Any:
    return json.loads(bridgectl(flow, *args, "--json", code=code).stdout)


# ----------------------------------------------------------------------------- Pipedrive


def seed(flow: dict[str, Any], body: dict[str, Any], *, crm: str = "pipedrive") -> dict[str, Any]:
    """Records seeded in the CRM's emulator (Pipedrive unless `crm` says), silently; the refs it created."""
    response = httpx.post(f"{getattr(flow['urls'], crm)}/_emulator/seed", json=body, timeout=120)
    response.raise_for_status()
    return response.json()["refs"]


def seed_won_deals(flow: dict[str, Any], count: int, *, won_time: str = "2026-03-02T10:00:00Z",
                   organisations: int = 50, price: float = 100.0) -> list[str]:
    """`count` won deals with one line each, spread over `organisations` organisations with a billing
    address, seeded silently (no webhooks: history that happened before the bridge)."""
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    orgs = [{"ref": f"o{i}", "name": f"Backfill Customer {tag}-{i} Ltd",
             "address": {"value": f"{i} Market St, Leeds", "country": "United Kingdom"}}
            for i in range(organisations)]
    org_refs = seed(flow, {"organizations": orgs, "products": [{"ref": "p", "name": "Subscription", "code": "SUB"}]})
    product_id = org_refs["products"]["p"]
    ids: list[str] = []
    for start in range(0, count, SEED_CHUNK):
        deals = [{"ref": f"d{i}", "title": f"Backfill deal {tag}-{i}", "currency": "GBP", "status": "won",
                  "won_time": won_time, "org_id": org_refs["organizations"][f"o{i % organisations}"],
                  "products": [{"product_id": product_id, "item_price": price, "quantity": 1, "tax": 20,
                                "tax_method": "exclusive"}]}
                 for i in range(start, min(count, start + SEED_CHUNK))]
        refs = seed(flow, {"deals": deals})["deals"]
        ids.extend(str(refs[d["ref"]]) for d in deals)
    return ids


def pipedrive_state(flow: dict[str, Any]) -> dict[str, Any]:
    state = httpx.get(f"{flow['urls'].pipedrive}/_emulator/state", timeout=60).json()
    return {k: v for k, v in state.items() if k in ("deals", "organizations", "persons", "products", "deal_products",
                                                    "fields", "notes")}


def pipedrive_api(flow: dict[str, Any], method: str, path: str, **kwargs: Any) -> Any:
    """Pipedrive's API with the integration user's token (as the bridge calls it)."""
    response = httpx.request(method, f"{flow['urls'].pipedrive}{path}", timeout=10,
                             headers={"x-api-token": credential("PIPEDRIVE_API_TOKEN")}, **kwargs)
    response.raise_for_status()
    return response.json().get("data")


def win_with_webhook_dropped(flow: dict[str, Any], deal_id: str) -> None:
    """A salesperson wins the deal, and its webhook never arrives: the delivery is held, then the
    subscription is removed (as Pipedrive removes a webhook after days of failures), which drops it;
    the bridge's subscription is registered again afterwards, as an operator would."""
    base = flow["urls"].pipedrive
    hooks = pipedrive_api(flow, "GET", "/v1/webhooks")
    httpx.post(f"{base}/_emulator/webhooks", json={"enabled": False}, timeout=5).raise_for_status()
    flow["pipedrive"].app_update_deal(int(deal_id), {"status": "won"})
    for hook in hooks:
        pipedrive_api(flow, "DELETE", f"/v1/webhooks/{hook['id']}")
    for hook in hooks:
        pipedrive_api(flow, "POST", "/v1/webhooks", json={
            "subscription_url": hook["subscription_url"], "event_action": hook["event_action"],
            "event_object": hook["event_object"], "name": hook.get("name") or "bridge", "version": "2.0",
            "http_auth_user": credential("PIPEDRIVE_WEBHOOK_USER"),
            "http_auth_password": credential("PIPEDRIVE_WEBHOOK_PASSWORD")})
    httpx.post(f"{base}/_emulator/webhooks", json={"enabled": True}, timeout=5).raise_for_status()
    deliveries = httpx.get(f"{base}/_emulator/webhooks", timeout=5).json()["deliveries"]
    assert any(d.get("state") == "dropped" for d in deliveries), "the won deal's webhook was not dropped"


def change_line_price(flow: dict[str, Any], deal_id: str, price: float) -> None:
    """The salesperson edits the deal's first line after it was invoiced."""
    [item, *_] = pipedrive_api(flow, "GET", f"/api/v2/deals/{deal_id}/products")
    response = httpx.patch(f"{flow['urls'].pipedrive}/_emulator/app/deals/{deal_id}/products/{item['id']}",
                           json={"item_price": price}, timeout=10)
    response.raise_for_status()


# ----------------------------------------------------------------------------- HubSpot


def hubspot_seed(flow: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return seed(flow, body, crm="hubspot")


def seed_won_hubspot_deals(flow: dict[str, Any], count: int, *, won_time: str = "2026-03-02T10:00:00Z",
                           companies: int = 50, price: float = 100.0) -> list[str]:
    """`count` deals closed won at `won_time` with one taxed line each, spread over `companies` companies
    with an address: history from before the bridge (seeded silently, as seed_won_deals does in Pipedrive)."""
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    refs = hubspot_seed(flow, {"companies": [
        {"ref": f"c{i}", "properties": {"name": f"Backfill Customer {tag}-{i} Ltd", "address": f"{i} Market St",
                                        "city": "Leeds", "country": "United Kingdom"}} for i in range(companies)]})
    ids: list[str] = []
    for start in range(0, count, SEED_CHUNK):
        deals = [{"ref": f"d{i}", "company": refs["companies"][f"c{i % companies}"],
                  "properties": {"dealname": f"Backfill deal {tag}-{i}", "dealstage": "closedwon", "closedate": won_time,
                                 "deal_currency_code": "GBP"},
                  "line_items": [{"properties": {"name": "Subscription", "hs_sku": "SUB", "price": str(price),
                                                 "quantity": "1", "hs_tax_rate": "20"}}]}
                 for i in range(start, min(count, start + SEED_CHUNK))]
        seeded = hubspot_seed(flow, {"deals": deals})["deals"]
        ids.extend(seeded[d["ref"]] for d in deals)
    return ids


def hubspot_deal(flow: dict[str, Any], deal_id: str, *properties: str) -> dict[str, Any]:
    """A deal's properties as HubSpot holds them (read with the emulator's other app token)."""
    return flow["hubspot"].read("deals", deal_id, *properties)


# ----------------------------------------------------------------------------- Xero


@pytest.fixture(name="quiet_xero")
def quiet_xero_fixture(flow: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Xero's webhooks off (the worker would re-read every created invoice), back on afterwards; a test
    module takes it with `quiet_xero = quiet_xero_fixture`."""
    xero_control(flow, "webhooks", {"enabled": False})
    yield flow
    xero_control(flow, "webhooks", {"enabled": True})
    xero_control(flow, "faults", {"clear": True})


def xero_state(flow: dict[str, Any]) -> dict[str, Any]:
    return httpx.get(f"{flow['urls'].xero}/_emulator/state", timeout=60).json()


def xero_org(flow: dict[str, Any]) -> dict[str, Any]:
    """The connected organisation's data (contacts, invoices, payments) as the emulator holds it."""
    orgs = xero_state(flow)["xero"]["orgs"]
    tenant = flow["xero"].tenant
    return orgs[tenant] if isinstance(orgs, dict) else next(o for o in orgs if o.get("tenant_id") == tenant)


def xero_invoices(flow: dict[str, Any]) -> list[dict[str, Any]]:
    invoices = xero_org(flow)["invoices"]
    return list(invoices.values()) if isinstance(invoices, dict) else invoices


def xero_control(flow: dict[str, Any], path: str, body: Any) -> Any:
    response = httpx.post(f"{flow['urls'].xero}/_emulator/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def moved_clock(xero_url: str) -> tuple[Callable[[], float], Callable[[float], None]]:
    """(clock, sleep) on the Xero emulator's clock: sleeping advances it instead of waiting."""
    def clock() -> float:
        now = httpx.get(f"{xero_url}/_emulator/clock", timeout=5).json()["now"]
        return datetime.fromisoformat(now.replace("Z", "+00:00")).timestamp()

    def sleep(seconds: float) -> None:
        httpx.post(f"{xero_url}/_emulator/clock", json={"advance": seconds}, timeout=5).raise_for_status()

    return clock, sleep


def count_invoice_requests(golive_obj: Any) -> dict[str, int]:
    """Counts every request the go-live Xero client sends, by kind, on its own httpx client."""
    counts = {"create": 0, "other": 0}

    def hook(request: httpx.Request) -> None:
        if "/Invoices" in request.url.path and request.method in ("PUT", "POST"):
            counts["create"] += 1
        elif "/api.xro/" in request.url.path:
            counts["other"] += 1

    golive_obj.xero._http.event_hooks["request"].append(hook)
    return counts


# ----------------------------------------------------------------------------- the benchmark


def measure_backfill_throughput(deals: int = 3000, *, minute_reserve: int = 0) -> dict[str, Any]:
    """Backfill `deals` won deals on a fresh local stack against the Xero emulator's real limits
    (60 calls/minute, 5,000/day per organisation) on a moved clock; invoices per tenant-minute."""
    from tests.e2e.flow import running_flow

    with running_flow() as flow:
        xero_url = flow["urls"].xero
        # Xero's events about the new invoices cost the worker no Xero call (tests/unit/test_xero_events.py); off,
        # they leave this machine's two cores to the backfill, whose pace against Xero's limits is measured.
        xero_control(flow, "webhooks", {"enabled": False})
        xero_control(flow, "limits", {"minute": 60, "day": 5000, "concurrent": 5})
        # The CRM's daily budget is not what is measured (writing back 5,000 deals costs 25,000 tokens).
        httpx.post(f"{flow['urls'].pipedrive}/_emulator/ratelimit", json={"daily_budget": 10_000_000},
                   timeout=5).raise_for_status()
        seed_won_deals(flow, deals)
        clock, sleep = moved_clock(xero_url)
        throttle = Throttle(clock=clock, sleep=sleep, minute_reserve=minute_reserve)
        target = local_target({"AWS_ENDPOINT_URL": flow["stack"].urls["moto"], **os.environ})
        bridge = golive(target, on_response=throttle.observe, before_request=throttle.before_call)
        started, real_started = clock(), time.monotonic()
        report = Backfill(bridge, throttle).run()
        elapsed, real = clock() - started, time.monotonic() - real_started
        limits = httpx.get(f"{xero_url}/_emulator/state", timeout=60).json()["rate_limits"]
        return {
            "deals": deals,
            "invoices_created": report.created,
            "create_requests": report.create_requests,
            "xero_calls": report.xero_calls,
            "rate_limited_429": sum(limits.get("rejections", {}).values()),
            "tenant_minutes": round(elapsed / 60, 3),
            "waited_seconds": round(report.waited_seconds, 1),
            "real_seconds": round(real, 1),
            "backfill_invoices_per_tenant_minute": round(report.created / (elapsed / 60), 1) if elapsed else None,
            "stopped": report.stopped,
        }


if __name__ == "__main__":
    import sys

    sys.stdout.write(json.dumps(measure_backfill_throughput(int(os.environ.get("BACKFILL_DEALS", "3000"))), indent=2) + "\n")
