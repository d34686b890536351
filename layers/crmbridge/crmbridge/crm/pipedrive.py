"""Pipedrive: v2 deals, organisations, persons, products, deal products and fields; v1 notes.

The bridge's own fields (Xero invoice number, status, ContactID...) are custom fields that
`bridgectl setup` creates once; their 40-character codes are stored (crm.field_store) and read once
per process. Deal products carry no product code: it is read from the products, in bulk, and cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from crmbridge.crm.directory import DealSummary, ListedPerson, ListedProduct
from crmbridge.crm.field_store import FieldStore, StoredFields, fields_missing
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
from crmbridge.errors import PermanentError, RateLimitedError, RetryableError
from crmbridge.http import permanent_for_status, raise_for_transient, send

SERVICE = "pipedrive"
BULK_IDS = 100  # ids per bulk read (deals ids=, deals/products deal_ids=, organizations/persons/products ids=)
# Deal products carry no product code; the code is on the product, read in bulk and kept this long (a code
# changed in Pipedrive shows on deals read after that).
PRODUCT_CACHE_SECONDS = 300.0

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
BRIDGE_FIELDS = {"deal": DEAL_FIELDS, "organization": ORGANISATION_FIELDS}


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
    field_entities = ("deal", "organization")

    def __init__(self, http: httpx.Client, api_url: str, api_token: str, *, app_url: str | None = None,
                 fields: FieldStore | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._http = http
        self._api = api_url.rstrip("/")
        self._token = api_token
        self._app_url = (app_url or "https://app.pipedrive.com").rstrip("/")
        self._fields = fields
        self._field_codes: dict[str, dict[str, str]] = {}
        self._fields_lock = threading.Lock()
        self._clock = clock
        self._product_codes: dict[str, tuple[str | None, float]] = {}  # product id -> (code, read at)
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
        if response.status_code == 429:
            raise _rate_limited(response)
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
    def _listed_fields(self, entity: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/api/v2/{entity}Fields", params={"limit": 500},
                          what=f"GET {entity}Fields").get("data") or []

    def find_fields(self, entity: str) -> tuple[StoredFields, list[str]]:
        """The bridge's fields on `entity` as the account holds them, found by name, and the keys of those
        it lacks. Pipedrive lets two fields share a name: then the oldest (earliest add_time, then the
        lowest field_code) is the bridge's, whoever looks, and the others are listed as duplicates."""
        by_name: dict[str, list[dict[str, Any]]] = {}
        for field in self._listed_fields(entity):
            if field.get("is_custom_field") is not False:
                by_name.setdefault(field.get("field_name") or field.get("name") or "", []).append(field)
        codes: dict[str, str] = {}
        duplicates: dict[str, list[str]] = {}
        missing: list[str] = []
        for key, (label, _) in BRIDGE_FIELDS[entity].items():
            found = sorted((f.get("add_time") or "", _code(f)) for f in by_name.get(label, []) if _code(f))
            if not found:
                missing.append(key)
                continue
            codes[key] = found[0][1]
            if len(found) > 1:
                duplicates[key] = [code for _, code in found[1:]]
        return StoredFields(codes=codes, duplicates=duplicates), missing

    def create_fields(self, entity: str, keys: Sequence[str]) -> None:
        """Create these of the bridge's fields (only `bridgectl setup` does)."""
        for key in keys:
            label, field_type = BRIDGE_FIELDS[entity][key]
            self._call("POST", f"/api/v2/{entity}Fields", json={"field_name": label, "field_type": field_type},
                       what=f"POST {entity}Fields")

    def field_codes(self, entity: str) -> dict[str, str]:
        """Codes of the bridge's fields on `entity` (deal|organization): stored by `bridgectl setup`, read
        once per process. Never creates a field; raises crm_fields_missing when one does not exist."""
        if entity not in self._field_codes:
            with self._fields_lock:
                if entity not in self._field_codes:
                    codes, missing = self._lookup_codes(entity)
                    if missing:
                        raise fields_missing("Pipedrive", entity, [BRIDGE_FIELDS[entity][key][0] for key in missing])
                    self._field_codes[entity] = codes
        return self._field_codes[entity]

    def _read_codes(self, entity: str) -> dict[str, str]:
        """Codes of the bridge's fields that exist, for reading: a field that does not exist holds nothing."""
        if entity in self._field_codes:
            return self._field_codes[entity]
        codes, missing = self._lookup_codes(entity)
        if not missing:
            self._field_codes[entity] = codes
        return codes

    def _lookup_codes(self, entity: str) -> tuple[dict[str, str], list[str]]:
        """The stored codes, and the keys of the bridge's fields they lack."""
        stored = self._fields.load(SERVICE, entity) if self._fields is not None else None
        if stored is not None:
            return stored.codes, [key for key in BRIDGE_FIELDS[entity] if key not in stored.codes]
        # Nothing stored: a deployment from before `bridgectl setup` (its fields made by an older version)
        # keeps working. Its fields are found by name, with the choice setup makes, and the first worker
        # stores them; a field that does not exist is never created here.
        found, missing = self.find_fields(entity)
        if not missing and self._fields is not None:
            found = self._fields.save_first(SERVICE, entity, found)
        return found.codes, missing

    # ------------------------------------------------------------------ reads
    def read_deal(self, deal_id: str) -> CrmDeal:
        deal = self._call("GET", f"/api/v2/deals/{deal_id}", what="GET deal")["data"]
        lines = self._deal_lines(deal_id)
        organisation = self._organisation(str(deal["org_id"])) if deal.get("org_id") else None
        person = self._person(str(deal["person_id"])) if deal.get("person_id") else None
        return self._deal(deal, lines, organisation, person)

    def _deal(self, deal: dict[str, Any], lines: list[CrmLine], organisation: CrmOrganisation | None,
              person: CrmPerson | None) -> CrmDeal:
        won_time = deal.get("won_time")
        return CrmDeal(
            id=str(deal["id"]),
            title=deal.get("title") or f"Deal {deal['id']}",
            status=deal.get("status") or "open",
            value=_decimal(deal.get("value")),
            currency=deal.get("currency") or "GBP",
            owner_id=str(deal["owner_id"]) if deal.get("owner_id") is not None else None,
            won_time=_time(won_time),
            organisation=organisation,
            person=person,
            lines=lines,
            url=f"{self._app_url}/deal/{deal['id']}",
        )

    def _pages(self, path: str, params: dict[str, Any], what: str) -> Iterator[dict[str, Any]]:
        """Every item of a v2 listing, following next_cursor."""
        params = {"limit": 500, **params}
        while True:
            page = self._call("GET", path, params=params, what=what)
            yield from page.get("data") or []
            cursor = (page.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                return
            params["cursor"] = cursor

    def _deal_lines(self, deal_id: str) -> list[CrmLine]:
        return self._lines([item for item in self._pages(f"/api/v2/deals/{deal_id}/products", {}, "GET deal products")
                            if item.get("is_enabled") is not False])

    def _lines(self, items: list[dict[str, Any]]) -> list[CrmLine]:
        """Deal products as lines, each with its product's code (mapping rules match on it)."""
        codes = self._codes_of({str(item["product_id"]) for item in items if item.get("product_id") is not None})
        return [_line(item, codes.get(str(item.get("product_id")))) for item in items]

    def _codes_of(self, product_ids: set[str]) -> dict[str, str | None]:
        """Product codes by product id: from the cache while fresh, else one bulk read per 100 products.
        A product Pipedrive no longer lists (deleted) has no code."""
        now = self._clock()
        stale = sorted(i for i in product_ids
                       if i not in self._product_codes or now - self._product_codes[i][1] > PRODUCT_CACHE_SECONDS)
        for start in range(0, len(stale), BULK_IDS):
            chunk = stale[start:start + BULK_IDS]
            found = {str(p["id"]): p.get("code") or None
                     for p in self._pages("/api/v2/products", {"ids": ",".join(chunk)}, "GET products by id")}
            for product_id in chunk:
                self._product_codes[product_id] = (found.get(product_id), now)
        return {i: self._product_codes[i][0] for i in product_ids}

    def _organisation(self, org_id: str) -> CrmOrganisation:
        org = self._call("GET", f"/api/v2/organizations/{org_id}", what="GET organization")["data"]
        # Strict: a deal is not invoiced on an account whose bridge fields were never set up (its
        # ContactID and balances could not be written back).
        return self._organisation_of(org, self.field_codes("organization"))

    @staticmethod
    def _organisation_of(org: dict[str, Any], codes: dict[str, str]) -> CrmOrganisation:
        custom = org.get("custom_fields") or {}

        def value(key: str) -> Any:
            return _custom_value(custom.get(codes[key])) if key in codes else None

        terms = value("payment_terms_days")
        return CrmOrganisation(
            id=str(org["id"]),
            name=org.get("name") or "",
            email=value("billing_email") or None,
            address=_address(org.get("address")),
            xero_contact_id=value("xero_contact_id") or None,
            payment_terms_days=int(_decimal(terms)) if terms not in (None, "") else None,
        )

    def _person(self, person_id: str) -> CrmPerson:
        person = self._call("GET", f"/api/v2/persons/{person_id}", what="GET person")["data"]
        return CrmPerson(id=str(person["id"]), name=person.get("name"), email=_primary_email(person))

    # ------------------------------------------------------------------ listings (crm.directory)
    def won_deals(self, *, won_from: datetime | None = None, won_to: datetime | None = None) -> Iterator[DealSummary]:
        params: dict[str, Any] = {"status": "won", "sort_by": "id"}
        if won_from is not None:  # a deal won at t was last updated at t or later
            params["updated_since"] = won_from.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        invoice_code = self._read_codes("deal").get("invoice_id")
        for deal in self._pages("/api/v2/deals", params, "GET deals"):
            won = _time(deal.get("won_time"))
            if deal.get("status") != "won" or won is None:
                continue
            if (won_from is not None and won < won_from) or (won_to is not None and won >= won_to):
                continue
            custom = deal.get("custom_fields") or {}
            yield DealSummary(
                id=str(deal["id"]), title=deal.get("title") or f"Deal {deal['id']}", status="won",
                value=_decimal(deal.get("value")), currency=deal.get("currency") or "GBP", won_time=won,
                organisation_id=str(deal["org_id"]) if deal.get("org_id") else None,
                person_id=str(deal["person_id"]) if deal.get("person_id") else None,
                invoice_id=(_custom_value(custom.get(invoice_code)) or None) if invoice_code else None,
            )

    def read_deals(self, deal_ids: Sequence[str]) -> list[CrmDeal]:
        deals: list[CrmDeal] = []
        for start in range(0, len(deal_ids), BULK_IDS):
            deals.extend(self._read_some(list(deal_ids[start:start + BULK_IDS])))
        return deals

    def _read_some(self, deal_ids: list[str]) -> list[CrmDeal]:
        ids = ",".join(deal_ids)
        raw = {str(d["id"]): d for d in self._pages("/api/v2/deals", {"ids": ids}, "GET deals by id")}
        items: dict[str, list[dict[str, Any]]] = {}
        for item in self._pages("/api/v2/deals/products", {"deal_ids": ids}, "GET products of deals"):
            if item.get("is_enabled") is not False:
                items.setdefault(str(item["deal_id"]), []).append(item)
        self._codes_of({str(i["product_id"]) for some in items.values() for i in some if i.get("product_id") is not None})
        lines = {deal_id: self._lines(some) for deal_id, some in items.items()}
        org_ids = sorted({str(d["org_id"]) for d in raw.values() if d.get("org_id")})
        person_ids = sorted({str(d["person_id"]) for d in raw.values() if d.get("person_id")})
        codes = self._read_codes("organization") if org_ids else {}
        orgs = {str(o["id"]): self._organisation_of(o, codes)
                for o in self._pages("/api/v2/organizations", {"ids": ",".join(org_ids)}, "GET organizations by id")} \
            if org_ids else {}
        persons = {str(p["id"]): CrmPerson(id=str(p["id"]), name=p.get("name"), email=_primary_email(p))
                   for p in self._pages("/api/v2/persons", {"ids": ",".join(person_ids)}, "GET persons by id")} \
            if person_ids else {}
        return [self._deal(deal, lines.get(deal_id, []), orgs.get(str(deal.get("org_id"))),
                           persons.get(str(deal.get("person_id"))))
                for deal_id in deal_ids if (deal := raw.get(deal_id)) is not None]

    def organisations(self) -> Iterator[CrmOrganisation]:
        codes = self._read_codes("organization")
        for org in self._pages("/api/v2/organizations", {}, "GET organizations"):
            yield self._organisation_of(org, codes)

    def persons(self) -> Iterator[ListedPerson]:
        for person in self._pages("/api/v2/persons", {}, "GET persons"):
            yield ListedPerson(id=str(person["id"]), name=person.get("name"), email=_primary_email(person),
                               organisation_id=str(person["org_id"]) if person.get("org_id") else None)

    def products(self) -> Iterator[ListedProduct]:
        for product in self._pages("/api/v2/products", {}, "GET products"):
            yield ListedProduct(id=str(product["id"]), name=product.get("name") or "", code=product.get("code") or None)

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


def _rate_limited(response: httpx.Response) -> RateLimitedError:
    """Pipedrive's 429: the daily token budget (x-daily-requests-left 0: wait for tomorrow) or the burst
    window (x-ratelimit-reset: seconds until the window frees a slot)."""
    if response.headers.get("x-daily-requests-left") == "0":
        return RateLimitedError("pipedrive daily API token budget used up", retry_after_seconds=None, problem="daily",
                                details={"service": SERVICE})
    reset = response.headers.get("x-ratelimit-reset") or response.headers.get("retry-after")
    try:
        wait = max(1.0, float(reset)) if reset is not None else 2.0
    except ValueError:
        wait = 2.0
    return RateLimitedError("pipedrive rate limit hit", retry_after_seconds=wait, problem="burst",
                            details={"service": SERVICE})


def _time(text: Any) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if isinstance(text, str) and text else None


def _line(item: dict[str, Any], product_code: str | None) -> CrmLine:
    return CrmLine(
        name=item.get("name") or "Item",
        product_id=str(item["product_id"]) if item.get("product_id") is not None else None,
        product_code=product_code,
        quantity=_decimal(item.get("quantity"), Decimal(1)),
        unit_price=_decimal(item.get("item_price")),
        discount=_decimal(item.get("discount")),
        discount_type=item.get("discount_type") or "percentage",
        tax_percent=_decimal(item["tax"]) if item.get("tax") is not None else None,
        tax_method=item.get("tax_method"),
        comments=item.get("comments"),
    )


def _primary_email(person: dict[str, Any]) -> str | None:
    emails = person.get("emails") or person.get("email") or []
    primary = next((e.get("value") for e in emails if isinstance(e, dict) and e.get("primary")), None)
    first = next((e.get("value") for e in emails if isinstance(e, dict) and e.get("value")), None)
    return primary or first


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


def _code(field: dict[str, Any]) -> str | None:
    return field.get("field_code") or field.get("key")


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("error") or body.get("message") or body)[:300]
