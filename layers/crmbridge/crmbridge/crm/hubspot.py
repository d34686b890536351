"""HubSpot: CRM v3 deals, companies, contacts, line items, pipelines, properties and notes.

A deal is read with its associations; its primary company (else the first) is the organisation, its
first contact the person, its line items the lines. Whether it is won comes from its pipeline: the
stage `closedwon`, or any stage whose metadata.probability is 1.0 (custom pipelines).

The bridge's own properties (Xero invoice number, status, ContactID...) live in a property group
"xero_bridge" on deals and companies, created once by `bridgectl setup` (stored in crm.field_store);
workers check they exist once per process and never create one. Property values travel as strings, as HubSpot keeps them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
    TaxMethod,
)
from crmbridge.errors import PermanentError, RateLimitedError, RetryableError
from crmbridge.http import permanent_for_status, retry_after_seconds, send

SERVICE = "hubspot"
GROUP = "xero_bridge"
GROUP_LABEL = "Xero (bridge)"
WON_STAGE = "closedwon"
NOTE_TO_DEAL = 214  # HUBSPOT_DEFINED association type: note -> deal
DEAL_TO_PRIMARY_COMPANY = "deal_to_company"  # the labelled (Primary) association's v3 name
PIPELINE_CACHE_SECONDS = 60.0
BATCH_READ_MAX = 100

# The bridge's properties: key in code -> (name in HubSpot, label, type, fieldType).
DEAL_PROPERTIES: dict[str, tuple[str, str, str, str]] = {
    "invoice_number": ("xero_invoice_number", "Xero invoice number", "string", "text"),
    "invoice_id": ("xero_invoice_id", "Xero invoice ID", "string", "text"),
    "invoice_status": ("xero_invoice_status", "Xero invoice status", "string", "text"),
    "invoice_url": ("xero_invoice_url", "Xero invoice link", "string", "text"),
    "invoice_total": ("xero_invoice_total", "Xero invoice total", "number", "number"),
    "amount_due": ("xero_amount_due", "Xero amount due", "number", "number"),
    "amount_paid": ("xero_amount_paid", "Xero amount paid", "number", "number"),
    "due_date": ("xero_due_date", "Xero due date", "date", "date"),
    "paid_date": ("xero_paid_date", "Xero paid date", "date", "date"),
    "tax_method": ("xero_tax_method", "Xero tax method", "enumeration", "select"),
}
COMPANY_PROPERTIES: dict[str, tuple[str, str, str, str]] = {
    "xero_contact_id": ("xero_contact_id", "Xero contact ID", "string", "text"),
    "payment_terms_days": ("xero_payment_terms_days", "Payment terms (days)", "number", "number"),
    "outstanding": ("xero_outstanding_balance", "Xero outstanding balance", "number", "number"),
    "overdue": ("xero_overdue_balance", "Xero overdue balance", "number", "number"),
    "on_stop": ("xero_on_stop", "Xero on stop", "bool", "booleancheckbox"),
    "billing_email": ("xero_billing_email", "Billing email", "string", "text"),
}
# Options as HubSpot's properties API requires them: label, value and hidden on each.
TAX_METHOD_OPTIONS = [{"label": "Tax exclusive", "value": "exclusive", "displayOrder": 0, "hidden": False},
                      {"label": "Tax inclusive", "value": "inclusive", "displayOrder": 1, "hidden": False},
                      {"label": "No tax", "value": "none", "displayOrder": 2, "hidden": False}]
BOOL_OPTIONS = [{"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
                {"label": "No", "value": "false", "displayOrder": 1, "hidden": False}]
_OPTIONS = {"enumeration": TAX_METHOD_OPTIONS, "bool": BOOL_OPTIONS}
_PROPERTIES = {"deals": DEAL_PROPERTIES, "companies": COMPANY_PROPERTIES}

DEAL_READ = ["dealname", "amount", "dealstage", "pipeline", "closedate", "deal_currency_code",
             "hubspot_owner_id", DEAL_PROPERTIES["tax_method"][0]]
COMPANY_READ = ["name", "address", "address2", "city", "zip", "country", "phone",
                *(spec[0] for key, spec in COMPANY_PROPERTIES.items()
                  if key in ("xero_contact_id", "payment_terms_days", "billing_email"))]
CONTACT_READ = ["firstname", "lastname", "email"]
LINE_READ = ["name", "description", "quantity", "price", "hs_product_id", "hs_sku", "discount",
             "hs_discount_percentage", "hs_tax_rate", "hs_position_on_quote"]


# ---------------------------------------------------------------------------------------------------- bodies
class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AssociationRef(_Body):
    id: str
    type: str | None = None


class AssociationList(_Body):
    results: list[AssociationRef] = Field(default_factory=list)


class HubSpotObject(_Body):
    id: str
    properties: dict[str, str | None] = Field(default_factory=dict)
    associations: dict[str, AssociationList] = Field(default_factory=dict)
    archived: bool = False

    def prop(self, name: str) -> str | None:
        value = self.properties.get(name)
        return value if value not in (None, "") else None

    def associated(self, object_type: str) -> list[AssociationRef]:
        """Associated ids of a type; v3 names line items "line items" (with a space) in this map."""
        for key in (object_type, object_type.replace("_", " ")):
            if key in self.associations:
                return self.associations[key].results
        return []


class BatchRead(_Body):
    results: list[HubSpotObject] = Field(default_factory=list)


class StageMetadata(_Body):
    probability: str | None = None
    is_closed: str | None = Field(None, alias="isClosed")


class Stage(_Body):
    id: str
    label: str | None = None
    metadata: StageMetadata = Field(default_factory=StageMetadata)


class Pipeline(_Body):
    id: str
    label: str | None = None
    stages: list[Stage] = Field(default_factory=list)


class Pipelines(_Body):
    results: list[Pipeline] = Field(default_factory=list)


class PropertyList(_Body):
    class Item(_Body):
        name: str
        label: str | None = None

    results: list[Item] = Field(default_factory=list)


class AccountDetails(_Body):
    company_currency: str | None = Field(None, alias="companyCurrency")


class ErrorBody(_Body):
    message: str | None = None
    category: str | None = None
    policy_name: str | None = Field(None, alias="policyName")


# ---------------------------------------------------------------------------------------------------- values
def _decimal(value: str | None, default: Decimal = Decimal(0)) -> Decimal:
    if value is None or value == "":
        return default
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise PermanentError("crm_bad_number", f"not a number: {value!r}") from exc


def _text(value: Decimal) -> str:
    """A number as a HubSpot property value: plain digits, never an exponent."""
    return format(value, "f")


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def stage_is_won(stage: Stage) -> bool:
    if stage.id == WON_STAGE:
        return True
    try:
        return Decimal(stage.metadata.probability or "0") == 1
    except InvalidOperation:
        return False


def stage_status(stage: Stage | None) -> str:
    """The deal's status as the sync knows it: won, lost (closed, not won) or open."""
    if stage is None:
        return "open"
    if stage_is_won(stage):
        return "won"
    return "lost" if (stage.metadata.is_closed or "").lower() == "true" else "open"


