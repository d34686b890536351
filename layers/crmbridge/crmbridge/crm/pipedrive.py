"""Pipedrive: v2 deals, organisations, persons, deal products and fields; v1 notes.

The bridge's own fields (Xero invoice number, status, ContactID...) are custom fields found by name
and created on first use; their 40-character codes are cached for the life of the process.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from crmbridge.crm.models import (
    CrmAddress,
    CrmDeal,
    CrmLine,
    CrmOrganisation,
    CrmPerson,
    InvoiceWriteBack,
    OrganisationBalance,
    OrganisationUpdate,
)
from crmbridge.errors import PermanentError, RetryableError
from crmbridge.http import permanent_for_status, raise_for_transient, send

SERVICE = "pipedrive"

# The bridge's custom fields: (entity, key in code, name shown in Pipedrive, Pipedrive field type).
DEAL_FIELDS = {
    "invoice_number": ("Xero invoice number", "varchar"),
    "invoice_id": ("Xero invoice ID", "varchar"),
    "invoice_status": ("Xero invoice status", "varchar"),
    "invoice_url": ("Xero invoice link", "varchar"),
    "invoice_total": ("Xero invoice total", "double"),
    "amount_due": ("Xero amount due", "double"),
    "amount_paid": ("Xero amount paid", "double"),
    "due_date": ("Xero due date", "date"),
    "paid_date": ("Xero paid date", "date"),
}
ORGANISATION_FIELDS = {
    "xero_contact_id": ("Xero contact ID", "varchar"),
    "payment_terms_days": ("Payment terms (days)", "double"),
    "outstanding": ("Xero outstanding balance", "double"),
    "overdue": ("Xero overdue balance", "double"),
    "on_stop": ("Xero on stop", "varchar"),
    "billing_email": ("Billing email", "varchar"),
    "phone": ("Phone", "varchar"),
}


def _decimal(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    if value is None or value == "":
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise PermanentError("crm_bad_number", f"not a number: {value!r}") from exc


def _custom_value(raw: Any) -> Any:
    """v2 custom field values are typed objects ({"type": "double", "value": 30}) or plain values."""
    if isinstance(raw, dict) and "value" in raw:
        return raw["value"]
    return raw


class PipedriveCrm:
    name = "pipedrive"

    def __init__(self, http: httpx.Client, api_url: str, api_token: str, *, app_url: str | None = None) -> None:
        self._http = http
        self._api = api_url.rstrip("/")
        self._token = api_token
        self._app_url = (app_url or "https://app.pipedrive.com").rstrip("/")
        self._field_codes: dict[str, dict[str, str]] = {}
        self.calls = 0

    # ------------------------------------------------------------------ HTTP
    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              json: Any = None, what: str) -> dict[str, Any]:
        request = self._http.build_request(
            method, f"{self._api}/{path.lstrip('/')}", params=params, json=json,
            headers={"x-api-token": self._token, "Accept": "application/json"},
        )
        self.calls += 1
        response = send(self._http, request, service=SERVICE)
        raise_for_transient(response, service=SERVICE)
        if response.status_code == 404:
            raise PermanentError("crm_not_found", f"Pipedrive has no such record ({what})")
        if response.status_code in (401, 403):
            raise PermanentError("crm_auth", f"Pipedrive refused the API token ({what})")
        if response.status_code >= 400:
            error = _error_text(response)
            if response.status_code == 400:
                raise PermanentError("crm_rejected", f"Pipedrive refused {what}: {error}")
            raise permanent_for_status(response, service=SERVICE, what=what)
        try:
            return response.json()
        except ValueError as exc:
            raise RetryableError(f"Pipedrive answered {what} with a body that is not JSON") from exc

    # ------------------------------------------------------------------ fields
    def field_codes(self, entity: str) -> dict[str, str]:
        """Codes of the bridge's fields on `entity` (deal|organization), creating the missing ones."""
        if entity in self._field_codes:
            return self._field_codes[entity]
        wanted = DEAL_FIELDS if entity == "deal" else ORGANISATION_FIELDS
        existing = {
            (f.get("field_name") or f.get("name")): (f.get("field_code") or f.get("key"))
            for f in self._call("GET", f"/api/v2/{entity}Fields", params={"limit": 500}, what=f"GET {entity}Fields").get("data") or []
        }
        codes = {}
        for key, (label, field_type) in wanted.items():
            if label not in existing:
                created = self._call("POST", f"/api/v2/{entity}Fields", json={"field_name": label, "field_type": field_type},
                                     what=f"POST {entity}Fields").get("data") or {}
                existing[label] = created.get("field_code") or created.get("key")
            codes[key] = existing[label]
        self._field_codes[entity] = codes
        return codes

    # ------------------------------------------------------------------ reads
    def read_deal(self, deal_id: str) -> CrmDeal:
        deal = self._call("GET", f"/api/v2/deals/{deal_id}", what="GET deal")["data"]
        lines = self._deal_lines(deal_id)
        organisation = self._organisation(str(deal["org_id"])) if deal.get("org_id") else None
        person = self._person(str(deal["person_id"])) if deal.get("person_id") else None
        won_time = deal.get("won_time")
        return CrmDeal(
            id=str(deal["id"]),
            title=deal.get("title") or f"Deal {deal_id}",
            status=deal.get("status") or "open",
            value=_decimal(deal.get("value")),
            currency=deal.get("currency") or "GBP",
            owner_id=str(deal["owner_id"]) if deal.get("owner_id") is not None else None,
            won_time=datetime.fromisoformat(won_time.replace("Z", "+00:00")) if won_time else None,
            organisation=organisation,
            person=person,
            lines=lines,
            url=f"{self._app_url}/deal/{deal['id']}",
        )

    def _deal_lines(self, deal_id: str) -> list[CrmLine]:
        lines: list[CrmLine] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 500}
            if cursor:
                params["cursor"] = cursor
            page = self._call("GET", f"/api/v2/deals/{deal_id}/products", params=params, what="GET deal products")
            for item in page.get("data") or []:
                if item.get("is_enabled") is False:
                    continue
                lines.append(CrmLine(
                    name=item.get("name") or "Item",
                    product_id=str(item["product_id"]) if item.get("product_id") is not None else None,
                    product_code=item.get("product_code") or item.get("code"),
                    quantity=_decimal(item.get("quantity"), Decimal(1)),
                    unit_price=_decimal(item.get("item_price")),
                    discount=_decimal(item.get("discount")),
                    discount_type=item.get("discount_type") or "percentage",
                    tax_percent=_decimal(item["tax"]) if item.get("tax") is not None else None,
                    tax_method=item.get("tax_method"),
                    comments=item.get("comments"),
                ))
            cursor = (page.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                return lines

    def _organisation(self, org_id: str) -> CrmOrganisation:
        org = self._call("GET", f"/api/v2/organizations/{org_id}", what="GET organization")["data"]
        codes = self.field_codes("organization")
        custom = org.get("custom_fields") or {}
        terms = _custom_value(custom.get(codes["payment_terms_days"]))
        return CrmOrganisation(
            id=str(org["id"]),
            name=org.get("name") or "",
            email=_custom_value(custom.get(codes["billing_email"])) or None,
            address=_address(org.get("address")),
            xero_contact_id=_custom_value(custom.get(codes["xero_contact_id"])) or None,
            payment_terms_days=int(_decimal(terms)) if terms not in (None, "") else None,
        )

    def _person(self, person_id: str) -> CrmPerson:
        person = self._call("GET", f"/api/v2/persons/{person_id}", what="GET person")["data"]
        emails = person.get("emails") or person.get("email") or []
        primary = next((e.get("value") for e in emails if isinstance(e, dict) and e.get("primary")), None)
        first = next((e.get("value") for e in emails if isinstance(e, dict) and e.get("value")), None)
        return CrmPerson(id=str(person["id"]), name=person.get("name"), email=primary or first)

    # ------------------------------------------------------------------ writes
    def set_organisation_contact(self, organisation_id: str, xero_contact_id: str) -> None:
        code = self.field_codes("organization")["xero_contact_id"]
        self._call("PATCH", f"/api/v2/organizations/{organisation_id}",
                   json={"custom_fields": {code: xero_contact_id}}, what="PATCH organization")

    def write_invoice(self, deal_id: str, invoice: InvoiceWriteBack) -> None:
        codes = self.field_codes("deal")
        values: dict[str, Any] = {
            codes["invoice_id"]: invoice.invoice_id,
            codes["invoice_number"]: invoice.invoice_number,
            codes["invoice_status"]: invoice.status,
            codes["invoice_url"]: invoice.url,
        }
        for key, value in (("invoice_total", invoice.total), ("amount_due", invoice.amount_due),
                           ("amount_paid", invoice.amount_paid)):
            if value is not None:
                values[codes[key]] = float(value)  # Pipedrive's double fields take JSON numbers
        if invoice.due_date:
            values[codes["due_date"]] = invoice.due_date.isoformat()
        values[codes["paid_date"]] = invoice.fully_paid_on.isoformat() if invoice.fully_paid_on else None
        self._call("PATCH", f"/api/v2/deals/{deal_id}", json={"custom_fields": values}, what="PATCH deal")

    def write_organisation_balance(self, organisation_id: str, balance: OrganisationBalance) -> None:
        codes = self.field_codes("organization")
        values = {codes["outstanding"]: float(balance.outstanding), codes["overdue"]: float(balance.overdue),
                  codes["on_stop"]: "ON STOP" if balance.on_stop else None}
        self._call("PATCH", f"/api/v2/organizations/{organisation_id}", json={"custom_fields": values},
                   what="PATCH organization")

    def update_organisation(self, organisation_id: str, update: OrganisationUpdate) -> None:
        codes = self.field_codes("organization")
        body: dict[str, Any] = {}
        custom = {}
        if update.email is not None:
            custom[codes["billing_email"]] = update.email
        if update.phone is not None:
            custom[codes["phone"]] = update.phone
        if custom:
            body["custom_fields"] = custom
        if update.address is not None:
            parts = [update.address.line1, update.address.city, update.address.postal_code, update.address.country]
            body["address"] = {"value": ", ".join(p for p in parts if p)}
        if body:
            self._call("PATCH", f"/api/v2/organizations/{organisation_id}", json=body, what="PATCH organization")

    def add_deal_note(self, deal_id: str, html: str) -> None:
        self._call("POST", "/v1/notes", json={"deal_id": int(deal_id), "content": html}, what="POST note")


def _address(raw: Any) -> CrmAddress | None:
    if not raw:
        return None
    if isinstance(raw, str):
        return CrmAddress(line1=raw)
    line1 = raw.get("value") or " ".join(p for p in (raw.get("street_number"), raw.get("route")) if p) or None
    return CrmAddress(
        line1=line1, city=raw.get("locality") or raw.get("city"),
        postal_code=raw.get("postal_code"), country=raw.get("country"),
    )


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("error") or body.get("message") or body)[:300]
