"""HubSpot: CRM v3 deals, companies, contacts, line items, products, pipelines, properties and notes.

A deal is read with its associations; its primary company (else the first) is the organisation, its
first contact the person, its line items the lines. Whether it is won comes from its pipeline: the
stage `closedwon`, or any stage whose metadata.probability is 1.0 (custom pipelines).

The go-live tooling (crm.directory) reads in bulk: won deals in a period through the CRM search API
(hs_is_closed_won and closedate; 200 a page, 10,000 results a query, 5 searches a second per account),
several deals at once through batch reads and v4 batch association reads, 100 ids a request.

The bridge's own properties (Xero invoice number, status, ContactID...) live in a property group
"xero_bridge" on deals and companies, created once by `bridgectl setup` (stored in crm.field_store);
workers check they exist once per process and never create one. Property values travel as strings, as HubSpot keeps them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
LIST_PAGE = 100  # the most a GET listing of objects returns at once
SEARCH_PAGE = 200  # the most a CRM search page holds
SEARCH_RESULTS_CAP = 10_000  # a search pages no further than this: the next query starts past the last id
SEARCH_INTERVAL_SECONDS = 0.2  # CRM search allows 5 requests a second per account
SEARCH_POLICY = "SECONDLY"  # the policyName of a 429 from the search limit (as the emulator names it)

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
PRODUCT_READ = ["name", "hs_sku"]
WON_READ = ["dealname", "amount", "closedate", "deal_currency_code", DEAL_PROPERTIES["invoice_id"][0]]
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


class Paging(_Body):
    class Next(_Body):
        after: str

    next: Next | None = None


class Page(_Body):
    """A listing or search page: GET /crm/v3/objects/{type} and POST .../search answer alike."""

    results: list[HubSpotObject] = Field(default_factory=list)
    paging: Paging | None = None
    total: int | None = None  # how many match (search answers only)

    @property
    def after(self) -> str | None:
        return self.paging.next.after if self.paging and self.paging.next else None


class AssociatedIds(_Body):
    """One record's associations of one type, as the v4 batch read answers them."""

    class To(_Body):
        class Kind(_Body):
            label: str | None = None

        to_object_id: int | str = Field(alias="toObjectId")
        association_types: list[Kind] = Field(default_factory=list, alias="associationTypes")

        @property
        def primary(self) -> bool:
            return any(kind.label == "Primary" for kind in self.association_types)

    class From(_Body):
        id: str

    from_: From = Field(alias="from")
    to: list[To] = Field(default_factory=list)
    paging: Paging | None = None


class AssociationBatch(_Body):
    results: list[AssociatedIds] = Field(default_factory=list)


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


