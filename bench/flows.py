"""The end-to-end figures on the local stack, driven as people would through the emulators.

- Xero calls per invoice: a WSGI wrapper around the Xero emulator counts every request it receives
  (the bench's own finance token excluded), per method and resource. Xero's webhooks are switched
  off while a batch runs, so the Xero -> CRM flow adds nothing and every counted call is the deal-won
  sync's. Cross-checked against the emulator's own rate-limit day counter.
- Deal won -> DRAFT invoice visible in Xero (GET Invoices where Reference, polled), one deal at a
  time, the stack drained between deals. Baseline, interleaved: the same invoice created directly
  with one PUT Invoices and seen by the same poll, i.e. the floor any bridge would have.
- Finance approves in Xero -> the deal's "Xero invoice status" shows AUTHORISED (Pipedrive polled).
  Baseline, interleaved: the bench writes that custom field itself through Pipedrive's API and sees it
  with the same poll.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.stats import summary_ms
from local.demo import Pipedrive, Report, Urls, Xero, connect_xero

POLL_SECONDS = 0.02
API_PREFIX = "/api.xro/2.0/"


class XeroCallCounter:
    """WSGI middleware: counts the emulator's requests by (kind, method resource), skipping control
    endpoints and requests made with an excluded (the bench's own) access token."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.excluded_tokens: set[str] = set()
        self.counts: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_emulator"):
            token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
            if token not in self.excluded_tokens:
                self.counts[_classify(environ.get("REQUEST_METHOD", "GET"), path)] += 1
        return self.app(environ, start_response)

    def snapshot(self) -> Counter[str]:
        return Counter(self.counts)


def _classify(method: str, path: str) -> str:
    if path.startswith(API_PREFIX):
        resource = path[len(API_PREFIX):].split("/", 1)[0]
        return f"api {method} {resource}"
    if path.startswith("/connect/"):
        return "identity " + path
    if path.startswith("/connections"):
        return "connections"
    return f"other {method} {path}"


@dataclass
class Flow:
    stack: Any
    urls: Urls
    pipedrive: Pipedrive
    xero: Xero
    counter: XeroCallCounter
    notes: list[str] = field(default_factory=list)

    def xero_control(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.urls.xero}/_emulator/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def xero_day_count(self) -> int:
        state = httpx.get(f"{self.urls.xero}/_emulator/state", timeout=30).json()
        tenants = (state.get("rate_limits") or {}).get("tenants") or {}
        return sum(int(usage["day"]["count"]) for usage in tenants.values())

    def seed(self, *, org_id: int | None = None, lines: int = 1) -> tuple[int, int]:
        """A deal with `lines` product lines, for a new organisation (with a person's e-mail, so the
        contact resolution goes all the way: by e-mail, by name, then a new contact) or an existing one."""
        tag = uuid.uuid4().hex[:8]
        deal: dict[str, Any] = {"ref": "d", "title": f"Bench deal {tag}", "currency": "GBP", "status": "open",
                                "products": [{"product_ref": f"p{i}", "item_price": 100.0 + i, "quantity": 2,
                                              "tax": 20, "tax_method": "exclusive"} for i in range(lines)]}
        body: dict[str, Any] = {"products": [{"ref": f"p{i}", "name": f"Service {i}", "code": f"SVC{i}"}
                                             for i in range(lines)], "deals": [deal]}
        if org_id is None:
            body["organizations"] = [{"ref": "o", "name": f"Bench {tag} Ltd",
                                      "address": {"value": "1 High St, London", "country": "United Kingdom"}}]
            body["persons"] = [{"ref": "p", "name": f"Buyer {tag}", "org_ref": "o",
                                "emails": [{"value": f"buyer-{tag}@bench.example", "primary": True}]}]
            deal["org_ref"], deal["person_ref"] = "o", "p"
        else:
            deal["org_id"] = org_id
        refs = self.pipedrive.seed(body)["refs"]
        return refs["deals"]["d"], refs["organizations"].get("o", org_id)

    def win(self, deal_id: int) -> None:
        self.pipedrive.app_update_deal(deal_id, {"status": "won"})

    def deal_field(self, deal_id: int, name: str) -> Any:
        return self.pipedrive.custom(self.pipedrive.deal(deal_id), "deal", name)

    def drain(self) -> None:
        self.stack.drain(timeout=60)


def wait_until(probe: Callable[[], Any], *, timeout: float = 30.0, interval: float = POLL_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not seen within {timeout:.0f} s")
        time.sleep(interval)


def connect(stack: Any) -> Flow:
    urls = Urls(gateway=stack.urls["gateway"], xero=stack.urls["xero"], pipedrive=stack.urls["pipedrive"])
    emulator = stack.emulators["xero"].emulator
    counter = XeroCallCounter(emulator.app.wsgi_app)
    emulator.app.wsgi_app = counter
    with open(os.devnull, "w") as discard:
        connect_xero(urls, Report(out=discard))
    xero = Xero(urls.xero)
    xero.sign_in()
    assert xero.token
    counter.excluded_tokens.add(xero.token)
    # Neither limit is what is measured here: the bench's own reads share Pipedrive's token.
    httpx.post(f"{urls.pipedrive}/_emulator/ratelimit", json={"burst_limit": 100000}, timeout=5).raise_for_status()
    httpx.post(f"{urls.xero}/_emulator/limits", json={"minute": 100000}, timeout=5).raise_for_status()
    return Flow(stack, urls, Pipedrive(urls.pipedrive), xero, counter)


# ----------------------------------------------------------------------------- Xero calls per invoice


def _invoice_batch(flow: Flow, deals: list[int]) -> dict[str, Any]:
    flow.drain()
    before, day_before = flow.counter.snapshot(), flow.xero_day_count()
    for deal_id in deals:
        flow.win(deal_id)
    for deal_id in deals:
        wait_until(lambda d=deal_id: flow.deal_field(d, "Xero invoice number"), timeout=60, interval=0.1)
    flow.drain()
    calls = flow.counter.snapshot() - before
    day_delta = flow.xero_day_count() - day_before
    api = {name.removeprefix("api "): count for name, count in calls.items() if name.startswith("api ")}
    other = {name: count for name, count in calls.items() if not name.startswith("api ")}
    invoices = sum(len(flow.xero.invoices(str(d))) for d in deals)
    return {"deals": len(deals), "invoices": invoices, "api_calls": sum(api.values()), "by_call": api,
            "other_calls": other, "emulator_day_counter_delta": day_delta,
            "per_invoice": sum(api.values()) / invoices if invoices else None}


def calls_per_invoice(flow: Flow, *, batch: int = 10) -> dict[str, Any]:
    flow.xero_control("webhooks", {"enabled": False})
    try:
        seeded = [flow.seed() for _ in range(batch)]
        new_contact = _invoice_batch(flow, [deal for deal, _ in seeded])
        linked = [org for _, org in seeded
                  if flow.pipedrive.custom(flow.pipedrive.organisation(org), "organization", "Xero contact ID")]
        steady = _invoice_batch(flow, [flow.seed(org_id=org)[0] for org in linked])
    finally:
        flow.xero_control("webhooks", {"enabled": True})
    steady["organisations_linked_before"] = len(linked)
    return {"new_contact": new_contact, "steady": steady}


# ----------------------------------------------------------------------------- latencies


def _visible_draft(flow: Flow, reference: str) -> dict[str, Any] | None:
    found = [i for i in flow.xero.invoices(reference) if i.get("Status") == "DRAFT"]
    return found[0] if found else None


def _direct_invoice(flow: Flow) -> float:
    """The floor: one PUT Invoices made by the bench itself, then seen by the same poll."""
    reference = f"bench-direct-{uuid.uuid4().hex[:10]}"
    today = datetime.now(UTC).date()
    invoice = {"Type": "ACCREC", "Contact": {"Name": "Bench Direct Ltd"}, "Reference": reference,
               "Date": today.isoformat(), "DueDate": (today + timedelta(days=30)).isoformat(),
               "LineAmountTypes": "Exclusive", "Status": "DRAFT",
               "LineItems": [{"Description": "Service", "Quantity": 2, "UnitAmount": 100,
                              "AccountCode": "200", "TaxType": "OUTPUT2"}]}
    started = time.perf_counter()
    response = flow.xero.http.put("/api.xro/2.0/Invoices", headers=flow.xero._auth(), json={"Invoices": [invoice]})
    response.raise_for_status()
    wait_until(lambda: _visible_draft(flow, reference), timeout=10)
    return time.perf_counter() - started


def invoice_latency(flow: Flow, *, deals: int = 30, deadline: float = float("inf")) -> dict[str, Any]:
    """Deal marked won -> its DRAFT invoice visible in Xero; baseline: a direct PUT, same poll."""
    flow.xero_control("webhooks", {"enabled": False})  # the direct invoices must not reach the bridge
    try:
        _direct_invoice(flow)  # warm the bench's own connection and the emulator's code paths
    finally:
        flow.xero_control("webhooks", {"enabled": True})
    samples: list[float] = []
    direct: list[float] = []
    done: list[tuple[int, str]] = []
    timeouts = 0
    for _ in range(deals):
        if time.monotonic() > deadline:
            flow.notes.append(f"e2e invoice: stopped after {len(samples)} deals (time budget)")
            break
        deal_id, _org = flow.seed()
        flow.drain()
        started = time.perf_counter()
        flow.win(deal_id)
        try:
            invoice = wait_until(lambda d=deal_id: _visible_draft(flow, str(d)), timeout=30)
        except TimeoutError:
            timeouts += 1
            continue
        samples.append(time.perf_counter() - started)
        wait_until(lambda d=deal_id: flow.deal_field(d, "Xero invoice number"), timeout=30, interval=0.05)
        flow.drain()
        done.append((deal_id, invoice["InvoiceID"]))
        flow.xero_control("webhooks", {"enabled": False})
        try:
            direct.append(_direct_invoice(flow))
        finally:
            flow.xero_control("webhooks", {"enabled": True})
    return {"bridge": summary_ms(samples), "direct_put_baseline": summary_ms(direct), "timeouts": timeouts,
            "invoiced": done}


def _direct_field_write(flow: Flow, deal_id: int) -> float:
    """The floor: the bench writes the deal's status field itself and sees it with the same poll."""
    code = flow.pipedrive.field_code("deal", "Xero invoice status")
    value = f"BENCH-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    response = flow.pipedrive.http.patch(f"/api/v2/deals/{deal_id}", json={"custom_fields": {code: value}})
    response.raise_for_status()
    wait_until(lambda: flow.deal_field(deal_id, "Xero invoice status") == value, timeout=10)
    return time.perf_counter() - started


def writeback_latency(flow: Flow, invoiced: list[tuple[int, str]], *, count: int = 20,
                      deadline: float = float("inf")) -> dict[str, Any]:
    """Finance approves in Xero -> the deal shows AUTHORISED; baseline: a direct field write, same poll."""
    samples: list[float] = []
    direct: list[float] = []
    timeouts = 0
    scratch, _ = flow.seed()  # an open deal: the bridge ignores changes to it
    for deal_id, invoice_id in invoiced[:count]:
        if time.monotonic() > deadline:
            flow.notes.append(f"writeback: stopped after {len(samples)} invoices (time budget)")
            break
        flow.drain()
        started = time.perf_counter()
        response = flow.xero.http.post("/api.xro/2.0/Invoices", headers=flow.xero._auth(),
                                       json={"Invoices": [{"InvoiceID": invoice_id, "Status": "AUTHORISED"}]})
        response.raise_for_status()
        try:
            wait_until(lambda d=deal_id: flow.deal_field(d, "Xero invoice status") == "AUTHORISED", timeout=30)
        except TimeoutError:
            timeouts += 1
            continue
        samples.append(time.perf_counter() - started)
        flow.drain()
        direct.append(_direct_field_write(flow, scratch))
    return {"bridge": summary_ms(samples), "direct_write_baseline": summary_ms(direct), "timeouts": timeouts}
