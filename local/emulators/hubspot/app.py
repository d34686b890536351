"""The HubSpot emulator's HTTP surface: CRM v3 objects (with batch reads and the search API, search.py),
v3/v4 associations (v4 batch reads among them), properties, pipelines, owners and account details,
plus its control endpoints.

API requests (/crm/..., /account-info/...) pass, in order: auth (Authorization: Bearer <private app
token>), the rolling 10-second and daily limits (X-HubSpot-RateLimit-* headers on every authenticated
answer), injected faults, then the handler. Writes through the API are made by the token's app
(webhook changeSource INTEGRATION, sourceId the app id).

Control endpoints of this emulator (besides the shared ones from common/app.py):
  POST   /_emulator/seed                         create properties, pipelines, companies, contacts, products,
                                                 deals with line items and associations, silently unless
                                                 "notify" (a line item's "product" ref sets hs_product_id)
  GET    /_emulator/ratelimit                    limits and usage
  POST   /_emulator/ratelimit                    {"max_per_interval", "interval_ms", "daily", "daily_used", "clear"}
  POST   /_emulator/app/<objectType>             changes made in HubSpot by a person (changeSource CRM_UI),
  PATCH  /_emulator/app/<objectType>/<id>        the salesperson unless ?user_id= says otherwise; same bodies
  DELETE /_emulator/app/<objectType>/<id>        as the v3 API
  PUT    /_emulator/app/<objectType>/<id>/associations/<toType>/<toId>   {"types": [typeId, ...]} or default
  DELETE /_emulator/app/<objectType>/<id>/associations/<toType>/<toId>
  POST   /_emulator/webhooks also takes {"subscriptions": [{"subscriptionType", "propertyName", "active"}]}
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
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

from .config import SALES_USER_ID, HubSpotConfig
from .errors import ApiError, not_found, rate_limited, unauthenticated, validation_error
from .properties import iso_millis
from .ratelimit import TEN_SECONDLY, RateLimiter
from .schema import ASSOCIATION_TYPES, OBJECT_TYPES, default_association, object_type
from .search import SECONDLY, SearchLimiter, search
from .store import MAX_BATCH, OWNERS, Actor, Store
from .webhooks import WebhookEngine

logger = logging.getLogger(__name__)

API_PREFIXES = ("/crm/", "/account-info/")
ASSOCIATIONS_BATCH = 1000  # inputs a v4 association batch read takes
ASSOCIATIONS_PAGE = 500  # associations of one record in one answer (the rest from paging.next.after)


def _body(expect: type = dict) -> Any:
    raw = request.get_data(cache=True)
    if not raw:
        return expect()
    try:
        body = jsonutil.loads(raw)
    except ValueError as exc:
        raise validation_error("Invalid input JSON on line 1: the request body is not valid JSON") from exc
    if not isinstance(body, expect):
        raise validation_error(f"The request body must be a JSON {'object' if expect is dict else 'array'}")
    return body


def _list_arg(name: str) -> list[str] | None:
    """properties=a,b&properties=c -> [a, b, c]; None when absent."""
    values = request.args.getlist(name)
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


class HubSpotEmulator:
    """The plugin `create_app` wraps with the shared control endpoints."""

    name = "hubspot"
    self_managed_fault_prefixes = API_PREFIXES

    def __init__(self, core: EmulatorCore, config: HubSpotConfig) -> None:
        self.core = core
        self.config = config
        self.engine = WebhookEngine(core.lock, core.clock, config.webhooks, app_id=config.app_id,
                                    portal_id=config.portal_id, client_secret=config.client_secret,
                                    url=config.webhook_url)
        core.webhooks = self.engine  # type: ignore[assignment]  # same interface as WebhookDispatcher
        self.limiter = RateLimiter(config.limits, core.clock)
        self.store = Store(config, core.clock.now, self.engine.publish)
        self.search_limiter = SearchLimiter(core.clock.now)

    # plugin interface -------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        return {"rate_limits": self.limiter.snapshot(), **self.store.snapshot()}

    def reset(self) -> None:
        self.store.reset()
        self.limiter.reset()
        self.search_limiter.reset()

    # seeding ----------------------------------------------------------------------------------------
    def seed(self, body: dict) -> dict:
        """Create everything in `body` at once, as the salesperson; silent (no webhooks) unless "notify"."""
        store = self.store
        actor = Actor.user(int(body.get("user_id", SALES_USER_ID)))
        refs: dict[str, dict[str, str]] = {name: {} for name in OBJECT_TYPES}
        pipelines: dict[str, str] = {}
        store.silent = not body.get("notify", False)
        try:
            for object_name, groups in (body.get("property_groups") or {}).items():
                for group in groups:
                    if group.get("name") not in store.properties.groups[object_type(object_name).name]:  # type: ignore[union-attr]
                        store.properties.create_group(object_type(object_name).name, group)  # type: ignore[union-attr]
            for object_name, definitions in (body.get("properties") or {}).items():
                for definition in definitions:
                    name = object_type(object_name).name  # type: ignore[union-attr]
                    if store.properties.get(name, definition.get("name", "")) is None:
                        store.properties.create(name, definition)
            for spec in body.get("pipelines") or []:
                pipeline = store.create_pipeline(spec)
                pipelines[pipeline["label"]] = pipeline["id"]
            for spec in body.get("companies") or []:
                refs["companies"][self._ref(spec)] = store.create("companies", self._object(spec), actor)["id"]
            for spec in body.get("products") or []:
                refs["products"][self._ref(spec)] = store.create("products", self._object(spec), actor)["id"]
            for spec in body.get("contacts") or []:
                contact = store.create("contacts", self._object(spec), actor)
                refs["contacts"][self._ref(spec, contact)] = contact["id"]
                for company in spec.get("companies") or []:
                    store.associate("contacts", contact["id"], "companies", self._resolve(refs, "companies", company),
                                    [default_association("contacts", "companies")], actor)  # type: ignore[list-item]
            for spec in body.get("deals") or []:
                deal = store.create("deals", self._object(spec), actor)
                refs["deals"][self._ref(spec, deal)] = deal["id"]
                if spec.get("company"):
                    store.associate("deals", deal["id"], "companies", self._resolve(refs, "companies", spec["company"]),
                                    [5], actor)
                for company in spec.get("companies") or []:
                    store.associate("deals", deal["id"], "companies", self._resolve(refs, "companies", company),
                                    [341], actor)
                for contact in spec.get("contacts") or []:
                    store.associate("deals", deal["id"], "contacts", self._resolve(refs, "contacts", contact), [3], actor)
                for line in spec.get("line_items") or []:
                    product = {"hs_product_id": self._resolve(refs, "products", line["product"])} \
                        if line.get("product") else {}
                    item = store.create("line_items", {
                        **self._object(line), "properties": {**(line.get("properties") or {}), **product},
                        "associations": [{"to": {"id": deal["id"]},
                                          "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                     "associationTypeId": 20}]}],
                    }, actor)
                    refs["line_items"][self._ref(line, item)] = item["id"]
        finally:
            store.silent = False
        return {"refs": refs, "pipelines": pipelines}

    @staticmethod
    def _object(spec: dict) -> dict:
        return {"properties": spec.get("properties") or {}, "associations": spec.get("associations") or []}

    @staticmethod
    def _ref(spec: dict, record: dict | None = None) -> str:
        return str(spec.get("ref") or (record or {}).get("id") or len(spec))

    @staticmethod
    def _resolve(refs: dict[str, dict[str, str]], kind: str, ref: str) -> str:
        if ref in refs[kind]:
            return refs[kind][ref]
        if str(ref).isdigit():
            return str(ref)
        raise validation_error(f"{kind} ref {ref!r} was not seeded before")

    # Flask ------------------------------------------------------------------------------------------
    def register(self, app: Flask) -> None:
        core, store, limiter, config = self.core, self.store, self.limiter, self.config

        def rate_limit_shape(rule: FaultRule) -> tuple[int, Any, dict[str, str]]:
            policy = (rule.problem or TEN_SECONDLY).upper()
            return 429, rate_limited(policy, g.get("hs_app", config.app_id), config.portal_id).body(), api_headers()

        def admit() -> tuple[Response | None, dict[str, str]]:
            """Authorization: Bearer <private app token>, then the app's 10-second and the daily limit."""
            scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
            app_id = config.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            if app_id is None:
                return json_response(unauthenticated().body(), 401), {}
            g.hs_app = app_id
            with core.lock:
                refused, headers = limiter.check(app_id)
            if refused is not None:
                return json_response(rate_limited(refused, app_id, config.portal_id).body(), 429), headers
            return None, headers

        install_api_gate(app, core, prefixes=API_PREFIXES, admit=admit, rate_limit_shape=rate_limit_shape)

        install_api_errors(app, prefixes=API_PREFIXES, error_type=ApiError, from_http=lambda exc: ApiError(
            exc.code or 500, exc.description or exc.name, "OBJECT_NOT_FOUND" if exc.code == 404 else "VALIDATION_ERROR"))
        route = locked_route(app, core)

        def actor() -> Actor:
            return Actor.app(g.hs_app)

        def kind(raw: str) -> str:
            return object_type(raw).name  # type: ignore[union-attr]

        def render(name: str, record: dict) -> dict:
            return store.render(name, record, _list_arg("properties"), _list_arg("associations"))

        # account, owners, pipelines -------------------------------------------------------------------
        @route("/account-info/v3/details", "account_details", ["GET"])
        def account_details() -> Response:
            return json_response({
                "portalId": config.portal_id, "accountType": "STANDARD", "timeZone": config.time_zone,
                "companyCurrency": config.company_currency, "additionalCurrencies": [], "utcOffset": "+00:00",
                "utcOffsetMilliseconds": 0, "uiDomain": "app-eu1.hubspot.com", "dataHostingLocation": "eu1",
            })

        @route("/crm/v3/owners", "owners_list", ["GET"])
        @route("/crm/v3/owners/", "owners_list_slash", ["GET"])
        def owners_list() -> Response:
            return json_response({"results": OWNERS})

        @route("/crm/v3/owners/<owner_id>", "owner_get", ["GET"])
        def owner_get(owner_id: str) -> Response:
            owner = next((o for o in OWNERS if o["id"] == owner_id), None)
            if owner is None:
                raise not_found(f"Owner {owner_id} not found")
            return json_response(owner)

        def deals_only(object_name: str) -> None:
            if kind(object_name) != "deals":
                raise validation_error(f"The emulator has pipelines for deals only, not {object_name}")

        @route("/crm/v3/pipelines/<object_name>", "pipelines_list", ["GET"])
        def pipelines_list(object_name: str) -> Response:
            deals_only(object_name)
            return json_response({"results": [p for p in store.pipelines if not p["archived"]]})

        @route("/crm/v3/pipelines/<object_name>", "pipelines_create", ["POST"])
        def pipelines_create(object_name: str) -> Response:
            deals_only(object_name)
            return json_response(store.create_pipeline(_body()), 201)

        @route("/crm/v3/pipelines/<object_name>/<pipeline_id>", "pipeline_get", ["GET"])
        def pipeline_get(object_name: str, pipeline_id: str) -> Response:
            deals_only(object_name)
            pipeline = store.pipeline(pipeline_id)
            if pipeline is None:
                raise not_found(f"Unable to find pipeline {pipeline_id}")
            return json_response(pipeline)

        @route("/crm/v3/pipelines/<object_name>/<pipeline_id>/stages", "pipeline_stages", ["GET"])
        def pipeline_stages(object_name: str, pipeline_id: str) -> Response:
            deals_only(object_name)
            pipeline = store.pipeline(pipeline_id)
            if pipeline is None:
                raise not_found(f"Unable to find pipeline {pipeline_id}")
            return json_response({"results": pipeline["stages"]})

        # properties -----------------------------------------------------------------------------------
        @route("/crm/v3/properties/<object_name>", "properties_list", ["GET"])
        def properties_list(object_name: str) -> Response:
            name = kind(object_name)
            return json_response({"results": [d.to_json() for d in store.properties.defs[name].values()]})

        @route("/crm/v3/properties/<object_name>", "property_create", ["POST"])
        def property_create(object_name: str) -> Response:
            return json_response(store.properties.create(kind(object_name), _body()).to_json(), 201)

        @route("/crm/v3/properties/<object_name>/groups", "groups_list", ["GET"])
        def groups_list(object_name: str) -> Response:
            return json_response({"results": [grp.to_json() for grp in store.properties.groups[kind(object_name)].values()]})

        @route("/crm/v3/properties/<object_name>/groups", "group_create", ["POST"])
        def group_create(object_name: str) -> Response:
            return json_response(store.properties.create_group(kind(object_name), _body()).to_json(), 201)

        @route("/crm/v3/properties/<object_name>/groups/<group_name>", "group_get", ["GET"])
        def group_get(object_name: str, group_name: str) -> Response:
            group = store.properties.groups[kind(object_name)].get(group_name)
            if group is None:
                raise not_found(f"Unable to find property group {group_name}")
            return json_response(group.to_json())

        @route("/crm/v3/properties/<object_name>/<property_name>", "property_get", ["GET"])
        def property_get(object_name: str, property_name: str) -> Response:
            definition = store.properties.get(kind(object_name), property_name)
            if definition is None:
                raise not_found(f"Unable to find property {property_name}")
            return json_response(definition.to_json())

        # objects --------------------------------------------------------------------------------------
        @route("/crm/v3/objects/<object_name>", "objects_list", ["GET"])
        def objects_list(object_name: str) -> Response:
            name = kind(object_name)
            try:
                limit = int(request.args.get("limit", 10))
                after = int(request.args.get("after", 0) or 0)
            except ValueError as exc:
                raise validation_error("limit and after must be integers") from exc
            if not 1 <= limit <= 100:
                raise validation_error("limit must be between 1 and 100")
            records = [r for r in store.objects[name].values() if not r["archived"]]
            chunk = records[after : after + limit]
            body: dict[str, Any] = {"results": [render(name, r) for r in chunk]}
            if after + limit < len(records):
                nxt = str(after + limit)
                body["paging"] = {"next": {"after": nxt, "link": f"{request.base_url}?after={nxt}"}}
            return json_response(body)

        @route("/crm/v3/objects/<object_name>", "object_create", ["POST"])
        def object_create(object_name: str) -> Response:
            name = kind(object_name)
            return json_response(render(name, store.create(name, _body(), actor())), 201)

        @route("/crm/v3/objects/<object_name>/<object_id>", "object_get", ["GET"])
        def object_get(object_name: str, object_id: str) -> Response:
            name = kind(object_name)
            return json_response(render(name, store.get(name, object_id)))

        @route("/crm/v3/objects/<object_name>/<object_id>", "object_update", ["PATCH"])
        def object_update(object_name: str, object_id: str) -> Response:
            name = kind(object_name)
            return json_response(render(name, store.update(name, object_id, _body(), actor())))

        @route("/crm/v3/objects/<object_name>/<object_id>", "object_archive", ["DELETE"])
        def object_archive(object_name: str, object_id: str) -> Response:
            store.archive(kind(object_name), object_id, actor())
            return Response(status=204)

        def batch_inputs(body: dict) -> list[dict]:
            inputs = body.get("inputs")
            if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
                raise validation_error("inputs must be a list of objects")
            if len(inputs) > MAX_BATCH:
                raise validation_error(f"Batch input size {len(inputs)} exceeds the limit of {MAX_BATCH}")
            return inputs

        def batch_answer(results: list[dict], missing: list[str], name: str, started: str, verb: str,
                         status: int = 200) -> Response:
            body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                                    "completedAt": iso_millis(datetime.now(UTC))}
            if missing:
                body["numErrors"] = 1
                body["errors"] = [{
                    "status": "error", "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not {verb} some {OBJECT_TYPES[name].upper} objects, they may be deleted or "
                               f"not exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }]
                return json_response(body, 207)
            return json_response(body, status)

        def unique_ids(inputs: list[dict]) -> list[str]:
            ids = [str(i.get("id", "")) for i in inputs]
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise validation_error(f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique")
            return ids

        @route("/crm/v3/objects/<object_name>/search", "objects_search", ["POST"])
        def objects_search(object_name: str) -> Response:
            name = kind(object_name)
            if not self.search_limiter.admit():
                return json_response(rate_limited(SECONDLY, g.hs_app, config.portal_id).body(), 429)
            return json_response(search(list(store.objects[name].values()), _body(), store.properties, name,
                                        lambda record, wanted: store.render(name, record, wanted)))

        @route("/crm/v3/objects/<object_name>/batch/read", "objects_batch_read", ["POST"])
        def objects_batch_read(object_name: str) -> Response:
            name, started = kind(object_name), iso_millis(datetime.now(UTC))
            body = _body()
            if body.get("idProperty") not in (None, "hs_object_id"):
                raise validation_error("The emulator reads by hs_object_id only")
            ids = unique_ids(batch_inputs(body))
            wanted = body.get("properties") or None
            results = [store.render(name, store.objects[name][i], wanted) for i in ids if store.exists(name, i)]
            return batch_answer(results, [i for i in ids if not store.exists(name, i)], name, started, "get")

        @route("/crm/v3/objects/<object_name>/batch/update", "objects_batch_update", ["POST"])
        def objects_batch_update(object_name: str) -> Response:
            name, started = kind(object_name), iso_millis(datetime.now(UTC))
            inputs = batch_inputs(_body())
            ids = unique_ids(inputs)
            for item in inputs:  # the whole batch is refused if any input is invalid
                store.properties.clean(name, item.get("properties") or {}, config.portal_id)
            results = [store.render(name, store.update(name, i, item, actor()), None)
                       for i, item in zip(ids, inputs, strict=True) if store.exists(name, i)]
            return batch_answer(results, [i for i in ids if not store.exists(name, i)], name, started, "update")

        @route("/crm/v3/objects/<object_name>/batch/create", "objects_batch_create", ["POST"])
        def objects_batch_create(object_name: str) -> Response:
            name, started = kind(object_name), iso_millis(datetime.now(UTC))
            inputs = batch_inputs(_body())
            for item in inputs:
                store.properties.clean(name, item.get("properties") or {}, config.portal_id)
            results = [store.render(name, store.create(name, item, actor()), None) for item in inputs]
            return batch_answer(results, [], name, started, "create", status=201)

        # associations ---------------------------------------------------------------------------------
        def association_result(from_name: str, from_id: str, to_name: str, to_id: str) -> dict:
            types = store.association_types(from_name, from_id, to_name, to_id)
            return {
                "fromObjectTypeId": OBJECT_TYPES[from_name].type_id, "fromObjectId": int(from_id),
                "toObjectTypeId": OBJECT_TYPES[to_name].type_id, "toObjectId": int(to_id),
                "labels": sorted({label for t in types if (label := ASSOCIATION_TYPES[t].label)}),
            }

        @route("/crm/v3/objects/<object_name>/<object_id>/associations/<to_name>/<to_id>/<association_type>",
               "v3_associate", ["PUT"])
        def v3_associate(object_name: str, object_id: str, to_name: str, to_id: str, association_type: str) -> Response:
            name, target = kind(object_name), kind(to_name)
            store.associate(name, object_id, target, to_id, [association_type], actor())
            record = store.render(name, store.get(name, object_id), None, [target])
            return json_response(record)

        @route("/crm/v3/objects/<object_name>/<object_id>/associations/<to_name>/<to_id>/<association_type>",
               "v3_dissociate", ["DELETE"])
        def v3_dissociate(object_name: str, object_id: str, to_name: str, to_id: str, association_type: str) -> Response:
            store.dissociate(kind(object_name), object_id, kind(to_name), to_id, actor())
            return Response(status=204)

        @route("/crm/v4/associations/<object_name>/<to_name>/batch/read", "v4_batch_read", ["POST"])
        def v4_batch_read(object_name: str, to_name: str) -> Response:
            """Each input's associations of one type, ASSOCIATIONS_PAGE at a time from its `after`; ids that
            do not exist are named in errors (207), as HubSpot does."""
            name, target, started = kind(object_name), kind(to_name), iso_millis(datetime.now(UTC))
            inputs = _body().get("inputs")
            if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
                raise validation_error("inputs must be a list of objects")
            if len(inputs) > ASSOCIATIONS_BATCH:
                raise validation_error(f"Batch input size {len(inputs)} exceeds the limit of {ASSOCIATIONS_BATCH}")
            results, missing = [], []
            for item in inputs:
                object_id = str(item.get("id", ""))
                if not store.exists(name, object_id):
                    missing.append(object_id)
                    continue
                every = store.v4_associations(name, object_id, target)
                offset = int(item.get("after") or 0)
                result: dict[str, Any] = {"from": {"id": object_id},
                                          "to": every[offset : offset + ASSOCIATIONS_PAGE]}
                if offset + ASSOCIATIONS_PAGE < len(every):
                    result["paging"] = {"next": {"after": str(offset + ASSOCIATIONS_PAGE)}}
                if result["to"]:
                    results.append(result)
            return batch_answer(results, missing, name, started, "get")

        @route("/crm/v4/objects/<object_name>/<object_id>/associations/<to_name>", "v4_list", ["GET"])
        def v4_list(object_name: str, object_id: str, to_name: str) -> Response:
            name = kind(object_name)
            store.get(name, object_id)
            return json_response({"results": store.v4_associations(name, object_id, kind(to_name))})

        @route("/crm/v4/objects/<object_name>/<object_id>/associations/default/<to_name>/<to_id>",
               "v4_associate_default", ["PUT"])
        def v4_associate_default(object_name: str, object_id: str, to_name: str, to_id: str) -> Response:
            name, target = kind(object_name), kind(to_name)
            association = default_association(name, target)
            if association is None:
                raise validation_error(f"There is no default association from {name} to {target}")
            store.associate(name, object_id, target, to_id, [association], actor())
            now = iso_millis(datetime.now(UTC))
            return json_response({
                "status": "COMPLETE",
                "results": [{"from": {"id": object_id}, "to": {"id": to_id},
                             "associationSpec": {"associationCategory": "HUBSPOT_DEFINED",
                                                 "associationTypeId": association.type_id}}],
                "startedAt": now, "completedAt": now,
            })

        @route("/crm/v4/objects/<object_name>/<object_id>/associations/<to_name>/<to_id>", "v4_associate", ["PUT"])
        def v4_associate(object_name: str, object_id: str, to_name: str, to_id: str) -> Response:
            name, target = kind(object_name), kind(to_name)
            specs = _body(list)
            if not specs:
                raise validation_error("Give at least one association type")
            store.associate(name, object_id, target, to_id, specs, actor())
            return json_response(association_result(name, object_id, target, to_id), 201)

        @route("/crm/v4/objects/<object_name>/<object_id>/associations/<to_name>/<to_id>", "v4_dissociate",
               ["DELETE"])
        def v4_dissociate(object_name: str, object_id: str, to_name: str, to_id: str) -> Response:
            store.dissociate(kind(object_name), object_id, kind(to_name), to_id, actor())
            return Response(status=204)

        self._register_control(app, route, kind)

    def _register_control(self, app: Flask, route: Callable, kind: Callable[[str], str]) -> None:
        store, limiter = self.store, self.limiter

        def user() -> Actor:
            raw = request.args.get("user_id")
            user_id = int(raw) if raw and raw.isdigit() else SALES_USER_ID
            if user_id not in {o["userId"] for o in OWNERS}:
                raise validation_error(f"unknown user {user_id}")
            return Actor.user(user_id)

        install_seed_and_rate_limit_control(route, seed=self.seed, limiter=limiter, body=_body)

        @route("/_emulator/app/<object_name>", "app_create", ["POST"])
        def app_create(object_name: str) -> Response:
            name = kind(object_name)
            return json_response(store.render(name, store.create(name, _body(), user()), None, list(OBJECT_TYPES)), 201)

        @route("/_emulator/app/<object_name>/<object_id>", "app_update", ["PATCH"])
        def app_update(object_name: str, object_id: str) -> Response:
            name = kind(object_name)
            return json_response(store.render(name, store.update(name, object_id, _body(), user()), None))

        @route("/_emulator/app/<object_name>/<object_id>", "app_archive", ["DELETE"])
        def app_archive(object_name: str, object_id: str) -> Response:
            store.archive(kind(object_name), object_id, user())
            return Response(status=204)

        @route("/_emulator/app/<object_name>/<object_id>/associations/<to_name>/<to_id>", "app_associate", ["PUT"])
        def app_associate(object_name: str, object_id: str, to_name: str, to_id: str) -> Response:
            name, target = kind(object_name), kind(to_name)
            types = _body().get("types") or [default_association(name, target)]
            if types == [None]:
                raise validation_error(f"There is no default association from {name} to {target}")
            store.associate(name, object_id, target, to_id, types, user())
            return json_response({"results": store.v4_associations(name, object_id, target)})

        @route("/_emulator/app/<object_name>/<object_id>/associations/<to_name>/<to_id>", "app_dissociate",
               ["DELETE"])
        def app_dissociate(object_name: str, object_id: str, to_name: str, to_id: str) -> Response:
            store.dissociate(kind(object_name), object_id, kind(to_name), to_id, user())
            return Response(status=204)