def _millis(instant: datetime) -> str:
    """An instant as a search filter value on a datetime property: epoch milliseconds."""
    return str(int(instant.timestamp() * 1000))


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
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep) -> None:
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
        self._sleep = sleep
        self._searched_at: float | None = None
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
        if delay is None and policy == SEARCH_POLICY:
            delay = 1.0  # the search limit is per second
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
        company = _primary(deal.associated("companies"))
        contacts = deal.associated("contacts")
        return self._deal_of(deal, organisation=self._company(company.id) if company else None,
                             person=self._contact(contacts[0].id) if contacts else None,
                             lines=self._lines([a.id for a in deal.associated("line_items")]))

    def _deal_of(self, deal: HubSpotObject, *, organisation: CrmOrganisation | None, person: CrmPerson | None,
                 lines: list[CrmLine]) -> CrmDeal:
        stage = self._stage(deal.prop("pipeline"), deal.prop("dealstage"))
        return CrmDeal(
            id=deal.id,
            title=deal.prop("dealname") or f"Deal {deal.id}",
            status=stage_status(stage),
            value=_decimal(deal.prop("amount")),
            currency=deal.prop("deal_currency_code") or self._company_currency(),
            owner_id=deal.prop("hubspot_owner_id"),
            won_time=_instant(deal.prop("closedate")) if stage and stage_is_won(stage) else None,
            organisation=organisation,
            person=person,
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
        return _organisation(self._model(HubSpotObject, self._call(
            "GET", f"/crm/v3/objects/companies/{_id(company_id)}", params={"properties": ",".join(COMPANY_READ)},
            what="GET company"), "GET company"))

    def _contact(self, contact_id: str) -> CrmPerson:
        return _person(self._model(HubSpotObject, self._call(
            "GET", f"/crm/v3/objects/contacts/{_id(contact_id)}", params={"properties": ",".join(CONTACT_READ)},
            what="GET contact"), "GET contact"))

    def _lines(self, ids: list[str]) -> list[CrmLine]:
        return _sorted_lines(self._batch_read("line_items", ids, LINE_READ))

    def _batch_read(self, object_type: str, ids: Sequence[str], properties: list[str]) -> list[HubSpotObject]:
        """The records with these ids, 100 a request; those that no longer exist are left out (HubSpot
        answers 207 naming them)."""
        found: list[HubSpotObject] = []
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), BATCH_READ_MAX):
            body = {"properties": properties, "inputs": [{"id": i} for i in unique[start : start + BATCH_READ_MAX]]}
            found += self._model(BatchRead, self._call("POST", f"/crm/v3/objects/{object_type}/batch/read", json=body,
                                                       what=f"POST {object_type} batch read"), object_type).results
        return found

    # ------------------------------------------------------------------ listings (crm.directory)
    def won_deals(self, *, won_from: datetime | None = None, won_to: datetime | None = None) -> Iterator[DealSummary]:
        """Deals closed won with a close date in [won_from, won_to), found by search, lowest id first."""
        filters = [{"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"}]
        if won_from is not None:
            filters.append({"propertyName": "closedate", "operator": "GTE", "value": _millis(won_from)})
        if won_to is not None:
            filters.append({"propertyName": "closedate", "operator": "LT", "value": _millis(won_to)})
        for page in self._search("deals", filters, WON_READ):
            ids = [deal.id for deal in page]
            companies = self._associations("deals", "companies", ids)
            contacts = self._associations("deals", "contacts", ids)
            for deal in page:
                won = _instant(deal.prop("closedate"))
                if won is None:
                    continue
                people = contacts.get(deal.id, [])
                yield DealSummary(
                    id=deal.id, title=deal.prop("dealname") or f"Deal {deal.id}", status="won",
                    value=_decimal(deal.prop("amount")),
                    currency=deal.prop("deal_currency_code") or self._company_currency(), won_time=won,
                    organisation_id=_primary_id(companies.get(deal.id, [])),
                    person_id=str(people[0].to_object_id) if people else None,
                    invoice_id=deal.prop(DEAL_PROPERTIES["invoice_id"][0]),
                )

    def read_deals(self, deal_ids: Sequence[str]) -> list[CrmDeal]:
        """Deals as read_deal reads them, 100 a round of batch reads; unknown ids are left out."""
        wanted = [str(i).strip() for i in deal_ids if str(i).strip().isdigit()]
        deals: list[CrmDeal] = []
        for start in range(0, len(wanted), BATCH_READ_MAX):
            deals += self._read_some(wanted[start : start + BATCH_READ_MAX])
        return deals

    def _read_some(self, deal_ids: list[str]) -> list[CrmDeal]:
        raw = {d.id: d for d in self._batch_read("deals", deal_ids, DEAL_READ)}
        found = [i for i in deal_ids if i in raw]
        companies = self._associations("deals", "companies", found)
        contacts = self._associations("deals", "contacts", found)
        items = self._associations("deals", "line_items", found)
        company_of = {i: c for i in found if (c := _primary_id(companies.get(i, [])))}
        contact_of = {i: str(contacts[i][0].to_object_id) for i in found if contacts.get(i)}
        orgs = {c.id: _organisation(c) for c in self._batch_read("companies", list(company_of.values()), COMPANY_READ)}
        persons = {c.id: _person(c) for c in self._batch_read("contacts", list(contact_of.values()), CONTACT_READ)}
        line_ids = {i: [str(ref.to_object_id) for ref in items.get(i, [])] for i in found}
        lines = {item.id: item for item in self._batch_read("line_items", [x for ids in line_ids.values() for x in ids],
                                                                 LINE_READ)}
        return [self._deal_of(raw[i], organisation=orgs.get(company_of.get(i, "")),
                              person=persons.get(contact_of.get(i, "")),
                              lines=_sorted_lines([lines[x] for x in line_ids[i] if x in lines]))
                for i in found]

    def organisations(self) -> Iterator[CrmOrganisation]:
        for company in self._list("companies", COMPANY_READ):
            yield _organisation(company)

    def persons(self) -> Iterator[ListedPerson]:
        for contact in self._list("contacts", CONTACT_READ, associations="companies"):
            company = _primary(contact.associated("companies"), primary_type="contact_to_company")
            person = _person(contact)
            yield ListedPerson(id=person.id, name=person.name, email=person.email,
                               organisation_id=company.id if company else None)

    def products(self) -> Iterator[ListedProduct]:
        for product in self._list("products", PRODUCT_READ):
            yield ListedProduct(id=product.id, name=product.prop("name") or "", code=product.prop("hs_sku"))

    def _list(self, object_type: str, properties: list[str], *, associations: str | None = None,
              ) -> Iterator[HubSpotObject]:
        """Every record of a type, following paging.next.after."""
        params: dict[str, Any] = {"limit": LIST_PAGE, "properties": ",".join(properties)}
        if associations:
            params["associations"] = associations
        while True:
            page = self._model(Page, self._call("GET", f"/crm/v3/objects/{object_type}", params=params,
                                                what=f"GET {object_type}"), object_type)
            yield from page.results
            if page.after is None:
                return
            params["after"] = page.after

    def _search(self, object_type: str, filters: list[dict[str, str]], properties: list[str],
                ) -> Iterator[list[HubSpotObject]]:
        """Pages of records matching all `filters`, lowest id first. One query pages at most 10,000 results
        (HubSpot answers 400 past them): the next query then starts past the last id seen."""
        last_id: str | None = None
        while True:
            group = [*filters, {"propertyName": "hs_object_id", "operator": "GT", "value": last_id}] if last_id \
                else filters
            body: dict[str, Any] = {"filterGroups": [{"filters": group}], "properties": properties,
                                    "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                                    "limit": SEARCH_PAGE}
            fetched = 0
            while True:
                self._pace_search()
                page = self._model(Page, self._call("POST", f"/crm/v3/objects/{object_type}/search", json=body,
                                                    what=f"POST {object_type} search"), f"{object_type} search")
                if page.results:
                    yield page.results
                    last_id = page.results[-1].id
                fetched += len(page.results)
                if not page.results or (page.after is None and fetched >= (page.total or 0)):
                    return
                if page.after is None or fetched + SEARCH_PAGE > SEARCH_RESULTS_CAP:
                    break  # this query pages no further: the rest comes from a query past last_id
                body["after"] = page.after

    def _pace_search(self) -> None:
        """At most one search per SEARCH_INTERVAL_SECONDS from this client (HubSpot's 5 a second)."""
        if self._searched_at is not None:
            wait = self._searched_at + SEARCH_INTERVAL_SECONDS - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._searched_at = self._clock()

    def _associations(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[AssociatedIds.To]]:
        """Associated ids of `ids`, by id, through the v4 batch read (100 ids a request; a record with more
        associations than one answer holds is asked again from its `after`)."""
        out: dict[str, list[AssociatedIds.To]] = {}
        pending = [{"id": i} for i in dict.fromkeys(ids)]
        while pending:
            chunk, pending = pending[:BATCH_READ_MAX], pending[BATCH_READ_MAX:]
            answer = self._model(AssociationBatch, self._call(
                "POST", f"/crm/v4/associations/{from_type}/{to_type}/batch/read", json={"inputs": chunk},
                what=f"POST {from_type} to {to_type} associations batch read"), "associations")
            for result in answer.results:
                out.setdefault(result.from_.id, []).extend(result.to)
                if result.paging and result.paging.next:
                    pending.append({"id": result.from_.id, "after": result.paging.next.after})
        return out

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


def _primary(refs: list[AssociationRef], primary_type: str = DEAL_TO_PRIMARY_COMPANY) -> AssociationRef | None:
    """The Primary company of a deal or contact (its labelled association), else the first one associated."""
    return next((r for r in refs if r.type == primary_type), refs[0] if refs else None)


def _primary_id(refs: list[AssociatedIds.To]) -> str | None:
    """The same from a v4 answer, where the Primary association carries its label."""
    chosen = next((r for r in refs if r.primary), refs[0] if refs else None)
    return str(chosen.to_object_id) if chosen else None


def _organisation(company: HubSpotObject) -> CrmOrganisation:
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


def _person(contact: HubSpotObject) -> CrmPerson:
    name = " ".join(p for p in (contact.prop("firstname"), contact.prop("lastname")) if p) or None
    return CrmPerson(id=contact.id, name=name, email=contact.prop("email"))


def _sorted_lines(items: list[HubSpotObject]) -> list[CrmLine]:
    """Line items in their order on the quote, else in the order they were created."""
    ordered = sorted(items, key=lambda i: (_decimal(i.prop("hs_position_on_quote"), Decimal(10**9)), int(i.id)))
    return [_line(item) for item in ordered]


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
