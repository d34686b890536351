"""The Accounting API under /api.xro/2.0: Contacts, Invoices, Payments, TaxRates, Accounts, Organisation.

Every call goes through one pipeline, in Xero's order: bearer token (401), tenant header and connection
(403), scope (403), rate limits (429 + headers), injected faults, Idempotency-Key, then the resource.
Paths are matched case-insensitively, as Xero does.

Batches: PUT creates, POST creates or updates (by InvoiceID/ContactID, or InvoiceNumber/ContactNumber).
With summarizeErrors=false every element comes back (HTTP 200) with HasErrors/ValidationErrors; by
default one bad element turns the answer into a 400 ValidationException listing the bad elements while
the valid ones are still created (the behaviour Xero staff describe; the spec's default is not trusted).

Idempotency-Key (PUT/POST, at most 128 characters): a replay with the same key, path and body returns
the first response without processing again; the same key with a different request is refused with 400
"Idempotency Key: <key> is used with a different request." Keys are remembered `idempotency_ttl`
seconds of emulator time (Xero does not document its retention).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from local.emulators.common import fault_after, fault_before, json_response
from local.emulators.common.faults import FaultRule
from local.emulators.common.jsonutil import loads

from . import contacts as contacts_logic
from . import invoices as invoices_logic
from . import payments as payments_logic
from . import render
from .dates import parse_date, parse_timestamp, to_wire
from .errors import (
    NOT_FOUND_TEXT,
    ValidationFailed,
    post_data_invalid,
    problem,
    query_parse_exception,
    validation_errors,
    validation_exception,
)
from .models import Org
from .store import IdempotencyRecord
from .where import WhereError, compile_where, sort_records

if TYPE_CHECKING:
    from .app import XeroEmulator

logger = logging.getLogger(__name__)

API_PREFIX = "/api.xro/2.0"
MAX_POST_BYTES = 3_500_000  # "A POST may be at most 3.5 MB"
MAX_IDEMPOTENCY_KEY = 128

# resource -> (scopes that allow reading, scopes that allow writing)
SCOPES: dict[str, tuple[set[str], set[str]]] = {
    "contacts": ({"accounting.contacts", "accounting.contacts.read"}, {"accounting.contacts"}),
    "invoices": (
        {"accounting.transactions", "accounting.transactions.read", "accounting.invoices", "accounting.invoices.read"},
        {"accounting.transactions", "accounting.invoices"},
    ),
    "payments": (
        {"accounting.transactions", "accounting.transactions.read", "accounting.payments", "accounting.payments.read"},
        {"accounting.transactions", "accounting.payments"},
    ),
    "taxrates": ({"accounting.settings", "accounting.settings.read"}, {"accounting.settings"}),
    "accounts": ({"accounting.settings", "accounting.settings.read"}, {"accounting.settings"}),
    "organisation": ({"accounting.settings", "accounting.settings.read"}, {"accounting.settings"}),
    "currencies": ({"accounting.settings", "accounting.settings.read"}, {"accounting.settings"}),
}
DATE_FIELDS = ("Date", "DueDate", "ExpectedPaymentDate", "PlannedPaymentDate", "FullyPaidOnDate")


def _names(*names: str) -> set[str]:
    return {name.lower() for name in names}


# Top-level fields `where` and `order` may name, per type (spec schemas); anything else is refused.
FIELDS = {
    "Contact": _names(*contacts_logic.WRITABLE_FIELDS, "ContactID", "UpdatedDateUTC", "IsSupplier", "IsCustomer",
                      "Balances", "HasAttachments", "HasValidationErrors", "ContactGroups"),
    "Invoice": _names("Type", "InvoiceID", "InvoiceNumber", "Reference", "Payments", "CreditNotes", "Prepayments",
                      "Overpayments", "AmountDue", "AmountPaid", "AmountCredited", "CurrencyRate", "IsDiscounted",
                      "HasAttachments", "HasErrors", "Contact", "Date", "DateString", "DueDate", "DueDateString",
                      "Status", "LineAmountTypes", "LineItems", "SubTotal", "TotalTax", "Total", "TotalDiscount",
                      "UpdatedDateUTC", "CurrencyCode", "SentToContact", "FullyPaidOnDate", "ExpectedPaymentDate",
                      "BrandingThemeID", "Url", "RepeatingInvoiceID"),
    "Payment": _names("PaymentID", "Date", "BankAmount", "Amount", "Reference", "CurrencyRate", "PaymentType",
                      "Status", "UpdatedDateUTC", "HasAccount", "IsReconciled", "Account", "Invoice",
                      "HasValidationErrors"),
    "TaxRate": _names("Name", "TaxType", "ReportTaxType", "CanApplyToAssets", "CanApplyToEquity",
                      "CanApplyToExpenses", "CanApplyToLiabilities", "CanApplyToRevenue", "DisplayTaxRate",
                      "EffectiveRate", "Status", "TaxComponents"),
    "Account": _names("AccountID", "Code", "Name", "Status", "Type", "TaxType", "Class", "EnablePaymentsToAccount",
                      "ShowInExpenseClaims", "ReportingCode", "HasAttachments", "UpdatedDateUTC", "AddToWatchlist",
                      "SystemAccount", "BankAccountNumber", "BankAccountType", "CurrencyCode", "Description"),
    "Currency": _names("Code", "Description"),
}


def _flag(name: str, default: bool) -> bool:
    value = request.args.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("true", "1", "yes")


def _csv(name: str) -> list[str]:
    values: list[str] = []
    for raw in request.args.getlist(name):
        values.extend(part.strip().strip('"') for part in raw.split(",") if part.strip())
    return values


def _unitdp() -> int:
    return 4 if request.args.get("unitdp", "").strip() == "4" else 2


def _text(status: int, text: str) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _echo(element: Any) -> Any:
    """A refused element as Xero echoes it: what was sent, dates re-written in Xero's format."""
    if not isinstance(element, dict):
        return element
    out = {}
    for key, value in element.items():
        if key in DATE_FIELDS and isinstance(value, str):
            try:
                out[key] = parse_date(value)
                continue
            except ValueError:
                pass
        out[key] = _echo(value) if isinstance(value, dict) else value
    return out


