"""The Xero Accounting API client: the only module that talks to api.xro/2.0."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from pydantic import ValidationError

from crmbridge.errors import PermanentError, RetryableError
from crmbridge.http import permanent_for_status, raise_for_transient, send
from crmbridge.ids import is_xero_guid
from crmbridge.xero.models import Contact, ElementResult, Invoice, NewInvoice, TaxRate, xero_json

SERVICE = "xero"
MAX_BATCH = 50  # elements per POST/PUT, as Xero advises
PAGE_SIZE = 1000  # pageSize asked for; a server that caps it lower only means more pages


@dataclass(frozen=True)
class BatchElement:
    """One element of a batch answer: the invoice Xero created, or its validation messages."""

    invoice: Invoice | None
    errors: list[str]


class AccessTokens(Protocol):
    def access_token(self, tenant_id: str) -> str: ...
    def expired(self, tenant_id: str, token: str) -> None: ...


def where_literal(value: str) -> str | None:
    """A string literal for Xero's `where` filter, or None when the value cannot be carried by one.

    Xero documents no escape inside a `where` string, and backslash-escaped quotes are reported to be
    answered with a QueryParseException: a value with a double quote or a backslash (or a control
    character) is looked up another way and filtered exactly by the caller.
    """
    if any(char in value for char in '"\\') or any(ord(char) < 32 for char in value):
        return None
    return f'"{value}"'


def _xero_id(value: str, what: str) -> str:
    """An id about to go into a URL path: a GUID, or no request at all (defence in depth behind the
    checks where ids enter the bridge)."""
    if not is_xero_guid(value):
        raise PermanentError("invalid_xero_id", f"{what} {value[:80]!r} is not a Xero id (a GUID): not requested")
    return value


def if_modified_since(moment: datetime) -> str:
    """If-Modified-Since as the spec shows it: ISO 8601 with its UTC offset (2020-02-06T12:17:43.202-08:00)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def validation_messages(body: dict[str, Any]) -> list[str]:
    """Every ValidationErrors[].Message of a Xero 400 or of a summarizeErrors=false element."""
    messages = []
    for element in body.get("Elements") or [body]:
        for error in element.get("ValidationErrors") or []:
            if error.get("Message"):
                messages.append(str(error["Message"]))
    if not messages and body.get("Message"):
        messages.append(str(body["Message"]))
    return messages