def _seconds_to_midnight(now: datetime) -> float:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (tomorrow - now).total_seconds())


# ---------------------------------------------------------------------------------------------------- client
class HubSpotCrm:
    name = "hubspot"
    field_entities = ("deals", "companies")

    def __init__(self, http: httpx.Client, api_url: str, app_token: str, *, portal_id: str | None = None,
                 app_url: str | None = None, fields: FieldStore | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._http = http
        self._api = api_url.rstrip("/")
        self._token = app_token
        self._portal_id = portal_id
        self._app_url = (app_url or "https://app.hubspot.com").rstrip("/")
        self._clock = clock
        self._now = now
        self._fields = fields
        self._ready: set[str] = set()  # object types whose bridge properties are known to exist
        self._pipelines: dict[str, Pipeline] = {}
        self._pipelines_at: float | None = None
        self._currency: str | None = None
        self.calls = 0

    # ------------------------------------------------------------------ HTTP
    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
              what: str) -> dict[str, Any]:
        request = self._http.build_request(
            method, f"{self._api}/{path.lstrip('/')}", params=params, json=json,
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
        )
        self.calls += 1
        response = send(self._http, request, service=SERVICE)
        if response.status_code == 429:
            raise self._rate_limited(response)
        if response.status_code >= 500:
            raise RetryableError(f"HubSpot answered {response.status_code} to {what}",
                                 retry_after_seconds=retry_after_seconds(response), details={"service": SERVICE})
        if response.status_code == 404:
            raise PermanentError("crm_not_found", f"HubSpot has no such record ({what})")
        if response.status_code in (401, 403):
            raise PermanentError("crm_auth", f"HubSpot refused the app token ({what})")
        if response.status_code == 409:
            raise _Conflict(what)
        if response.status_code >= 400:
            error = _error(response)
            if response.status_code == 400 and "PROPERTY_DOESNT_EXIST" in (error.message or ""):
                raise _MissingProperty(what)
            if response.status_code == 400:
                raise PermanentError("crm_rejected", f"HubSpot refused {what}: {(error.message or '')[:300]}",
                                     details={"category": error.category})
            raise permanent_for_status(response, service=SERVICE, what=what)
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError as exc:
            raise RetryableError(f"HubSpot answered {what} with a body that is not JSON") from exc

    def _rate_limited(self, response: httpx.Response) -> RateLimitedError:
        """HubSpot says which limit in policyName; its headers say how long the window is."""
        policy = _error(response).policy_name or "TEN_SECONDLY_ROLLING"
        delay = retry_after_seconds(response)
        if delay is None and policy == "DAILY":
            delay = _seconds_to_midnight(self._now())
        if delay is None:
            interval = response.headers.get("x-hubspot-ratelimit-interval-milliseconds")
            delay = int(interval) / 1000 if interval and interval.isdigit() else 10.0
        return RateLimitedError(f"HubSpot rate limit hit ({policy})", retry_after_seconds=delay,
                                problem=f"hubspot_{policy.lower()}", details={"service": SERVICE})

    def _model[T: BaseModel](self, model: type[T], body: dict[str, Any], what: str) -> T:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise RetryableError(f"HubSpot answered {what} in an unexpected shape") from exc

    # ------------------------------------------------------------------ the bridge's properties
    def property_name(self, object_type: str, key: str) -> str:
        return _PROPERTIES[object_type][key][0]

    def _named(self, object_type: str, values: dict[str, str]) -> dict[str, str]:
        return {self.property_name(object_type, key): value for key, value in values.items()}

    def find_fields(self, object_type: str) -> tuple[StoredFields, list[str]]:
        """The bridge's properties on `object_type` (deals|companies) that exist, and the keys of those
        missing. Names are unique in HubSpot, so the bridge's are found by name; another property with
        one of their labels (made by hand) is listed as a duplicate, never used."""
        existing = self._model(
            PropertyList, self._call("GET", f"/crm/v3/properties/{object_type}", what=f"GET {object_type} properties"),
            "properties").results
        names = {p.name for p in existing}
        codes, duplicates, missing = {}, {}, []
        for key, (name, label, _, _) in _PROPERTIES[object_type].items():
            if name in names:
                codes[key] = name
            else:
                missing.append(key)
            alike = sorted(p.name for p in existing if p.label == label and p.name != name)
            if alike:
                duplicates[key] = alike
        return StoredFields(codes=codes, duplicates=duplicates), missing

    def create_fields(self, object_type: str, keys: list[str]) -> None:
        """Create the group and these of the bridge's properties (only `bridgectl setup` does); a 409
        (it exists already) counts as done."""
        with contextlib.suppress(_Conflict):
            self._call("POST", f"/crm/v3/properties/{object_type}/groups", json={"name": GROUP, "label": GROUP_LABEL},
                       what=f"POST {object_type} property group")
        for key in keys:
            name, label, type_, field_type = _PROPERTIES[object_type][key]
            body: dict[str, Any] = {"name": name, "label": label, "type": type_, "fieldType": field_type,
                                    "groupName": GROUP, "description": "Written by the Xero CRM bridge."}
            if type_ in _OPTIONS:
                body["options"] = _OPTIONS[type_]
            with contextlib.suppress(_Conflict):
                self._call("POST", f"/crm/v3/properties/{object_type}", json=body, what=f"POST {object_type} property")

    def field_codes(self, object_type: str) -> dict[str, str]:
        """The bridge's property names on `object_type`, once it is known they exist: stored by `bridgectl
        setup` and read once per process. Never creates one; raises crm_fields_missing when one is missing."""
        if object_type not in self._ready:
            stored = self._fields.load(SERVICE, object_type) if self._fields is not None else None
            if stored is not None:
                missing = [key for key in _PROPERTIES[object_type] if key not in stored.codes]
            else:
                # Nothing stored: a deployment from before `bridgectl setup`, whose properties an older
                # version created, keeps working; the first worker stores what it found.
                found, missing = self.find_fields(object_type)
                if not missing and self._fields is not None:
                    self._fields.save_first(SERVICE, object_type, found)
            if missing:
                raise fields_missing("HubSpot", object_type, [_PROPERTIES[object_type][key][0] for key in missing])
            self._ready.add(object_type)
        return {key: spec[0] for key, spec in _PROPERTIES[object_type].items()}

    def _patch(self, object_type: str, object_id: str, values: dict[str, str], what: str) -> None:
        """PATCH the bridge's properties (one deleted in HubSpot since setup is a setup to run again)."""
        self.field_codes(object_type)
        path = f"/crm/v3/objects/{object_type}/{_id(object_id)}"
        try:
            self._call("PATCH", path, json={"properties": values}, what=what)
        except _MissingProperty as exc:
            self._ready.discard(object_type)
            raise fields_missing("HubSpot", object_type, []) from exc

    # ------------------------------------------------------------------ reads
    def read_deal(self, deal_id: str) -> CrmDeal:
        deal_id = _id(deal_id)
        # Strict: no deal is invoiced where the bridge's properties were never set up.
        self.field_codes("deals")
        self.field_codes("companies")
        deal = self._model(HubSpotObject, self._call(
            "GET", f"/crm/v3/objects/deals/{_id(deal_id)}",
            params={"properties": ",".join(DEAL_READ), "associations": "companies,contacts,line_items"},
            what="GET deal"), "GET deal")
        stage = self._stage(deal.prop("pipeline"), deal.prop("dealstage"))
        company = _primary(deal.associated("companies"))
        contacts = deal.associated("contacts")
        lines = self._lines([a.id for a in deal.associated("line_items")])
        return CrmDeal(
            id=deal.id,
            title=deal.prop("dealname") or f"Deal {deal.id}",
            status=stage_status(stage),
            value=_decimal(deal.prop("amount")),
            currency=deal.prop("deal_currency_code") or self._company_currency(),
            owner_id=deal.prop("hubspot_owner_id"),
            won_time=_instant(deal.prop("closedate")) if stage and stage_is_won(stage) else None,
            organisation=self._company(company.id) if company else None,
            person=self._contact(contacts[0].id) if contacts else None,
            lines=lines,
            tax_method=_deal_tax_method(deal, lines),
            url=self._record_url("0-3", deal.id),
        )

    def _record_url(self, type_id: str, object_id: str) -> str | None:
        if not self._portal_id:
            return None
        return f"{self._app_url}/contacts/{self._portal_id}/record/{type_id}/{object_id}"

    def _stage(self, pipeline_id: str | None, stage_id: str | None) -> Stage | None:
        """The deal's stage with its metadata, from the deal pipelines (cached for a minute)."""
        if not stage_id:
            return None
        for fresh in (False, True):
            pipelines = self._deal_pipelines(refresh=fresh)
            candidates = [pipelines[pipeline_id]] if pipeline_id in pipelines else list(pipelines.values())
            for pipeline in candidates:
                for stage in pipeline.stages:
                    if stage.id == stage_id:
                        return stage
        raise PermanentError("crm_unknown_stage", f"HubSpot deal stage {stage_id!r} is in no deal pipeline")

    def _deal_pipelines(self, *, refresh: bool) -> dict[str, Pipeline]:
        stale = self._pipelines_at is None or self._clock() - self._pipelines_at > PIPELINE_CACHE_SECONDS
        if refresh or stale:
            found = self._model(Pipelines, self._call("GET", "/crm/v3/pipelines/deals", what="GET deal pipelines"),
                                "GET deal pipelines")
            self._pipelines = {p.id: p for p in found.results}
            self._pipelines_at = self._clock()
        return self._pipelines

    def _company_currency(self) -> str:
        """A deal without deal_currency_code is in the account's company currency."""
        if self._currency is None:
            details = self._model(AccountDetails, self._call("GET", "/account-info/v3/details", what="GET account"),
                                  "GET account")
            self._currency = details.company_currency or "USD"
        return self._currency

    def _company(self, company_id: str) -> CrmOrganisation:
        company = self._model(HubSpotObject, self._call(
            "GET", f"/crm/v3/objects/companies/{_id(company_id)}", params={"properties": ",".join(COMPANY_READ)},
            what="GET company"), "GET company")
        line1 = ", ".join(p for p in (company.prop("address"), company.prop("address2")) if p) or None
        address = CrmAddress(line1=line1, city=company.prop("city"), postal_code=company.prop("zip"),
                             country=company.prop("country"))
        terms = company.prop(COMPANY_PROPERTIES["payment_terms_days"][0])
        return CrmOrganisation(
            id=company.id,
            name=company.prop("name") or "",
            email=company.prop(COMPANY_PROPERTIES["billing_email"][0]),
            address=address if any((line1, address.city, address.postal_code, address.country)) else None,
            xero_contact_id=company.prop(COMPANY_PROPERTIES["xero_contact_id"][0]),
            payment_terms_days=int(_decimal(terms)) if terms else None,
        )

    def _contact(self, contact_id: str) -> CrmPerson:
        contact = self._model(HubSpotObject, self._call(
            "GET", f"/crm/v3/objects/contacts/{_id(contact_id)}", params={"properties": ",".join(CONTACT_READ)},
            what="GET contact"), "GET contact")
        name = " ".join(p for p in (contact.prop("firstname"), contact.prop("lastname")) if p) or None
        return CrmPerson(id=contact.id, name=name, email=contact.prop("email"))

    def _lines(self, ids: list[str]) -> list[CrmLine]:
        items: list[HubSpotObject] = []
        for start in range(0, len(ids), BATCH_READ_MAX):
            chunk = ids[start : start + BATCH_READ_MAX]
            body = {"properties": LINE_READ, "inputs": [{"id": i} for i in chunk]}
            items += self._model(BatchRead, self._call("POST", "/crm/v3/objects/line_items/batch/read", json=body,
                                                       what="POST line items batch read"), "line items").results
        items.sort(key=lambda i: (_decimal(i.prop("hs_position_on_quote"), Decimal(10**9)), int(i.id)))
        return [_line(item) for item in items]

    # ------------------------------------------------------------------ writes
    def set_organisation_contact(self, organisation_id: str, xero_contact_id: str) -> None:
        self._patch("companies", organisation_id, {self.property_name("companies", "xero_contact_id"): xero_contact_id},
                    "PATCH company")

    def write_invoice(self, deal_id: str, invoice: InvoiceWriteBack) -> None:
        values: dict[str, str] = {
            "invoice_id": invoice.invoice_id,
            "invoice_number": invoice.invoice_number or "",
            "invoice_status": invoice.status,
            "invoice_url": invoice.url,
        }
        for key, amount in (("invoice_total", invoice.total), ("amount_due", invoice.amount_due),
                            ("amount_paid", invoice.amount_paid)):
            if amount is not None:
                values[key] = _text(amount)
        if invoice.due_date:
            values["due_date"] = invoice.due_date.isoformat()
        # An empty string clears the property (a payment deleted in Xero un-pays the invoice).
        values["paid_date"] = invoice.fully_paid_on.isoformat() if invoice.fully_paid_on else ""
        self._patch("deals", deal_id, self._named("deals", values), "PATCH deal")

    def write_organisation_balance(self, organisation_id: str, balance: OrganisationBalance) -> None:
        self._patch("companies", organisation_id, self._named("companies", {
            "outstanding": _text(balance.outstanding), "overdue": _text(balance.overdue),
            "on_stop": "true" if balance.on_stop else "false",
        }), "PATCH company")

    def update_organisation(self, organisation_id: str, update: OrganisationUpdate) -> None:
        values: dict[str, str] = {}
        if update.email is not None:
            values[self.property_name("companies", "billing_email")] = update.email
        if update.phone is not None:
            values["phone"] = update.phone
        if update.address is not None:
            values.update({"address": update.address.line1 or "", "city": update.address.city or "",
                           "zip": update.address.postal_code or "", "country": update.address.country or ""})
        if values:
            self._patch("companies", organisation_id, values, "PATCH company")

    def add_deal_note(self, deal_id: str, html: str) -> None:
        """A note on the deal's timeline, assigned to the deal's owner (so it is theirs to see)."""
        deal_id = _id(deal_id)
        owner = self._model(HubSpotObject, self._call(
            "GET", f"/crm/v3/objects/deals/{deal_id}", params={"properties": "hubspot_owner_id"}, what="GET deal"),
            "GET deal").prop("hubspot_owner_id")
        moment = self._now().astimezone(UTC)
        properties = {"hs_note_body": html,
                      "hs_timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"}
        if owner:
            properties["hubspot_owner_id"] = owner
        body = {
            "properties": properties,
            "associations": [{"to": {"id": deal_id},
                              "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_DEAL}]}],
        }
        self._call("POST", "/crm/v3/objects/notes", json=body, what="POST note")


class _MissingProperty(PermanentError):
    """400 naming a property that does not exist (one of the bridge's was deleted in HubSpot)."""

    def __init__(self, what: str) -> None:
        super().__init__("crm_rejected", f"HubSpot refused {what}: a property does not exist")


class _Conflict(PermanentError):
    """409: the thing to create exists already (only creating the bridge's properties expects it)."""

    def __init__(self, what: str) -> None:
        super().__init__("crm_conflict", f"HubSpot says it exists already ({what})")


def _id(object_id: str) -> str:
    """HubSpot record ids are numbers; anything else names no record (and must not reach a URL path)."""
    text = str(object_id).strip()
    if not text.isdigit():
        raise PermanentError("crm_not_found", f"{text[:40]!r} is not a HubSpot record id")
    return text


def _primary(refs: list[AssociationRef]) -> AssociationRef | None:
    """The Primary company of a deal (its labelled association), else the first one associated."""
    return next((r for r in refs if r.type == DEAL_TO_PRIMARY_COMPANY), refs[0] if refs else None)


def _deal_tax_method(deal: HubSpotObject, lines: list[CrmLine]) -> TaxMethod | None:
    """The deal's "Xero tax method" when set; else exclusive when a line has a tax rate, as HubSpot adds
    line tax on top of the price; else None (the mapping's default)."""
    chosen = deal.prop(DEAL_PROPERTIES["tax_method"][0])
    if chosen in ("exclusive", "inclusive", "none"):
        return chosen  # type: ignore[return-value]
    return "exclusive" if any(line.tax_percent is not None for line in lines) else None


def _line(item: HubSpotObject) -> CrmLine:
    quantity = _decimal(item.prop("quantity"), Decimal(1))
    percentage = item.prop("hs_discount_percentage")
    # HubSpot's `discount` is per unit; Xero's DiscountAmount is for the whole line.
    if percentage is not None:
        discount, discount_type = _decimal(percentage), "percentage"
    else:
        discount, discount_type = _decimal(item.prop("discount")) * quantity, "amount"
    rate = item.prop("hs_tax_rate")
    return CrmLine(
        name=item.prop("name") or "Item",
        product_id=item.prop("hs_product_id"),
        product_code=item.prop("hs_sku"),
        quantity=quantity,
        unit_price=_decimal(item.prop("price")),
        discount=discount,
        discount_type=discount_type,  # type: ignore[arg-type]
        tax_percent=_decimal(rate) if rate is not None else None,
        comments=item.prop("description"),
    )


def _error(response: httpx.Response) -> ErrorBody:
    try:
        return ErrorBody.model_validate(response.json())
    except (ValueError, ValidationError):
        return ErrorBody(message=response.text[:200])