class AccountingApi:
    def __init__(self, emulator: XeroEmulator) -> None:
        self.emulator = emulator
        self.core = emulator.core
        self.store = emulator.store
        self.identity = emulator.identity
        self.limiter = emulator.limiter
        self.config = emulator.config

    # pipeline -----------------------------------------------------------------------------------
    def register(self, app: Flask) -> None:
        app.add_url_rule(f"{API_PREFIX}/<path:rest>", "xero_accounting", self.handle,
                         methods=["GET", "PUT", "POST", "DELETE"])

    def handle(self, rest: str) -> Response:
        parts = [part for part in rest.split("/") if part]
        resource = parts[0].lower() if parts else ""
        if resource not in SCOPES:
            return _text(404, NOT_FOUND_TEXT)
        lock = self.core.lock
        with lock:
            token = self.identity.check_bearer(request.headers.get("Authorization"))
            if isinstance(token, Response):
                return token
            tenant_id = (request.headers.get("xero-tenant-id") or "").strip().lower()
            if not tenant_id or tenant_id not in self.store.orgs or not self.store.connected(tenant_id):
                return json_response(problem(403, "Forbidden", "AuthenticationUnsuccessful"), 403)
            if self.config.enforce_scopes:
                readers, writers = SCOPES[resource]
                allowed = readers if request.method == "GET" else writers
                if not allowed.intersection(token.scope):
                    return json_response(problem(403, "Forbidden", "AuthorizationUnsuccessful"), 403)
            decision = self.limiter.acquire(tenant_id)
        if not decision.allowed:
            return json_response(problem(429, "Too Many Requests", f"Rate limit exceeded: {decision.problem}"),
                                 429, decision.headers)
        rule: FaultRule | None = None
        try:
            rule = self.core.faults.pick(request.method, request.path, self.core.clock.now().isoformat())
            response = fault_before(self.core, rule, self._fault_429) if rule else None
            if response is None:
                response = self._with_idempotency(tenant_id, resource, parts[1:])
            with lock:
                headers = self.limiter.headers(tenant_id)
            for key, value in headers.items():
                response.headers.setdefault(key, value)
            return fault_after(self.core, rule, response)
        finally:
            with lock:
                self.limiter.release(tenant_id)

    @staticmethod
    def _fault_429(rule: FaultRule) -> tuple[int, Any, dict[str, str]]:
        problem_kind = rule.problem or "minute"
        headers = {"X-Rate-Limit-Problem": problem_kind}
        if problem_kind in ("minute", "day"):
            headers["Retry-After"] = str(rule.retry_after if rule.retry_after is not None else 60)
        return 429, problem(429, "Too Many Requests", f"Rate limit exceeded: {problem_kind}"), headers

    def _with_idempotency(self, tenant_id: str, resource: str, rest: list[str]) -> Response:
        key = request.headers.get("Idempotency-Key")
        if request.method not in ("PUT", "POST") or key is None:
            with self.core.lock:
                return self._dispatch(tenant_id, resource, rest)
        if len(key) > MAX_IDEMPOTENCY_KEY or not key.strip():
            return json_response(validation_exception([{"ValidationErrors": validation_errors(
                [f"Idempotency-Key must be between 1 and {MAX_IDEMPOTENCY_KEY} characters."])}]), 400)
        body = request.get_data(cache=True)
        fingerprint = hashlib.sha256(
            request.method.encode() + b" " + request.path.lower().encode() + b"\n" + body
        ).hexdigest()
        with self.core.lock:
            now = self.core.clock.now()
            ttl = timedelta(seconds=self.config.idempotency_ttl)
            record = self.store.idempotency.get((tenant_id, key))
            if record is not None and now - record.stored_at > ttl:
                record = None
            if record is not None:
                if record.fingerprint != fingerprint:
                    message = f"Idempotency Key: {key} is used with a different request."
                    return json_response(validation_exception(
                        [{"ValidationErrors": validation_errors([message])}]), 400)
                replay = Response(record.body, status=record.status, headers=record.headers)
                replay.headers["X-Emulator-Idempotent-Replay"] = "true"
                return replay
            response = self._dispatch(tenant_id, resource, rest)
            # Kept whatever the outcome: a replay of a refused request is refused again, as in Xero.
            self.store.idempotency[(tenant_id, key)] = IdempotencyRecord(
                fingerprint, response.status_code, response.get_data(),
                {"Content-Type": response.headers.get("Content-Type", "application/json")}, now,
            )
            return response

    def _dispatch(self, tenant_id: str, resource: str, rest: list[str]) -> Response:
        """Runs under the lock: one request sees and leaves a consistent world."""
        org = self.store.orgs[tenant_id]
        method = request.method
        ident = rest[0] if rest else None
        if len(rest) > 1:
            return _text(404, NOT_FOUND_TEXT)
        if method in ("PUT", "POST"):
            if request.content_length and request.content_length > MAX_POST_BYTES:
                return _text(413, "Request entity too large")
            try:
                body = loads(request.get_data(cache=True) or b"{}")
            except ValueError:
                return json_response(post_data_invalid(), 400)
        else:
            body = None
        try:
            handler = {
                ("contacts", "GET"): self._get_contacts,
                ("contacts", "PUT"): self._write_contacts,
                ("contacts", "POST"): self._write_contacts,
                ("invoices", "GET"): self._get_invoices,
                ("invoices", "PUT"): self._write_invoices,
                ("invoices", "POST"): self._write_invoices,
                ("payments", "GET"): self._get_payments,
                ("payments", "PUT"): self._write_payments,
                ("payments", "POST"): self._write_payments,
                ("taxrates", "GET"): self._get_tax_rates,
                ("accounts", "GET"): self._get_accounts,
                ("organisation", "GET"): self._get_organisation,
                ("currencies", "GET"): self._get_currencies,
            }.get((resource, method))
            if handler is None:
                return _text(405 if method != "DELETE" else 404, "Method not allowed")
            return handler(org, ident, body)
        except WhereError as exc:
            return json_response(query_parse_exception(str(exc)), 400)

    # listing helpers ----------------------------------------------------------------------------
    def _list(self, key: str, type_name: str, rows: list[tuple[Any, dict]], *, aliases: dict | None = None,
              paged_render: Callable[[Any], dict] | None = None) -> Response:
        """where, order, page/pageSize over (record, native rendering) pairs."""
        where = request.args.get("where")
        if where:
            predicate = compile_where(where, type_name, aliases, FIELDS.get(type_name))
            rows = [(record, native) for record, native in rows if predicate(native)]
        order = request.args.get("order")
        if order:
            by_id = {id(native): record for record, native in rows}
            natives = sort_records([native for _, native in rows], order, type_name, FIELDS.get(type_name))
            rows = [(by_id[id(native)], native) for native in natives]
        now = self.core.clock.now()
        page_arg = request.args.get("page")
        if page_arg is None:
            return json_response(render.envelope(now, key, [to_wire(native) for _, native in rows]))
        try:
            page = max(1, int(page_arg))
            size = int(request.args.get("pageSize", 100))
        except ValueError:
            return json_response(validation_exception([{"ValidationErrors": validation_errors(
                ["page and pageSize must be whole numbers."])}]), 400)
        size = min(max(1, size), 1000)
        chunk = rows[(page - 1) * size: page * size]
        pagination = {"page": page, "pageSize": size, "pageCount": math.ceil(len(rows) / size), "itemCount": len(rows)}
        items = [to_wire(paged_render(record) if paged_render else native) for record, native in chunk]
        return json_response(render.envelope(now, key, items, pagination))

    def _modified_since(self) -> Any:
        header = request.headers.get("If-Modified-Since")
        if not header:
            return None
        try:
            return parse_timestamp(header)
        except (ValueError, TypeError):
            return None

    def _one(self, key: str, native: dict) -> Response:
        return json_response(render.envelope(self.core.clock.now(), key, [to_wire(native)]))

    # contacts -----------------------------------------------------------------------------------
    def _get_contacts(self, org: Org, ident: str | None, _body: Any) -> Response:
        today = self.core.clock.now().date()
        summary = _flag("summaryOnly", False)
        if ident:
            record = org.contacts.get(ident.lower()) or contacts_logic.find_by_number(org, ident)
            if record is None:
                return _text(404, NOT_FOUND_TEXT)
            return self._one("Contacts", render.contact(org, record, today))
        records = list(org.contacts.values())
        ids = {value.lower() for value in _csv("IDs")}
        if ids:
            records = [r for r in records if r.contact_id in ids]
        if not _flag("includeArchived", False):
            records = [r for r in records if r.status != "ARCHIVED"]
        since = self._modified_since()
        if since is not None:
            records = [r for r in records if r.updated > since]
        term = (request.args.get("searchTerm") or "").lower()
        if term:
            records = [r for r in records if any(term in str(r.fields.get(f) or "").lower()
                                                 for f in ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress"))]
        rows = [(r, render.contact(org, r, today, summary_only=summary)) for r in records]
        return self._list("Contacts", "Contact", rows)

    def _write_contacts(self, org: Org, ident: str | None, body: Any) -> Response:
        now = self.core.clock.now()
        today = now.date()

        def apply(element: dict) -> tuple[dict, str, str]:
            existing = None
            if request.method == "POST":
                existing = contacts_logic.resolve_for_upsert(org, element, ident)
            elif element.get("ContactID"):
                raise ValidationFailed("A contact with this ContactID already exists; use POST to update it.")
            if existing is None:
                record = contacts_logic.create_contact(org, element, now)
                event = "CREATE"
            else:
                record = contacts_logic.update_contact(org, existing, element, now)
                event = "UPDATE"
            return render.contact(org, record, today), event, record.contact_id

        return self._batch(org, body, "Contacts", apply, "CONTACT", error_flag="HasValidationErrors")

    # invoices -----------------------------------------------------------------------------------
    def _get_invoices(self, org: Org, ident: str | None, _body: Any) -> Response:
        unitdp = _unitdp()
        summary = _flag("summaryOnly", False)
        if ident:
            record = invoices_logic.find_invoice(org, ident)
            if record is None:
                return _text(404, NOT_FOUND_TEXT)
            return self._one("Invoices", render.invoice(org, record, unitdp=unitdp))
        records = list(org.invoices.values())
        ids = {value.lower() for value in _csv("IDs")}
        if ids:
            records = [r for r in records if r.invoice_id in ids]
        contact_ids = {value.lower() for value in _csv("ContactIDs")}
        if contact_ids:
            records = [r for r in records if r.contact_id in contact_ids]
        numbers = set(_csv("InvoiceNumbers"))
        if numbers:
            records = [r for r in records if r.invoice_number in numbers]
        statuses = {value.upper() for value in _csv("Statuses")}
        if statuses:
            records = [r for r in records if r.status in statuses]
        since = self._modified_since()
        if since is not None:
            records = [r for r in records if r.updated > since]
        term = (request.args.get("searchTerm") or "").lower()
        if term:
            records = [r for r in records if term in r.invoice_number.lower() or term in r.reference.lower()]
        # Without `page` Xero lists invoices without their line items; with it, 100 per page with lines.
        paged = request.args.get("page") is not None and not summary
        rows = [(r, render.invoice(org, r, unitdp=unitdp, with_lines=paged, full_contact=False)) for r in records]
        return self._list("Invoices", "Invoice", rows,
                          aliases={"contactid": ["Contact", "ContactID"], "contactname": ["Contact", "Name"]})

    def _write_invoices(self, org: Org, ident: str | None, body: Any) -> Response:
        now = self.core.clock.now()
        unitdp = _unitdp()

        def apply(element: dict) -> tuple[dict, str, str]:
            if self.config.strict_numbers and (messages := invoices_logic.string_numbers(element)):
                raise ValidationFailed(*messages)
            existing = None
            if request.method == "POST":
                existing = invoices_logic.resolve_for_upsert(org, element, ident)
            elif element.get("InvoiceID"):
                raise ValidationFailed("An invoice with this InvoiceID already exists; use POST to update it.")
            result = invoices_logic.apply_invoice(org, element, now, unitdp, existing)
            if result.new_contact is not None:
                self.emulator.publish("CONTACT", "CREATE", org.tenant_id, result.new_contact.contact_id)
            rendered = render.invoice(org, result.invoice, unitdp=unitdp)
            return rendered, "CREATE" if result.created else "UPDATE", result.invoice.invoice_id

        return self._batch(org, body, "Invoices", apply, "INVOICE", error_flag="HasErrors")

    # payments -----------------------------------------------------------------------------------
    def _get_payments(self, org: Org, ident: str | None, _body: Any) -> Response:
        if ident:
            record = org.payments.get(ident.lower())
            if record is None:
                return _text(404, NOT_FOUND_TEXT)
            return self._one("Payments", render.payment(org, record))
        records = list(org.payments.values())
        since = self._modified_since()
        if since is not None:
            records = [r for r in records if r.updated > since]
        return self._list("Payments", "Payment", [(r, render.payment(org, r)) for r in records])

    def _write_payments(self, org: Org, ident: str | None, body: Any) -> Response:
        now = self.core.clock.now()

        def apply(element: dict) -> tuple[dict, str, str]:
            if ident or element.get("PaymentID"):
                payment = org.payments.get(str(ident or element.get("PaymentID")).lower())
                if payment is None:
                    raise ValidationFailed("Payment could not be found.")
                if element.get("Status") != "DELETED":
                    raise ValidationFailed("A payment can only be updated to a Status of DELETED.")
                invoice = payments_logic.delete_payment(org, payment, now)
            else:
                payment, invoice = payments_logic.create_payment(org, element, now)
            # No payment webhook category exists: a payment shows as an INVOICE UPDATE.
            self.emulator.publish("INVOICE", "UPDATE", org.tenant_id, invoice.invoice_id)
            return render.payment(org, payment), "", ""

        return self._batch(org, body, "Payments", apply, None, error_flag="HasValidationErrors")

    # settings -----------------------------------------------------------------------------------
    def _get_tax_rates(self, org: Org, ident: str | None, _body: Any) -> Response:
        rates = list(org.tax_rates.values())
        if ident:
            rates = [r for r in rates if r.tax_type.lower() == ident.lower()]
            if not rates:
                return _text(404, NOT_FOUND_TEXT)
        return self._list("TaxRates", "TaxRate", [(r, render.tax_rate(r)) for r in rates])

    def _get_accounts(self, org: Org, ident: str | None, _body: Any) -> Response:
        accounts = list(org.accounts.values())
        if ident:
            accounts = [a for a in accounts if a.account_id == ident.lower()]
            if not accounts:
                return _text(404, NOT_FOUND_TEXT)
        return self._list("Accounts", "Account", [(a, render.account(a, org.created)) for a in accounts])

    def _get_organisation(self, org: Org, _ident: str | None, _body: Any) -> Response:
        native = {
            "OrganisationID": org.tenant_id,
            "Name": org.name,
            "LegalName": org.name,
            "PaysTax": True,
            "Version": "UK",
            "OrganisationType": "COMPANY",
            "BaseCurrency": org.base_currency,
            "CountryCode": org.country_code,
            "IsDemoCompany": False,
            "OrganisationStatus": "ACTIVE",
            "FinancialYearEndDay": 31,
            "FinancialYearEndMonth": 3,
            "SalesTaxBasis": "ACCRUAL",
            "SalesTaxPeriod": "QUARTERLY1",
            "DefaultSalesTax": "Tax Exclusive",
            "DefaultPurchasesTax": "Tax Exclusive",
            "CreatedDateUTC": org.created,
            "OrganisationEntityType": "COMPANY",
            "Timezone": "GMTSTANDARDTIME",
            "ShortCode": org.short_code,
            "Edition": "BUSINESS",
            "Class": "STANDARD",
            "Addresses": [],
            "Phones": [],
            "ExternalLinks": [],
            "PaymentTerms": {},
        }
        return self._one("Organisations", native)

    def _get_currencies(self, org: Org, _ident: str | None, _body: Any) -> Response:
        names = {"GBP": "British Pound", "EUR": "Euro", "USD": "United States Dollar"}
        rows = [(code, {"Code": code, "Description": names.get(code, code)}) for code in org.currencies]
        return self._list("Currencies", "Currency", rows)

    # batches ------------------------------------------------------------------------------------
    def _batch(self, org: Org, body: Any, key: str, apply: Callable[[dict], tuple[dict, str, str]],
               category: str | None, *, error_flag: str) -> Response:
        if isinstance(body, dict) and key in body:
            elements = body[key]
        elif isinstance(body, dict) and body:
            elements = [body]  # the SDK's single-object calls (e.g. create_payment) send the bare object
        else:
            elements = None
        if not isinstance(elements, list) or not elements:
            return json_response(post_data_invalid(f"No {key} were found in the request."), 400)
        summarize = _flag("summarizeErrors", True)
        results: list[dict] = []
        failed: list[dict] = []
        for element in elements:
            if not isinstance(element, dict):
                failed_element = {error_flag: True, "ValidationErrors": validation_errors(["Invalid element"])}
                results.append(failed_element)
                failed.append(failed_element)
                continue
            try:
                rendered, event, resource_id = apply(element)
            except ValidationFailed as exc:
                echoed = _echo(element)
                echoed[error_flag] = True
                echoed["StatusAttributeString"] = "ERROR"
                echoed["ValidationErrors"] = validation_errors(exc.messages)
                results.append(echoed)
                failed.append(echoed)
                continue
            rendered["StatusAttributeString"] = "OK"
            results.append(rendered)
            if category and event:
                self.emulator.publish(category, event, org.tenant_id, resource_id)
        if failed and summarize:
            return json_response(validation_exception([to_wire(element) for element in failed]), 400)
        return json_response(render.envelope(self.core.clock.now(), key, [to_wire(r) for r in results]))