class XeroClient:
    def __init__(
        self,
        http: httpx.Client,
        api_url: str,
        tokens: AccessTokens,
        *,
        on_response: Callable[[str, httpx.Response], None] = lambda tenant, response: None,
        before_request: Callable[[str], None] = lambda tenant: None,
    ) -> None:
        self._http = http
        self._api = api_url.rstrip("/")
        self._tokens = tokens
        self._on_response = on_response
        self._before_request = before_request
        self.calls = 0

    def _call(self, method: str, path: str, tenant_id: str, *, params: dict[str, Any] | None = None,
              json: Any = None, headers: dict[str, str] | None = None, what: str) -> dict[str, Any]:
        response = self._send(method, path, tenant_id, params=params, json=json, headers=headers)
        if response.status_code == 401:
            # Expired or revoked before its time: refresh (once, under the lease) and try again once.
            self._tokens.expired(tenant_id, response.request.headers["Authorization"].removeprefix("Bearer "))
            response = self._send(method, path, tenant_id, params=params, json=json, headers=headers)
            if response.status_code == 401:
                raise RetryableError("xero refused a freshly refreshed access token", retry_after_seconds=60)
        raise_for_transient(response, service=SERVICE, problem=lambda r: r.headers.get("x-rate-limit-problem"))
        if response.status_code == 400:
            body = _json(response)
            raise PermanentError("xero_validation", "; ".join(validation_messages(body)) or "Xero refused the request")
        if response.status_code >= 400:
            raise permanent_for_status(response, service=SERVICE, what=what)
        return _json(response)

    def _send(self, method: str, path: str, tenant_id: str, *, params: dict[str, Any] | None,
              json: Any, headers: dict[str, str] | None) -> httpx.Response:
        token = self._tokens.access_token(tenant_id)
        self._before_request(tenant_id)
        # Numbers go out as JSON numbers (httpx's json= would send pydantic's Decimal strings as strings).
        body = {"content": xero_json(json), "headers": {"Content-Type": "application/json"}} if json is not None else {}
        request = self._http.build_request(
            method, f"{self._api}/{path}", params=params, content=body.get("content"),
            headers={"Authorization": f"Bearer {token}", "xero-tenant-id": tenant_id,
                     "Accept": "application/json", **body.get("headers", {}), **(headers or {})},
        )
        self.calls += 1
        response = send(self._http, request, service=SERVICE)
        self._on_response(tenant_id, response)
        return response

    def get_invoice(self, tenant_id: str, invoice_id: str) -> Invoice:
        body = self._call("GET", f"Invoices/{_xero_id(invoice_id, 'InvoiceID')}", tenant_id, what="GET Invoices/{id}")
        return Invoice.model_validate(body["Invoices"][0])

    def invoices_by_reference(self, tenant_id: str, reference: str) -> list[Invoice]:
        return self.invoices_by_references(tenant_id, [reference])

    def invoices_page(self, tenant_id: str, *, page: int, modified_since: datetime | None = None,
                      where: str | None = None) -> list[Invoice]:
        """One page (up to 100) of sales invoices, optionally only those changed since a moment."""
        params: dict[str, Any] = {"page": page, "where": 'Type=="ACCREC"' + (f" AND {where}" if where else "")}
        headers = {"If-Modified-Since": if_modified_since(modified_since)} if modified_since else None
        body = self._call("GET", "Invoices", tenant_id, params=params, headers=headers, what="GET Invoices page")
        return [Invoice.model_validate(i) for i in body.get("Invoices", [])]

    def search_contacts(self, tenant_id: str, term: str) -> list[Contact]:
        body = self._call("GET", "Contacts", tenant_id, params={"searchTerm": term}, what="GET Contacts search")
        return [Contact.model_validate(c) for c in body.get("Contacts", [])]

    def get_contact(self, tenant_id: str, contact_id: str) -> Contact:
        body = self._call("GET", f"Contacts/{_xero_id(contact_id, 'ContactID')}", tenant_id, what="GET Contacts/{id}")
        return Contact.model_validate(body["Contacts"][0])

    def _all_pages(self, resource: str, tenant_id: str, params: dict[str, Any], *, page_size: int) -> list[dict[str, Any]]:
        """Every element of a paged listing: `pagination.pageCount` says when to stop (else a short page)."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self._call("GET", resource, tenant_id, params={**params, "page": page, "pageSize": page_size},
                              what=f"GET {resource} page")
            batch = body.get(resource) or []
            found.extend(batch)
            pages = (body.get("pagination") or {}).get("pageCount")
            if not batch or (pages is not None and page >= int(pages)) or (pages is None and len(batch) < page_size):
                return found
            page += 1

    def contacts(self, tenant_id: str, *, page_size: int = PAGE_SIZE) -> list[Contact]:
        """Every contact of the organisation (archived ones included), page by page."""
        return [Contact.model_validate(c) for c in
                self._all_pages("Contacts", tenant_id, {"includeArchived": "true"}, page_size=page_size)]

    def sales_invoices(self, tenant_id: str, *, where: str | None = None, page_size: int = PAGE_SIZE) -> list[Invoice]:
        """Every sales invoice (with its lines), optionally narrowed by a `where` expression."""
        query = 'Type=="ACCREC"' + (f" AND {where}" if where else "")
        return [Invoice.model_validate(i) for i in
                self._all_pages("Invoices", tenant_id, {"where": query}, page_size=page_size)]

    def invoices_by_references(self, tenant_id: str, references: Sequence[str]) -> list[Invoice]:
        """Sales invoices whose Reference is exactly any of these: those a `where` can carry in one call (a
        `where` of ORs); any other by a searchTerm (InvoiceNumber, Reference) each, filtered exactly here."""
        literals = [literal for r in references if (literal := where_literal(r)) is not None]
        found: list[Invoice] = []
        if literals:
            refs = " OR ".join(f"Reference=={literal}" for literal in literals)
            body = self._call("GET", "Invoices", tenant_id, params={"where": f'Type=="ACCREC" AND ({refs})'},
                              what="GET Invoices by References")
            found += [Invoice.model_validate(i) for i in body.get("Invoices", [])]
        for reference in (r for r in references if where_literal(r) is None):
            body = self._call("GET", "Invoices", tenant_id, params={"searchTerm": reference},
                              what="GET Invoices search")
            found += [invoice for i in body.get("Invoices", [])
                      if (invoice := Invoice.model_validate(i)).type == "ACCREC" and invoice.reference == reference]
        return found

    def tax_rates(self, tenant_id: str) -> list[TaxRate]:
        body = self._call("GET", "TaxRates", tenant_id, what="GET TaxRates")
        return [TaxRate.model_validate(t) for t in body.get("TaxRates", [])]

    def create_invoices(self, tenant_id: str, invoices: Sequence[NewInvoice], *,
                        idempotency_key: str) -> list[BatchElement]:
        """PUT up to 50 invoices in one request with summarizeErrors=false: one answer per element, in
        order (an invoice, or why Xero refused that one). A retried request with the same key replays."""
        if not 0 < len(invoices) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} invoices, not {len(invoices)}")
        body = self._call(
            "PUT", "Invoices", tenant_id, params={"summarizeErrors": "false", "unitdp": "4"},
            json={"Invoices": [i.to_wire() for i in invoices]}, headers={"Idempotency-Key": idempotency_key[:128]},
            what="PUT Invoices (batch)",
        )
        elements = body.get("Invoices") or []
        if len(elements) != len(invoices):
            raise PermanentError("xero_unexpected_response",
                                 f"Xero answered {len(elements)} elements to a batch of {len(invoices)}")
        answers = []
        for element in elements:
            result = ElementResult.model_validate(element)
            if result.has_errors:
                answers.append(BatchElement(invoice=None, errors=validation_messages(element) or ["refused"]))
                continue
            try:
                answers.append(BatchElement(invoice=Invoice.model_validate(element), errors=[]))
            except ValidationError as exc:
                answers.append(BatchElement(invoice=None, errors=[f"answer not understood: {exc.error_count()} errors"]))
        return answers

    def create_invoice(self, tenant_id: str, invoice: NewInvoice, *, idempotency_key: str) -> Invoice:
        """PUT one invoice; the Idempotency-Key makes a retried request a replay, not a second invoice."""
        body = self._call(
            "PUT", "Invoices", tenant_id, params={"summarizeErrors": "false", "unitdp": "4"},
            json={"Invoices": [invoice.to_wire()]}, headers={"Idempotency-Key": idempotency_key[:128]},
            what="PUT Invoices",
        )
        [element] = body.get("Invoices", [None])
        result = ElementResult.model_validate(element or {})
        if element is None or result.has_errors:
            messages = validation_messages(element or {}) or ["Xero did not create the invoice"]
            raise PermanentError("xero_validation", "; ".join(messages))
        try:
            return Invoice.model_validate(element)
        except ValidationError as exc:
            raise PermanentError("xero_unexpected_response", f"invoice response not understood: {exc.error_count()} errors") from exc


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise RetryableError(f"xero answered {response.status_code} with a body that is not JSON") from exc
    return data if isinstance(data, dict) else {"Items": data}
