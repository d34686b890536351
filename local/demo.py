"""`make demo`: the bridge's whole flow on the embedded stack, step by step, each step checked.

It starts the local stack (moto, emulators, gateway, queue poller, scheduler), then acts as the people
around the bridge would: an operator connects Xero, a salesperson wins a deal in Pipedrive, and the
demo checks what lands in Xero and back in the CRM. It exits 0 only if every check passed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from local.credentials import credential

LOG = logging.getLogger("demo")


class DemoFailed(Exception):
    """A check did not hold: the demo stops and says which."""


def wait_for(what: str, probe: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise DemoFailed(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Report:
    steps: list[tuple[bool, str]] = field(default_factory=list)
    out: Any = field(default_factory=lambda: sys.stdout)

    def ok(self, text: str) -> None:
        self.steps.append((True, text))
        self.out.write(f"  \u2713 {text}\n")
        self.out.flush()

    def check(self, condition: bool, text: str, detail: str = "") -> None:
        if not condition:
            self.steps.append((False, text))
            raise DemoFailed(f"{text}: {detail}" if detail else text)
        self.ok(text)

    def section(self, title: str) -> None:
        self.out.write(f"\n{title}\n")


@dataclass
class Urls:
    gateway: str
    xero: str
    pipedrive: str


class Pipedrive:
    """The salesperson (the emulator's app endpoints) and reads through the public API."""

    def __init__(self, base: str) -> None:
        # The salesperson's own token: its rate-limit window is not the bridge's.
        token = os.environ.get("PIPEDRIVE_SALES_API_TOKEN", "local-pipedrive-sales-token")
        self.http = httpx.Client(base_url=base, timeout=10, headers={"x-api-token": token})
        self._codes: dict[tuple[str, str], str] = {}

    def seed(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._ok(self.http.post("/_emulator/seed", json=body))

    def app_update_deal(self, deal_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        return self._ok(self.http.patch(f"/_emulator/app/deals/{deal_id}", json=changes))

    def deal(self, deal_id: int) -> dict[str, Any]:
        return self._ok(self.http.get(f"/api/v2/deals/{deal_id}"))["data"]

    def organisation(self, org_id: int) -> dict[str, Any]:
        return self._ok(self.http.get(f"/api/v2/organizations/{org_id}"))["data"]

    def field_code(self, entity: str, name: str) -> str | None:
        if (entity, name) not in self._codes:
            fields = self._ok(self.http.get(f"/api/v2/{entity}Fields", params={"limit": 500}))["data"]
            code = next((f.get("field_code") for f in fields if f.get("field_name") == name), None)
            if code is None:
                return None  # the bridge creates its fields on first use: not yet
            self._codes[(entity, name)] = code
        return self._codes[(entity, name)]

    def custom(self, record: dict[str, Any], entity: str, name: str) -> Any:
        code = self.field_code(entity, name)
        value = (record.get("custom_fields") or {}).get(code) if code else None
        return value.get("value") if isinstance(value, dict) else value

    @staticmethod
    def _ok(response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            raise DemoFailed(f"Pipedrive emulator answered {response.status_code}: {response.text[:300]}")
        return response.json()


class Xero:
    """Finance, through Xero's API with a token set of its own (as the Xero web app would act)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=10)
        self.token: str | None = None
        self.tenant: str | None = None

    def sign_in(self) -> None:
        redirect = "http://127.0.0.1/finance"
        consent = self.http.get("/identity/connect/authorize", params={
            "response_type": "code", "client_id": credential("XERO_CLIENT_ID"), "redirect_uri": redirect,
            "scope": "offline_access accounting.transactions accounting.contacts", "state": "finance"})
        code = parse_qs(urlparse(consent.headers["location"]).query)["code"][0]
        basic = base64.b64encode(f"{credential('XERO_CLIENT_ID')}:{credential('XERO_CLIENT_SECRET')}".encode()).decode()
        tokens = self.http.post("/connect/token", headers={"Authorization": f"Basic {basic}"},
                                data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}).json()
        self.token = tokens["access_token"]
        self.tenant = self.http.get("/connections", headers=self._auth(tenant=False)).json()[0]["tenantId"]

    def _auth(self, *, tenant: bool = True) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if tenant and self.tenant:
            headers["xero-tenant-id"] = self.tenant
        return headers

    def invoices(self, reference: str) -> list[dict[str, Any]]:
        response = self.http.get("/api.xro/2.0/Invoices", headers=self._auth(),
                                 params={"where": f'Reference=="{reference}"'})
        return self._ok(response).get("Invoices", [])

    def invoice(self, invoice_id: str) -> dict[str, Any]:
        return self._ok(self.http.get(f"/api.xro/2.0/Invoices/{invoice_id}", headers=self._auth()))["Invoices"][0]

    @staticmethod
    def _ok(response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            raise DemoFailed(f"Xero emulator answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def update_invoice(self, invoice_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        body = {"Invoices": [{"InvoiceID": invoice_id, **changes}]}
        return self._ok(self.http.post("/api.xro/2.0/Invoices", headers=self._auth(), json=body))["Invoices"][0]

    def approve(self, invoice_id: str) -> dict[str, Any]:
        return self.update_invoice(invoice_id, {"Status": "AUTHORISED"})

    def pay(self, invoice_id: str, amount: Decimal | str, on: str) -> dict[str, Any]:
        body = {"Payments": [{"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "090"},
                              "Date": on, "Amount": str(amount)}]}
        return self._ok(self.http.put("/api.xro/2.0/Payments", headers=self._auth(), json=body))["Payments"][0]

    def create_invoice(self, invoice: dict[str, Any]) -> dict[str, Any]:
        return self._ok(self.http.put("/api.xro/2.0/Invoices", headers=self._auth(),
                                      json={"Invoices": [invoice]}))["Invoices"][0]

    def intent_to_receive(self, url: str) -> dict[str, Any]:
        return self.http.post("/_emulator/webhooks/intent-to-receive", json={"url": url}).json()


def connect_xero(urls: Urls, report: Report) -> None:
    """The operator's `bridgectl connect`: authorise in Xero, come back through the real callback."""
    from crmbridge.tokens.connect import authorize_url, make_state, state_key

    callback = f"{urls.gateway}/oauth/xero/callback"
    state = make_state(state_key(credential("XERO_CLIENT_SECRET")), now=int(time.time()))
    url = authorize_url(f"{urls.xero}/identity/connect/authorize", client_id=credential("XERO_CLIENT_ID"),
                        redirect_uri=callback, scopes="offline_access accounting.contacts accounting.invoices "
                        "accounting.payments.read accounting.settings.read", state=state)
    consent = httpx.get(url, timeout=10)
    report.check(consent.status_code in (302, 303), "Xero asks for consent and redirects back with a code",
                 f"authorize answered {consent.status_code}")
    landing = httpx.get(consent.headers["location"], timeout=20)
    report.check(landing.status_code == 200 and "connected" in landing.text.lower(),
                 "the callback exchanged the code and stored the organisation's tokens",
                 f"{landing.status_code}: {landing.text[:200]}")
    forged = httpx.get(f"{callback}?code=abc&state=forged.state", timeout=10)
    report.check(forged.status_code == 400, "a callback with a forged state is refused", str(forged.status_code))


def win_a_deal(urls: Urls, report: Report, pipedrive: Pipedrive, xero: Xero) -> dict[str, Any]:
    seeded = pipedrive.seed({
        "organizations": [{"ref": "acme", "name": "Acme Ltd",
                           "address": {"value": "1 High Street, London, EC1A 1AA, United Kingdom",
                                       "locality": "London", "postal_code": "EC1A 1AA", "country": "United Kingdom"}}],
        "persons": [{"ref": "jane", "name": "Jane Buyer", "org_ref": "acme",
                     "emails": [{"value": "jane@acme.example", "primary": True, "label": "work"}]}],
        "products": [{"ref": "lic", "name": "Standard licence", "code": "LIC-STD", "prices": [{"price": 120, "currency": "GBP"}]},
                     {"ref": "train", "name": "Onboarding training", "code": "TRAIN", "prices": [{"price": 500, "currency": "GBP"}]}],
        "deals": [{"ref": "deal", "title": "Acme - 10 licences", "org_ref": "acme", "person_ref": "jane",
                   "currency": "GBP", "value": 1650, "status": "open",
                   "products": [
                       {"product_ref": "lic", "item_price": 120, "quantity": 10, "tax": 20, "tax_method": "exclusive"},
                       {"product_ref": "train", "item_price": 500, "quantity": 1, "discount": 10,
                        "discount_type": "percentage", "tax": 20, "tax_method": "exclusive"},
                   ]}],
    })
    deal_id, org_id = seeded["refs"]["deals"]["deal"], seeded["refs"]["organizations"]["acme"]
    report.ok(f"Pipedrive has deal {deal_id} 'Acme - 10 licences' for Acme Ltd (10 x 120.00 + training 500.00 less 10%)")

    started = time.monotonic()
    pipedrive.app_update_deal(deal_id, {"status": "won"})
    report.ok("the salesperson marks the deal won; Pipedrive sends its webhook to the bridge")

    number = wait_for("the invoice number on the deal",
                      lambda: pipedrive.custom(pipedrive.deal(deal_id), "deal", "Xero invoice number"))
    elapsed = time.monotonic() - started
    report.ok(f"the deal shows Xero invoice {number} ({elapsed * 1000:.0f} ms after the win)")

    invoices = xero.invoices(str(deal_id))
    report.check(len(invoices) == 1, "Xero holds exactly one invoice for the deal", f"found {len(invoices)}")
    invoice = xero.invoice(invoices[0]["InvoiceID"])
    lines = invoice["LineItems"]
    report.check(invoice["Status"] == "DRAFT" and invoice["Type"] == "ACCREC", "it is a DRAFT sales invoice",
                 f"{invoice['Type']} {invoice['Status']}")
    report.check(invoice["Contact"]["Name"] == "Acme Ltd", "billed to the contact Acme Ltd", invoice["Contact"]["Name"])
    report.check(invoice["LineAmountTypes"] == "Exclusive" and [line["TaxType"] for line in lines] == ["OUTPUT2", "OUTPUT2"],
                 "lines are tax-exclusive at 20% standard-rate VAT (OUTPUT2)", json.dumps(lines)[:300])
    totals = tuple(Decimal(str(invoice[k])) for k in ("SubTotal", "TotalTax", "Total"))
    report.check(totals == (Decimal("1650.00"), Decimal("330.00"), Decimal("1980.00")),
                 "Xero computed 1,650.00 + VAT 330.00 = 1,980.00", str(totals))
    contact_id = pipedrive.custom(pipedrive.organisation(org_id), "organization", "Xero contact ID")
    report.check(contact_id == invoice["Contact"]["ContactID"], "the organisation now carries its Xero ContactID",
                 str(contact_id))
    return {"deal_id": deal_id, "org_id": org_id, "invoice": invoice}


def duplicates_and_bad_auth(urls: Urls, report: Report, pipedrive: Pipedrive, xero: Xero, deal_id: int,
                            drain: Callable[[], None]) -> None:
    body = json.dumps({"meta": {"action": "change", "entity": "deal", "entity_id": str(deal_id), "id": "replayed",
                                "version": "2.0", "change_source": "app", "user_id": "1", "attempt": 2},
                       "data": {**pipedrive.deal(deal_id)}, "previous": {"status": "open"}})
    auth = (credential("PIPEDRIVE_WEBHOOK_USER"), credential("PIPEDRIVE_WEBHOOK_PASSWORD"))
    for _ in range(3):
        response = httpx.post(f"{urls.gateway}/webhooks/pipedrive", content=body, auth=auth,
                              headers={"content-type": "application/json"}, timeout=10)
        if response.status_code != 200:
            raise DemoFailed(f"redelivery answered {response.status_code}")
    drain()
    report.check(len(xero.invoices(str(deal_id))) == 1, "the same webhook delivered 3 more times: still one invoice")
    wrong = httpx.post(f"{urls.gateway}/webhooks/pipedrive", content=body, auth=(auth[0], "wrong-password"),
                       headers={"content-type": "application/json"}, timeout=10)
    report.check(wrong.status_code == 401, "a webhook with the wrong password gets 401 and nothing is queued",
                 str(wrong.status_code))


def xero_tells_the_crm(report: Report, pipedrive: Pipedrive, xero: Xero, won: dict[str, Any]) -> None:
    deal_id, org_id, invoice = won["deal_id"], won["org_id"], won["invoice"]
    xero.approve(invoice["InvoiceID"])
    report.ok(f"finance approves {invoice['InvoiceNumber']} in Xero")
    wait_for("AUTHORISED on the deal",
             lambda: pipedrive.custom(pipedrive.deal(deal_id), "deal", "Xero invoice status") == "AUTHORISED")
    outstanding = wait_for("the balance on the organisation", lambda: pipedrive.custom(
        pipedrive.organisation(org_id), "organization", "Xero outstanding balance"))
    report.check(Decimal(str(outstanding)) == Decimal("1980.00"),
                 "the deal shows AUTHORISED and Acme Ltd owes 1,980.00", str(outstanding))

    xero.pay(invoice["InvoiceID"], "1980.00", "2026-11-30")
    report.ok("finance records the customer's payment of 1,980.00 in Xero")
    deal = wait_for("PAID on the deal", lambda: (
        d if pipedrive.custom(d := pipedrive.deal(deal_id), "deal", "Xero invoice status") == "PAID" else None))
    due = Decimal(str(pipedrive.custom(deal, "deal", "Xero amount due")))
    paid_on = pipedrive.custom(deal, "deal", "Xero paid date")
    report.check(due == 0 and paid_on == "2026-11-30", "the deal shows PAID, amount due 0.00, paid on 2026-11-30",
                 f"due {due}, paid {paid_on}")
    balance = Decimal(str(pipedrive.custom(pipedrive.organisation(org_id), "organization", "Xero outstanding balance")))
    report.check(balance == 0, "Acme Ltd's outstanding balance is back to 0.00", str(balance))
    note = wait_for("the owner's note", lambda: pipedrive.http.get("/v1/notes", params={"deal_id": deal_id})
                    .json().get("data"))
    report.check("paid in full" in note[0]["content"], "the deal owner has a note: invoice paid in full",
                 note[0]["content"][:200])


def a_customer_on_stop(report: Report, pipedrive: Pipedrive, xero: Xero) -> None:
    seeded = pipedrive.seed({"organizations": [{"ref": "late", "name": "Late Payers plc"}],
                             "deals": [{"ref": "old", "title": "Late Payers - support", "org_ref": "late",
                                        "currency": "GBP", "value": 500, "status": "won"}]})
    deal_id, org_id = seeded["refs"]["deals"]["old"], seeded["refs"]["organizations"]["late"]
    xero.create_invoice({
        "Type": "ACCREC", "Contact": {"Name": "Late Payers plc"}, "Reference": str(deal_id), "Date": "2026-09-01",
        "DueDate": "2026-10-01", "LineAmountTypes": "Exclusive", "Status": "AUTHORISED",
        "LineItems": [{"Description": "Support, September", "Quantity": 1, "UnitAmount": 500, "AccountCode": "200",
                       "TaxType": "OUTPUT2"}]})
    report.ok("Late Payers plc has a 600.00 invoice raised in Xero, due 2026-10-01 and unpaid")
    on_stop = wait_for("the on-stop flag", lambda: pipedrive.custom(
        pipedrive.organisation(org_id), "organization", "Xero on stop"))
    overdue = pipedrive.custom(pipedrive.organisation(org_id), "organization", "Xero overdue balance")
    report.check(on_stop == "ON STOP" and Decimal(str(overdue)) == Decimal("600.00"),
                 "sales sees Late Payers plc ON STOP with 600.00 overdue", f"{on_stop} {overdue}")


def run(urls: Urls, drain: Callable[[], None], out: Any = None) -> Report:
    report = Report(out=out or sys.stdout)
    pipedrive, xero = Pipedrive(urls.pipedrive), Xero(urls.xero)

    report.section("1. Xero webhooks: the Intent-to-Receive handshake")
    check = xero.intent_to_receive(f"{urls.gateway}/webhooks/xero")
    report.check(bool(check.get("passed")), "Xero's handshake passes (200 for a good signature, 401 for a bad one)",
                 json.dumps(check)[:300])

    report.section("2. Connect the Xero organisation")
    connect_xero(urls, report)
    xero.sign_in()

    report.section("3. A won deal becomes exactly one Xero invoice")
    won = win_a_deal(urls, report, pipedrive, xero)
    duplicates_and_bad_auth(urls, report, pipedrive, xero, won["deal_id"], drain)

    report.section("4. Xero tells the CRM: approval, payment, balances, on stop")
    xero_tells_the_crm(report, pipedrive, xero, won)
    a_customer_on_stop(report, pipedrive, xero)
    return report


LOG_FILE = ".demo.log"


def main() -> int:
    logging.basicConfig(level=os.environ.get("DEMO_LOG_LEVEL", "WARNING"))
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    from local.stack import LocalStack

    out = sys.stdout
    out.write(f"Starting the local stack (moto, Xero and Pipedrive emulators, gateway, poller); "
              f"the functions' JSON logs go to {LOG_FILE}\n")
    # The functions log to stdout as in Lambda; here that would bury the story, so it goes to a file.
    with open(LOG_FILE, "w") as function_logs, contextlib.redirect_stdout(function_logs), LocalStack() as stack:
        urls = Urls(gateway=stack.urls["gateway"], xero=stack.urls["xero"], pipedrive=stack.urls["pipedrive"])
        try:
            report = run(urls, drain=lambda: stack.drain(timeout=20), out=out)
        except DemoFailed as exc:
            out.write(f"\n  \u2717 {exc}\n\nDemo FAILED (function logs: {LOG_FILE}).\n")
            return 1
    out.write(f"\nDemo passed: {len(report.steps)} checks.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
