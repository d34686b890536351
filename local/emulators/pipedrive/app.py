"""The Pipedrive emulator's HTTP surface: v2 REST, v1 notes/webhooks/users, and its control endpoints.

API requests (/api/v2/..., /v1/...) pass, in order: auth (x-api-token header or ?api_token=), the burst
and daily limits (headers on every authenticated answer), injected faults, then the handler.

Control endpoints of this emulator (besides the shared ones from common/app.py):
  POST   /_emulator/seed                         create fields, organizations, persons, products, deals
  GET    /_emulator/ratelimit                    limits and usage
  POST   /_emulator/ratelimit                    {"burst_limit", "burst_window", "daily_budget", "daily_used", "clear"}
  GET    /_emulator/field-code?entity=deal&name=X  the deterministic hash a custom field gets
  POST   /_emulator/app/deals                    changes made "in the app" by a person (change_source "app"),
  PATCH  /_emulator/app/deals/<id>               acting as the salesperson (user 1) unless ?user_id= says
  DELETE /_emulator/app/deals/<id>               otherwise; same bodies as the v2 API
  POST   /_emulator/app/deals/<id>/products
  PATCH  /_emulator/app/deals/<id>/products/<item_id>
  DELETE /_emulator/app/deals/<id>/products/<item_id>
  POST|PATCH|DELETE /_emulator/app/organizations[/<id>], /_emulator/app/persons[/<id>]
  POST   /_emulator/app/products
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request

from local.emulators.common import EmulatorCore, FaultRule, json_response, jsonutil
from local.emulators.common.http import (
    api_headers,
    install_api_errors,
    install_api_gate,
    install_seed_and_rate_limit_control,
    locked_route,
)

from .config import INTEGRATION_USER_ID, SALESPERSON_USER_ID, PipedriveConfig
from .fields import ENTITIES, field_code
from .ratelimit import RateLimiter
from .store import PIPELINES, STAGES, USERS, Actor, Store
from .values import ApiError, bad_request, not_found, page
from .webhooks import EVENT_ACTIONS, EVENT_OBJECTS, MAX_PER_USER, Subscription, WebhookEngine

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/v1/")
FIELD_PATHS = {"dealFields": "deal", "organizationFields": "organization", "personFields": "person",
               "productFields": "product"}
_HASH = re.compile(r"^[0-9a-f]{40}$")

# x-token-cost per operation (official OpenAPI specs; the reference lists the ones the bridge uses).
TOKEN_COSTS: dict[str, int] = {
    "deals_list": 10, "deals_archived": 20, "deal_get": 1, "deal_create": 5, "deal_update": 5, "deal_delete": 3,
    "deal_products_list": 10, "deal_product_add": 5, "deal_product_update": 5, "deal_product_delete": 3,
    "orgs_list": 10, "org_get": 1, "org_create": 5, "org_update": 5, "org_delete": 3,
    "persons_list": 10, "person_get": 1, "person_create": 5, "person_update": 5, "person_delete": 3,
    "products_list": 10, "product_get": 1, "product_create": 5,
    "fields_list": 10, "field_get": 1, "field_create": 5,
    "pipelines_list": 5, "stages_list": 5,
    "notes_create": 10, "notes_list": 20, "note_get": 2,
    "webhooks_list": 10, "webhooks_create": 10, "webhooks_delete": 6,
    "users_me": 2,
}


def ok(data: Any, additional: dict | None = None, status: int = 200) -> Response:
    body: dict[str, Any] = {"success": True, "data": data}
    if additional is not None:
        body["additional_data"] = additional
    return json_response(body, status)


def _body(form_ok: bool = False) -> dict:
    if form_ok and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.to_dict()
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    try:
        body = jsonutil.loads(raw)
    except ValueError as exc:
        raise bad_request("The request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    return body


class PipedriveEmulator:
    """The plugin `create_app` wraps with the shared control endpoints."""

    name = "pipedrive"
    self_managed_fault_prefixes = API_PREFIXES

    def __init__(self, core: EmulatorCore, config: PipedriveConfig) -> None:
        self.core = core
        self.config = config
        self.engine = WebhookEngine(core.lock, core.clock, config.webhooks, config.company_id)
        core.webhooks = self.engine  # type: ignore[assignment]  # same interface as WebhookDispatcher
        self.limiter = RateLimiter(config.limits, core.clock)
        self.store = Store(config, core.clock.now, self.engine.publish)
        self._register_default_webhook()

    # plugin interface -------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        return {
            "company": {"id": self.config.company_id, "domain": self.config.company_domain,
                        "name": self.config.company_name},
            "rate_limits": self.limiter.snapshot(),
            **self.store.snapshot(),
        }

    def reset(self) -> None:
        self.store.reset()
        self.limiter.reset()
        self._register_default_webhook()

    def _register_default_webhook(self) -> None:
        if not self.config.webhook_url:
            return
        self.engine.add_subscription(
            owner_id=INTEGRATION_USER_ID, user_id=INTEGRATION_USER_ID, subscription_url=self.config.webhook_url,
            event_action=self.config.webhook_event_action, event_object=self.config.webhook_event_object,
            name="Xero CRM Bridge (local)", http_auth_user=self.config.webhook_user,
            http_auth_password=self.config.webhook_password, version="2.0",
        )

    # operations shared by the API, the app endpoints and seeding ------------------------------------
    def register_webhook(self, body: dict, user_id: int) -> Subscription:
        url = body.get("subscription_url")
        if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
            raise ApiError(400, "subscription_url must be a full, valid URL")
        action, obj = body.get("event_action"), body.get("event_object")
        if action not in EVENT_ACTIONS:
            raise ApiError(400, f"event_action must be one of {', '.join(EVENT_ACTIONS)}")
        if obj not in EVENT_OBJECTS:
            raise ApiError(400, f"event_object must be one of {', '.join(EVENT_OBJECTS)}")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, "name is required")
        version = str(body.get("version") or "2.0")
        if version != "2.0":
            raise ApiError(400, "The emulator sends webhooks v2 only (version 2.0)")
        owner = body.get("user_id")
        if owner in (None, ""):
            owner = user_id
        else:
            try:
                owner = int(owner)
            except (TypeError, ValueError) as exc:
                raise ApiError(400, "user_id must be an integer") from exc
            if owner not in USERS:
                raise ApiError(400, "User not found")
        if self.engine.count_for_user(owner) >= MAX_PER_USER:
            raise ApiError(400, f"A user can have at most {MAX_PER_USER} webhooks")
        for key in ("http_auth_user", "http_auth_password"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise ApiError(400, f"{key} must be a string")
        return self.engine.add_subscription(
            owner_id=user_id, user_id=owner, subscription_url=url, event_action=action, event_object=obj,
            name=name, http_auth_user=body.get("http_auth_user") or None,
            http_auth_password=body.get("http_auth_password") or None, version=version,
        )

    def seed(self, body: dict) -> dict:
        """Create everything in `body` at once; silent (no webhooks) unless {"notify": true}."""
        store = self.store
        actor = Actor.app(int(body.get("user_id", SALESPERSON_USER_ID)))
        refs: dict[str, dict[str, int]] = {"organizations": {}, "persons": {}, "products": {}, "deals": {},
                                           "deal_products": {}, "webhooks": {}}
        fields: dict[str, dict[str, str]] = {}
        store.silent = not body.get("notify", False)
        try:
            for key, entity in (("deal_fields", "deal"), ("organization_fields", "organization"),
                                ("person_fields", "person"), ("product_fields", "product")):
                for spec in body.get(key, []):
                    name = spec.get("field_name", spec.get("name"))
                    existing = next((f for f in store.fields.custom(entity) if f.field_name == name), None)
                    definition = existing or store.add_field(entity, spec)
                    fields.setdefault(entity, {})[definition.field_name] = definition.field_code
            for spec in body.get("organizations", []):
                spec, ref = self._prepare(spec, "organization", refs)
                org = store.create_org(spec, actor)
                refs["organizations"][ref or str(org["id"])] = org["id"]
            for spec in body.get("persons", []):
                spec, ref = self._prepare(spec, "person", refs)
                person = store.create_person(spec, actor)
                refs["persons"][ref or str(person["id"])] = person["id"]
            for spec in body.get("products", []):
                spec, ref = self._prepare(spec, "product", refs)
                product = store.create_product(spec, actor)
                refs["products"][ref or str(product["id"])] = product["id"]
            for spec in body.get("deals", []):
                lines = list(spec.get("products", []))
                spec, ref = self._prepare({k: v for k, v in spec.items() if k != "products"}, "deal", refs)
                deal = store.create_deal(spec, actor)
                refs["deals"][ref or str(deal["id"])] = deal["id"]
                for line in lines:
                    line, line_ref = self._prepare(line, "deal_product", refs)
                    item = store.add_deal_product(deal["id"], line, actor)
                    refs["deal_products"][line_ref or str(item["id"])] = item["id"]
            for spec in body.get("webhooks", []):
                spec = dict(spec)
                ref = spec.pop("ref", None)
                sub = self.register_webhook(spec, int(spec.get("user_id", INTEGRATION_USER_ID)))
                refs["webhooks"][ref or str(sub.id)] = sub.id
        finally:
            store.silent = False
        return {"refs": refs, "fields": fields}

    def _prepare(self, spec: dict, entity: str, refs: dict[str, dict[str, int]]) -> tuple[dict, str | None]:
        """Resolve seeding conveniences: "ref", "*_ref" links and custom fields named instead of hashed."""
        spec = dict(spec)
        ref = spec.pop("ref", None)
        for key, kind, target in (("org_ref", "organizations", "org_id"), ("person_ref", "persons", "person_id"),
                                  ("product_ref", "products", "product_id")):
            if key in spec:
                name = spec.pop(key)
                if name not in refs[kind]:
                    raise bad_request(f"{key} {name!r} was not seeded before")
                spec[target] = refs[kind][name]
        if isinstance(spec.get("custom_fields"), dict) and entity in ENTITIES:
            by_name = {f.field_name: f.field_code for f in self.store.fields.custom(entity)}
            resolved = {}
            for key, value in spec["custom_fields"].items():
                if not _HASH.match(key) and key in by_name:
                    key = by_name[key]
                resolved[key] = value
            spec["custom_fields"] = resolved
        return spec, ref

    # Flask ------------------------------------------------------------------------------------------
    def register(self, app: Flask) -> None:
        core, store, limiter = self.core, self.store, self.limiter

        def rate_limit_shape(rule: FaultRule) -> tuple[int, Any, dict[str, str]]:
            return 429, ApiError(429, "Request over limit").body(), api_headers()

        def admit() -> tuple[Response | None, dict[str, str]]:
            """x-api-token (or api_token=), then the token's burst window and the company's daily budget."""
            token = request.headers.get("x-api-token") or request.args.get("api_token")
            user_id = self.config.tokens.get(token) if token else None
            if user_id is None:
                return json_response(ApiError(401, "unauthorized access").body(), 401), {}
            g.pd_user = user_id
            cost = TOKEN_COSTS.get(request.endpoint or "", 1)
            with core.lock:
                refused, headers = limiter.check(token, cost)
            if refused == "burst":
                return json_response(ApiError(429, "Request over limit").body(), 429), headers
            if refused == "daily":
                return json_response(ApiError(429, "Daily API token budget used up").body(), 429), headers
            return None, headers

        install_api_gate(app, core, prefixes=API_PREFIXES, admit=admit, rate_limit_shape=rate_limit_shape)

        install_api_errors(app, prefixes=API_PREFIXES, error_type=ApiError, from_http=lambda exc: ApiError(
            exc.code or 500, ("Unknown method ." if exc.code == 404 else exc.description) or exc.name))
        route = locked_route(app, core)

        def api_actor() -> Actor:
            return Actor.api(g.pd_user)

        def listing(records: list[dict], writer: Callable[[dict], dict]) -> Response:
            chunk, next_cursor = page(records, request.args.get("limit"), request.args.get("cursor"))
            return ok([writer(r) for r in chunk], {"next_cursor": next_cursor})

        def include_fields() -> set[str]:
            return {f.strip() for f in (request.args.get("include_fields") or "").split(",") if f.strip()}

        def custom_filter() -> set[str] | None:
            raw = request.args.get("custom_fields")
            return {c.strip() for c in raw.split(",") if c.strip()} if raw else None

        # deals ----------------------------------------------------------------------------------------
        @route("/api/v2/deals", "deals_list", ["GET"])
        def deals_list() -> Response:
            include, only = include_fields(), custom_filter()
            return listing(store.list_deals(request.args), lambda d: store.deal_rest(d, include, only))

        @route("/api/v2/deals/archived", "deals_archived", ["GET"])
        def deals_archived() -> Response:
            deals = [d for d in store.deals.values() if d["is_archived"] and not d["is_deleted"]]
            include = include_fields()
            return listing(store._filter_sort(deals, request.args), lambda d: store.deal_rest(d, include))

        @route("/api/v2/deals", "deal_create", ["POST"])
        def deal_create() -> Response:
            return ok(store.deal_rest(store.create_deal(_body(), api_actor())))

        @route("/api/v2/deals/<int:deal_id>", "deal_get", ["GET"])
        def deal_get(deal_id: int) -> Response:
            return ok(store.deal_rest(store.get_deal(deal_id), include_fields(), custom_filter()))

        @route("/api/v2/deals/<int:deal_id>", "deal_update", ["PATCH"])
        def deal_update(deal_id: int) -> Response:
            return ok(store.deal_rest(store.update_deal(deal_id, _body(), api_actor())))

        @route("/api/v2/deals/<int:deal_id>", "deal_delete", ["DELETE"])
        def deal_delete(deal_id: int) -> Response:
            store.delete_deal(deal_id, api_actor())
            return ok({"id": deal_id})

        @route("/api/v2/deals/<int:deal_id>/products", "deal_products_list", ["GET"])
        def deal_products_list(deal_id: int) -> Response:
            return listing(store.list_deal_products(deal_id, request.args), store.deal_product_rest)

        @route("/api/v2/deals/<int:deal_id>/products", "deal_product_add", ["POST"])
        def deal_product_add(deal_id: int) -> Response:
            return ok(store.deal_product_rest(store.add_deal_product(deal_id, _body(), api_actor())), status=201)

        @route("/api/v2/deals/<int:deal_id>/products/<int:item_id>", "deal_product_update", ["PATCH"])
        def deal_product_update(deal_id: int, item_id: int) -> Response:
            item = store.update_deal_product(deal_id, item_id, _body(), api_actor())
            return ok(store.deal_product_rest(item))

        @route("/api/v2/deals/<int:deal_id>/products/<int:item_id>", "deal_product_delete", ["DELETE"])
        def deal_product_delete(deal_id: int, item_id: int) -> Response:
            store.delete_deal_product(deal_id, item_id, api_actor())
            return ok({"id": item_id})

        # organizations, persons, products -------------------------------------------------------------
        @route("/api/v2/organizations", "orgs_list", ["GET"])
        def orgs_list() -> Response:
            return listing(store.list_orgs(request.args), store.org_rest)

        @route("/api/v2/organizations", "org_create", ["POST"])
        def org_create() -> Response:
            return ok(store.org_rest(store.create_org(_body(), api_actor())))

        @route("/api/v2/organizations/<int:org_id>", "org_get", ["GET"])
        def org_get(org_id: int) -> Response:
            return ok(store.org_rest(store.get_org(org_id)))

        @route("/api/v2/organizations/<int:org_id>", "org_update", ["PATCH"])
        def org_update(org_id: int) -> Response:
            return ok(store.org_rest(store.update_org(org_id, _body(), api_actor())))

        @route("/api/v2/organizations/<int:org_id>", "org_delete", ["DELETE"])
        def org_delete(org_id: int) -> Response:
            store.delete_org(org_id, api_actor())
            return ok({"id": org_id})

        @route("/api/v2/persons", "persons_list", ["GET"])
        def persons_list() -> Response:
            return listing(store.list_persons(request.args), store.person_rest)

        @route("/api/v2/persons", "person_create", ["POST"])
        def person_create() -> Response:
            return ok(store.person_rest(store.create_person(_body(), api_actor())))

        @route("/api/v2/persons/<int:person_id>", "person_get", ["GET"])
        def person_get(person_id: int) -> Response:
            return ok(store.person_rest(store.get_person(person_id)))

        @route("/api/v2/persons/<int:person_id>", "person_update", ["PATCH"])
        def person_update(person_id: int) -> Response:
            return ok(store.person_rest(store.update_person(person_id, _body(), api_actor())))

        @route("/api/v2/persons/<int:person_id>", "person_delete", ["DELETE"])
        def person_delete(person_id: int) -> Response:
            store.delete_person(person_id, api_actor())
            return ok({"id": person_id})

        @route("/api/v2/products", "products_list", ["GET"])
        def products_list() -> Response:
            return listing(store.list_products(request.args), store.product_rest)

        @route("/api/v2/products", "product_create", ["POST"])
        def product_create() -> Response:
            return ok(store.product_rest(store.create_product(_body(), api_actor())))

        @route("/api/v2/products/<int:product_id>", "product_get", ["GET"])
        def product_get(product_id: int) -> Response:
            return ok(store.product_rest(store.get_product(product_id)))

        # fields ---------------------------------------------------------------------------------------
        @route("/api/v2/<any(dealFields, organizationFields, personFields, productFields):kind>", "fields_list",
               ["GET"])
        def fields_list(kind: str) -> Response:
            entity = FIELD_PATHS[kind]
            return listing(store.fields.list(entity), lambda f: f.to_v2())

        @route("/api/v2/<any(dealFields, organizationFields, personFields, productFields):kind>/<code>",
               "field_get", ["GET"])
        def field_get(kind: str, code: str) -> Response:
            definition = store.fields.get(FIELD_PATHS[kind], code)
            if definition is None:
                raise not_found("Field")
            return ok(definition.to_v2())

        @route("/api/v2/<any(dealFields, organizationFields, personFields, productFields):kind>", "field_create",
               ["POST"])
        def field_create(kind: str) -> Response:
            return ok(store.add_field(FIELD_PATHS[kind], _body()).to_v2())

        @route("/api/v2/pipelines", "pipelines_list", ["GET"])
        def pipelines_list() -> Response:
            return ok([dict(p) for p in PIPELINES], {"next_cursor": None})

        @route("/api/v2/stages", "stages_list", ["GET"])
        def stages_list() -> Response:
            return ok([dict(s) for s in STAGES], {"next_cursor": None})

        # v1: notes, webhooks, users/me ----------------------------------------------------------------
        @route("/v1/notes", "notes_create", ["POST"])
        def notes_create() -> Response:
            note = store.add_note(_body(form_ok=True), g.pd_user)
            return ok(store.note_v1(note, g.pd_user))

        @route("/v1/notes", "notes_list", ["GET"])
        def notes_list() -> Response:
            notes = store.list_notes(request.args)
            try:
                start = int(request.args.get("start", 0))
                limit = int(request.args.get("limit", 100))
            except ValueError as exc:
                raise ApiError(400, "start and limit must be integers") from exc
            chunk = notes[start : start + limit]
            more = start + limit < len(notes)
            pagination: dict[str, Any] = {"start": start, "limit": limit, "more_items_in_collection": more}
            if more:
                pagination["next_start"] = start + limit
            return ok([store.note_v1(n, g.pd_user) for n in chunk], {"pagination": pagination})

        @route("/v1/notes/<int:note_id>", "note_get", ["GET"])
        def note_get(note_id: int) -> Response:
            note = store.notes.get(note_id)
            if note is None:
                raise not_found("Note")
            return ok(store.note_v1(note, g.pd_user))

        @route("/v1/webhooks", "webhooks_list", ["GET"])
        def webhooks_list() -> Response:
            data = [s.to_v1(self.config.company_id) for s in self.engine.subscriptions.values()]
            return json_response({"status": "ok", "success": True, "data": data})

        @route("/v1/webhooks", "webhooks_create", ["POST"])
        def webhooks_create() -> Response:
            sub = self.register_webhook(_body(form_ok=True), g.pd_user)
            return json_response({"status": "ok", "success": True, "data": sub.to_v1(self.config.company_id)}, 201)

        @route("/v1/webhooks/<int:webhook_id>", "webhooks_delete", ["DELETE"])
        def webhooks_delete(webhook_id: int) -> Response:
            if self.engine.remove_subscription(webhook_id, "deleted by user") is None:
                raise not_found("Webhook")
            return json_response({"status": "ok", "success": True})

        @route("/v1/users/me", "users_me", ["GET"])
        def users_me() -> Response:
            user = USERS[g.pd_user]
            now = core.clock.now()
            return ok({
                **user, "default_currency": self.config.default_currency, "locale": "en_GB", "lang": 1,
                "timezone_name": "Europe/London", "timezone_offset": "+00:00", "icon_url": None,
                "active_flag": True, "is_admin": 1, "role_id": 1, "activated": True,
                "created": "2024-01-01 00:00:00", "modified": now.strftime("%Y-%m-%d %H:%M:%S"),
                "last_login": now.strftime("%Y-%m-%d %H:%M:%S"), "has_created_company": user["id"] == 1,
                "access": [{"app": "sales", "admin": True, "permission_set_id": "1"}],
                "company_id": self.config.company_id, "company_name": self.config.company_name,
                "company_domain": self.config.company_domain, "company_country": "GB",
                "company_industry": "Software", "language": {"language_code": "en", "country_code": "GB"},
                "is_you": True,
            })

        self._register_bulk_reads(route, listing)
        self._register_control(app, route)

    def _register_bulk_reads(self, route: Callable, listing: Callable) -> None:
        """GET /api/v2/deals/products?deal_ids=1,2 (at most 100 deals): the lines of several deals at once."""
        store = self.store

        @route("/api/v2/deals/products", "deals_products_list", ["GET"])
        def deals_products_list() -> Response:
            return listing(store.list_products_of_deals(request.args), store.deal_product_rest)

    def _register_control(self, app: Flask, route: Callable) -> None:
        store, limiter = self.store, self.limiter

        def app_actor() -> Actor:
            raw = request.args.get("user_id")
            user_id = int(raw) if raw and raw.isdigit() else SALESPERSON_USER_ID
            if user_id not in USERS:
                raise bad_request(f"unknown user {user_id}")
            return Actor.app(user_id)

        install_seed_and_rate_limit_control(route, seed=self.seed, limiter=limiter, body=_body)

        @route("/_emulator/field-code", "control_field_code", ["GET"])
        def control_field_code() -> Response:
            entity, name = request.args.get("entity", "deal"), request.args.get("name", "")
            if entity not in ENTITIES or not name:
                raise bad_request(f"give entity (one of {ENTITIES}) and name")
            existing = next((f for f in store.fields.custom(entity) if f.field_name == name), None)
            return json_response({"entity": entity, "name": name, "field_code": field_code(entity, name),
                                  "exists": existing is not None})

        @route("/_emulator/app/deals", "app_deal_create", ["POST"])
        def app_deal_create() -> Response:
            return ok(store.deal_rest(store.create_deal(_body(), app_actor())))

        @route("/_emulator/app/deals/<int:deal_id>", "app_deal_update", ["PATCH"])
        def app_deal_update(deal_id: int) -> Response:
            return ok(store.deal_rest(store.update_deal(deal_id, _body(), app_actor())))

        @route("/_emulator/app/deals/<int:deal_id>", "app_deal_delete", ["DELETE"])
        def app_deal_delete(deal_id: int) -> Response:
            store.delete_deal(deal_id, app_actor())
            return ok({"id": deal_id})

        @route("/_emulator/app/deals/<int:deal_id>/products", "app_deal_product_add", ["POST"])
        def app_deal_product_add(deal_id: int) -> Response:
            return ok(store.deal_product_rest(store.add_deal_product(deal_id, _body(), app_actor())), status=201)

        @route("/_emulator/app/deals/<int:deal_id>/products/<int:item_id>", "app_deal_product_update", ["PATCH"])
        def app_deal_product_update(deal_id: int, item_id: int) -> Response:
            return ok(store.deal_product_rest(store.update_deal_product(deal_id, item_id, _body(), app_actor())))

        @route("/_emulator/app/deals/<int:deal_id>/products/<int:item_id>", "app_deal_product_delete", ["DELETE"])
        def app_deal_product_delete(deal_id: int, item_id: int) -> Response:
            store.delete_deal_product(deal_id, item_id, app_actor())
            return ok({"id": item_id})

        @route("/_emulator/app/organizations", "app_org_create", ["POST"])
        def app_org_create() -> Response:
            return ok(store.org_rest(store.create_org(_body(), app_actor())))

        @route("/_emulator/app/organizations/<int:org_id>", "app_org_update", ["PATCH"])
        def app_org_update(org_id: int) -> Response:
            return ok(store.org_rest(store.update_org(org_id, _body(), app_actor())))

        @route("/_emulator/app/organizations/<int:org_id>", "app_org_delete", ["DELETE"])
        def app_org_delete(org_id: int) -> Response:
            store.delete_org(org_id, app_actor())
            return ok({"id": org_id})

        @route("/_emulator/app/persons", "app_person_create", ["POST"])
        def app_person_create() -> Response:
            return ok(store.person_rest(store.create_person(_body(), app_actor())))

        @route("/_emulator/app/persons/<int:person_id>", "app_person_update", ["PATCH"])
        def app_person_update(person_id: int) -> Response:
            return ok(store.person_rest(store.update_person(person_id, _body(), app_actor())))

        @route("/_emulator/app/products", "app_product_create", ["POST"])
        def app_product_create() -> Response:
            return ok(store.product_rest(store.create_product(_body(), app_actor())))

        @route("/_emulator/app/persons/<int:person_id>", "app_person_delete", ["DELETE"])
        def app_person_delete(person_id: int) -> Response:
            store.delete_person(person_id, app_actor())
            return ok({"id": person_id})
