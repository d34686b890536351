"""Everything the emulated Pipedrive company holds, and the rules for changing it.

Records are plain dicts with Decimal money and aware datetimes; `*_rest` functions write them as the v2
REST API does, `*_hook` ones as webhooks v2 do. Every change goes through one method per operation,
which validates like v2 (strict types, unknown fields refused), applies the side effects Pipedrive has
(won_time/close_time/first_won_time on status changes, the deal value following its products), and
emits a webhook event with `previous` = only the fields that changed.

The caller holds the emulator lock.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .config import INTEGRATION_USER_ID, SALESPERSON_USER_ID, PipedriveConfig
from .fields import (
    ENTITIES,
    FieldDef,
    FieldRegistry,
    parse_address,
    parse_custom_value,
    rest_value,
    webhook_value,
)
from .values import (
    ApiError,
    bad_request,
    not_found,
    num,
    rfc3339,
    round_money,
    to_bool,
    to_date,
    to_decimal,
    to_int,
    to_str,
    v1_time,
)


@dataclass(frozen=True)
class Actor:
    """Who makes a change: the token's user through the API, or a person in the app."""

    user_id: int
    source: str  # "api" | "app"
    correlation_id: str

    @classmethod
    def api(cls, user_id: int) -> Actor:
        return cls(user_id, "api", str(uuid.uuid4()))

    @classmethod
    def app(cls, user_id: int = SALESPERSON_USER_ID) -> Actor:
        return cls(user_id, "app", str(uuid.uuid4()))


USERS: dict[int, dict] = {
    SALESPERSON_USER_ID: {"id": SALESPERSON_USER_ID, "name": "Sam Sales", "email": "sam.sales@example.com"},
    INTEGRATION_USER_ID: {"id": INTEGRATION_USER_ID, "name": "Xero Bridge", "email": "xero-bridge@example.com"},
}
PIPELINES = [{"id": 1, "name": "Sales pipeline", "order_nr": 1, "is_deleted": False}]
STAGES = [
    {"id": 1, "name": "Qualified", "pipeline_id": 1, "order_nr": 1, "deal_probability": 10},
    {"id": 2, "name": "Contact made", "pipeline_id": 1, "order_nr": 2, "deal_probability": 20},
    {"id": 3, "name": "Proposal made", "pipeline_id": 1, "order_nr": 3, "deal_probability": 50},
    {"id": 4, "name": "Negotiations started", "pipeline_id": 1, "order_nr": 4, "deal_probability": 80},
]
DEAL_STATUSES = ("open", "won", "lost", "deleted")
DISCOUNT_TYPES = ("percentage", "amount")
TAX_METHODS = ("exclusive", "inclusive", "none")
BILLING_FREQUENCIES = ("one-time", "annually", "semi-annually", "quarterly", "monthly", "weekly")
VISIBLE_TO = (1, 3, 5, 7)

DEAL_KEYS = {
    "title", "owner_id", "person_id", "org_id", "pipeline_id", "stage_id", "value", "currency", "status",
    "probability", "lost_reason", "visible_to", "close_time", "won_time", "lost_time", "expected_close_date",
    "label_ids", "origin_id", "channel", "channel_id", "custom_fields", "is_archived", "add_time",
}
ORG_KEYS = {"name", "owner_id", "address", "visible_to", "label_ids", "custom_fields", "add_time"}
PERSON_KEYS = {
    "name", "first_name", "last_name", "owner_id", "org_id", "emails", "phones", "visible_to", "label_ids",
    "custom_fields", "add_time", "marketing_status",
}
PRODUCT_KEYS = {
    "name", "code", "description", "unit", "tax", "category", "owner_id", "is_linkable", "visible_to", "prices",
    "billing_frequency", "billing_frequency_cycles", "custom_fields",
}
DEAL_PRODUCT_KEYS = {
    "product_id", "item_price", "quantity", "discount", "discount_type", "tax", "tax_method", "comments",
    "is_enabled", "product_variation_id", "billing_frequency", "billing_frequency_cycles", "billing_start_date",
}


def product_sum(item_price: Decimal, quantity: Decimal, discount: Decimal, discount_type: str, tax: Decimal,
                tax_method: str) -> Decimal:
    """A deal product's sum: price x quantity, less the discount, plus tax when the tax is exclusive.

    A percentage discount takes that share of price x quantity; an amount discount is taken off the row.
    Inclusive tax is already in the price and `none` adds nothing. Rounded to cents, half up.
    """
    gross = item_price * quantity
    net = gross - gross * discount / 100 if discount_type == "percentage" else gross - discount
    if tax_method == "exclusive":
        net = net + net * tax / 100
    return round_money(net)


def _diff(before: dict, after: dict) -> dict:
    """v2 `previous`: only the fields that changed, with their old values (custom fields one by one)."""
    previous: dict[str, Any] = {}
    for key, old in before.items():
        if key == "update_time":
            continue
        new = after.get(key)
        if key == "custom_fields" and isinstance(old, dict) and isinstance(new, dict):
            changed = {code: value for code, value in old.items() if new.get(code) != value}
            changed.update({code: None for code in new if code not in old})
            if changed:
                previous[key] = changed
        elif old != new:
            previous[key] = old
    return previous


class Store:
    def __init__(self, config: PipedriveConfig, now: Callable[[], datetime], publish: Callable[[dict], None]) -> None:
        self.config = config
        self._now = now
        self._publish = publish
        self.reset()

    # state ------------------------------------------------------------------------------------------
    def reset(self) -> None:
        self.fields = FieldRegistry()
        self.deals: dict[int, dict] = {}
        self.organizations: dict[int, dict] = {}
        self.persons: dict[int, dict] = {}
        self.products: dict[int, dict] = {}
        self.deal_products: dict[int, dict] = {}
        self.notes: dict[int, dict] = {}
        self._ids = {kind: itertools.count(1) for kind in
                     ("deal", "organization", "person", "product", "deal_product", "note")}
        self._taken: dict[str, set[int]] = {kind: set() for kind in self._ids}
        self.events: deque[dict] = deque(maxlen=500)
        self.silent = False

    def _new_id(self, kind: str, requested: Any = None) -> int:
        taken = self._taken[kind]
        if requested is not None:
            wanted = to_int(requested, "id")
            if wanted in taken or wanted < 1:
                raise bad_request(f"{kind} id {wanted} is already taken")
            taken.add(wanted)
            return wanted
        while True:
            candidate = next(self._ids[kind])
            if candidate not in taken:
                taken.add(candidate)
                return candidate

    def snapshot(self) -> dict:
        return {
            "users": list(USERS.values()),
            "fields": self.fields.snapshot(),
            "deals": [self.deal_rest(d, include={"first_won_time", "products_count"}) for d in self.deals.values()],
            "deal_products": [self.deal_product_rest(p) for p in self.deal_products.values()],
            "organizations": [self.org_rest(o) for o in self.organizations.values()],
            "persons": [self.person_rest(p) for p in self.persons.values()],
            "products": [self.product_rest(p) for p in self.products.values()],
            "notes": [self.note_v1(n, INTEGRATION_USER_ID) for n in self.notes.values()],
            "events": list(self.events),
        }

    # events -----------------------------------------------------------------------------------------
    def _emit(self, entity: str, action: str, entity_id: int, before: dict | None, after: dict | None,
              actor: Actor) -> None:
        if self.silent:
            return
        if action == "create":
            previous = None
        elif action == "delete":
            previous = before
        else:
            previous = _diff(before or {}, after or {})
            if not previous:
                return
        now = self._now()
        event = {
            "event_id": str(uuid.uuid4()),
            "entity": entity,
            "action": action,
            "entity_id": entity_id,
            "data": after if action != "delete" else None,
            "previous": previous,
            "user_id": actor.user_id,
            "change_source": actor.source,
            "correlation_id": actor.correlation_id,
            "timestamp": now,
            "company_id": self.config.company_id,
            "host": f"{self.config.company_domain}.pipedrive.com",
            "permitted_user_ids": [str(u) for u in USERS],
        }
        self.events.append({
            "id": event["event_id"], "at": now.isoformat(), "entity": entity, "action": action,
            "entity_id": entity_id, "change_source": actor.source, "user_id": actor.user_id,
            "previous": previous,
        })
        self._publish(event)

    # references -------------------------------------------------------------------------------------
    def exists(self, kind: str, ref: int) -> bool:
        if kind == "user":
            return ref in USERS
        if kind == "org":
            return ref in self.organizations and not self.organizations[ref]["is_deleted"]
        if kind == "people":
            return ref in self.persons and not self.persons[ref]["is_deleted"]
        return False

    def _ref(self, kind: str, value: Any, name: str) -> int | None:
        ref = to_int(value, name, nullable=True)
        if ref is not None and not self.exists(kind, ref):
            label = {"user": "User", "org": "Organization", "people": "Person"}[kind]
            raise bad_request(f"{label} with id {ref} does not exist")
        return ref

    def _custom_fields(self, entity: str, raw: Any, current: dict, currency: str) -> dict:
        if raw is None:
            return current
        if not isinstance(raw, dict):
            raise bad_request("custom_fields must be an object keyed by field codes")
        known = self.fields.custom_by_code(entity)
        updated = dict(current)
        for code, value in raw.items():
            definition = known.get(code)
            if definition is None:
                raise bad_request(f"Unknown custom field {code!r} for {entity}")
            parsed = parse_custom_value(definition, value, currency, self.exists)
            if parsed is None:
                updated.pop(code, None)
            else:
                updated[code] = parsed
        return updated

    def _custom_out(self, entity: str, values: dict, writer: Callable[[FieldDef, Any], Any],
                    only: set[str] | None = None) -> dict:
        return {
            f.field_code: writer(f, values.get(f.field_code))
            for f in self.fields.custom(entity)
            if only is None or f.field_code in only
        }

    @staticmethod
    def _refuse_unknown(body: dict, allowed: set[str], entity: str) -> None:
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object")
        unknown = sorted(set(body) - allowed)
        if unknown:
            hint = " (custom fields go inside custom_fields)" if any(len(k) == 40 for k in unknown) else ""
            raise bad_request(f"Unknown {entity} field(s): {', '.join(unknown)}{hint}")

    @staticmethod
    def _labels(value: Any) -> list[int]:
        if not isinstance(value, list):
            raise bad_request("label_ids must be an array of integers")
        return [to_int(v, "label_ids") for v in value]

    @staticmethod
    def _visible_to(value: Any) -> int:
        visible = to_int(value, "visible_to")
        if visible not in VISIBLE_TO:
            raise bad_request(f"visible_to must be one of {VISIBLE_TO}")
        return visible

    @staticmethod
    def _currency(value: Any) -> str:
        currency = to_str(value, "currency", nullable=False)
        if len(currency) != 3 or not currency.isalpha():
            raise bad_request("currency must be a 3-letter currency code")
        return currency.upper()

    # deals ------------------------------------------------------------------------------------------
    def _deal_base(self, deal: dict) -> dict:
        return {
            "id": deal["id"],
            "title": deal["title"],
            "creator_user_id": deal["creator_user_id"],
            "owner_id": deal["owner_id"],
            "person_id": deal["person_id"],
            "org_id": deal["org_id"],
            "pipeline_id": deal["pipeline_id"],
            "stage_id": deal["stage_id"],
            "value": num(deal["value"]),
            "currency": deal["currency"],
            "add_time": rfc3339(deal["add_time"]),
            "update_time": rfc3339(deal["update_time"]),
            "stage_change_time": rfc3339(deal["stage_change_time"]),
            "is_archived": deal["is_archived"],
            "archive_time": rfc3339(deal["archive_time"]),
            "is_deleted": deal["is_deleted"],
            "status": deal["status"],
            "probability": num(deal["probability"]),
            "lost_reason": deal["lost_reason"],
            "visible_to": deal["visible_to"],
            "close_time": rfc3339(deal["close_time"]),
            "won_time": rfc3339(deal["won_time"]),
            "lost_time": rfc3339(deal["lost_time"]),
            "expected_close_date": deal["expected_close_date"],
            "label_ids": list(deal["label_ids"]),
            "origin": deal["origin"],
            "origin_id": deal["origin_id"],
            "channel": deal["channel"],
            "channel_id": deal["channel_id"],
        }

    def deal_rest(self, deal: dict, include: Iterable[str] = (), only_custom: set[str] | None = None) -> dict:
        out = self._deal_base(deal)
        include = set(include)
        if "first_won_time" in include:
            out["first_won_time"] = rfc3339(deal["first_won_time"])
        if "products_count" in include:
            out["products_count"] = sum(1 for p in self.deal_products.values() if p["deal_id"] == deal["id"])
        out["custom_fields"] = self._custom_out("deal", deal["custom"], rest_value, only_custom)
        return out

    def deal_hook(self, deal: dict) -> dict:
        out = self._deal_base(deal)
        out["custom_fields"] = self._custom_out("deal", deal["custom"], webhook_value)
        return out

    def get_deal(self, deal_id: int) -> dict:
        deal = self.deals.get(deal_id)
        if deal is None:
            raise not_found("Deal")
        return deal

    def list_deals(self, args: dict[str, str]) -> list[dict]:
        deals = list(self.deals.values())
        statuses = [s for s in (args.get("status") or "").split(",") if s]
        for status in statuses:
            if status not in DEAL_STATUSES:
                raise bad_request(f"status must be one of {', '.join(DEAL_STATUSES)}")
        if statuses:
            deals = [d for d in deals if d["status"] in statuses]
        else:
            deals = [d for d in deals if not d["is_deleted"]]
        if args.get("ids"):
            wanted = {int(i) for i in args["ids"].split(",") if i.strip().isdigit()}
            deals = [d for d in deals if d["id"] in wanted]
        for key in ("owner_id", "person_id", "org_id", "pipeline_id", "stage_id"):
            if args.get(key):
                try:
                    wanted_id = int(args[key])
                except ValueError as exc:
                    raise bad_request(f"{key} must be an integer") from exc
                deals = [d for d in deals if d[key] == wanted_id]
        deals = [d for d in deals if not d["is_archived"]]
        return self._filter_sort(deals, args)

    def _filter_sort(self, records: list[dict], args: dict[str, str]) -> list[dict]:
        from local.emulators.common import parse_instant

        if args.get("updated_since"):
            since = parse_instant(args["updated_since"])
            records = [r for r in records if r["update_time"] >= since]
        if args.get("updated_until"):
            until = parse_instant(args["updated_until"])
            records = [r for r in records if r["update_time"] < until]
        sort_by = args.get("sort_by") or "id"
        if sort_by not in ("id", "update_time", "add_time"):
            raise bad_request("sort_by must be one of id, update_time, add_time")
        direction = args.get("sort_direction") or "asc"
        if direction not in ("asc", "desc"):
            raise bad_request("sort_direction must be asc or desc")
        return sorted(records, key=lambda r: (r[sort_by], r["id"]), reverse=direction == "desc")

    def create_deal(self, body: dict, actor: Actor) -> dict:
        self._refuse_unknown(body, DEAL_KEYS | {"id"}, "deal")
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise bad_request("title is required")
        now = self._now()
        deal: dict[str, Any] = {
            "id": 0, "title": title, "creator_user_id": actor.user_id, "owner_id": actor.user_id,
            "person_id": None, "org_id": None, "pipeline_id": STAGES[0]["pipeline_id"],
            "stage_id": STAGES[0]["id"], "value": Decimal(0), "currency": self.config.default_currency,
            "add_time": now, "update_time": now, "stage_change_time": None, "is_archived": False,
            "archive_time": None, "is_deleted": False, "status": "open", "probability": None,
            "lost_reason": None, "visible_to": 3, "close_time": None, "won_time": None, "lost_time": None,
            "first_won_time": None, "expected_close_date": None, "label_ids": [],
            "origin": "API" if actor.source == "api" else "ManuallyCreated", "origin_id": None,
            "channel": None, "channel_id": None, "custom": {},
        }
        self._apply_deal(deal, body, actor, now, creating=True)
        deal["id"] = self._new_id("deal", body.get("id"))
        self.deals[deal["id"]] = deal
        self._emit("deal", "create", deal["id"], None, self.deal_hook(deal), actor)
        return deal

    def update_deal(self, deal_id: int, body: dict, actor: Actor, internal: bool = False) -> dict:
        self._refuse_unknown(body, DEAL_KEYS - {"add_time"}, "deal")
        current = self.get_deal(deal_id)
        if current["is_deleted"]:
            raise not_found("Deal")
        archived_guard = not internal and actor.source == "api" and body.get("is_archived") is not False
        if current["is_archived"] and archived_guard:
            raise bad_request("Archived deals cannot be updated")
        before = self.deal_hook(current)
        updated = copy.deepcopy(current)
        now = self._now()
        self._apply_deal(updated, body, actor, now, creating=False)
        after = self.deal_hook(updated)
        if _diff(before, after):
            updated["update_time"] = now
            self.deals[deal_id] = updated
            self._emit("deal", "change", deal_id, before, self.deal_hook(updated), actor)
        return self.deals[deal_id]

    def _apply_deal(self, deal: dict, body: dict, actor: Actor, now: datetime, creating: bool) -> None:
        if "title" in body:
            title = to_str(body["title"], "title", nullable=False, max_length=255)
            if not title.strip():
                raise bad_request("title must not be empty")
            deal["title"] = title
        if "owner_id" in body:
            deal["owner_id"] = self._ref("user", body["owner_id"], "owner_id")
            if deal["owner_id"] is None:
                raise bad_request("owner_id must not be null")
        if "person_id" in body:
            deal["person_id"] = self._ref("people", body["person_id"], "person_id")
        if "org_id" in body:
            deal["org_id"] = self._ref("org", body["org_id"], "org_id")
        if "value" in body:
            deal["value"] = to_decimal(body["value"], "value")
        if "currency" in body:
            deal["currency"] = self._currency(body["currency"])
        if "probability" in body:
            deal["probability"] = None if body["probability"] is None else to_decimal(body["probability"], "probability")
        if "visible_to" in body:
            deal["visible_to"] = self._visible_to(body["visible_to"])
        if "expected_close_date" in body:
            deal["expected_close_date"] = to_date(body["expected_close_date"], "expected_close_date")
        if "label_ids" in body:
            deal["label_ids"] = self._labels(body["label_ids"])
        for key in ("origin_id", "channel_id"):
            if key in body:
                deal[key] = to_str(body[key], key)
        if "channel" in body:
            deal["channel"] = to_int(body["channel"], "channel", nullable=True)
        if "add_time" in body and creating:
            deal["add_time"] = self._timestamp(body["add_time"], "add_time")
            deal["update_time"] = deal["add_time"]
        self._apply_stage(deal, body, now)
        self._apply_status(deal, body, now)
        if "is_archived" in body:
            archived = to_bool(body["is_archived"], "is_archived")
            if archived != deal["is_archived"]:
                deal["is_archived"] = archived
                deal["archive_time"] = now if archived else None
        deal["custom"] = self._custom_fields("deal", body.get("custom_fields"), deal["custom"], deal["currency"])

    @staticmethod
    def _timestamp(value: Any, name: str) -> datetime:
        from local.emulators.common import parse_instant

        if not isinstance(value, str):
            raise bad_request(f"{name} must be an RFC 3339 timestamp")
        try:
            return parse_instant(value)
        except ValueError as exc:
            raise bad_request(f"{name} must be an RFC 3339 timestamp") from exc

    @staticmethod
    def _apply_stage(deal: dict, body: dict, now: datetime) -> None:
        stage_id = to_int(body["stage_id"], "stage_id") if "stage_id" in body else None
        pipeline_id = to_int(body["pipeline_id"], "pipeline_id") if "pipeline_id" in body else None
        if pipeline_id is not None and pipeline_id not in {p["id"] for p in PIPELINES}:
            raise bad_request(f"Pipeline with id {pipeline_id} does not exist")
        if stage_id is not None:
            stage = next((s for s in STAGES if s["id"] == stage_id), None)
            if stage is None:
                raise bad_request(f"Stage with id {stage_id} does not exist")
            if pipeline_id is not None and stage["pipeline_id"] != pipeline_id:
                raise bad_request("stage_id does not belong to pipeline_id")
        elif pipeline_id is not None and pipeline_id != deal["pipeline_id"]:
            stage_id = min((s for s in STAGES if s["pipeline_id"] == pipeline_id), key=lambda s: s["order_nr"])["id"]
        if stage_id is not None and stage_id != deal["stage_id"]:
            deal["stage_id"] = stage_id
            deal["pipeline_id"] = next(s["pipeline_id"] for s in STAGES if s["id"] == stage_id)
            deal["stage_change_time"] = now

    def _apply_status(self, deal: dict, body: dict, now: datetime) -> None:
        if "status" in body:
            status = body["status"]
            if status not in ("open", "won", "lost"):
                raise bad_request("status must be one of open, won, lost (delete a deal with DELETE)")
            if status != deal["status"]:
                deal["status"] = status
                if status == "won":
                    deal["won_time"] = now
                    deal["close_time"] = now
                    deal["lost_time"] = None
                    deal["lost_reason"] = None
                    if deal["first_won_time"] is None:
                        deal["first_won_time"] = now
                elif status == "lost":
                    deal["lost_time"] = now
                    deal["close_time"] = now
                    deal["won_time"] = None
                else:
                    deal["won_time"] = None
                    deal["lost_time"] = None
                    deal["close_time"] = None
                    deal["lost_reason"] = None
        for key, status in (("won_time", "won"), ("lost_time", "lost")):
            if key in body:
                if deal["status"] != status:
                    raise bad_request(f"{key} can only be set if deal status is {status}")
                deal[key] = self._timestamp(body[key], key)
                deal["close_time"] = deal[key]
                if key == "won_time" and (deal["first_won_time"] is None or deal["first_won_time"] > deal[key]):
                    deal["first_won_time"] = deal[key]
        if "close_time" in body:
            if deal["status"] not in ("won", "lost"):
                raise bad_request("close_time can only be set if deal status is won or lost")
            deal["close_time"] = self._timestamp(body["close_time"], "close_time")
        if "lost_reason" in body:
            if body["lost_reason"] is not None and deal["status"] != "lost":
                raise bad_request("lost_reason can only be set if deal status is lost")
            deal["lost_reason"] = to_str(body["lost_reason"], "lost_reason")

    def delete_deal(self, deal_id: int, actor: Actor) -> None:
        deal = self.get_deal(deal_id)
        if deal["is_deleted"]:
            raise not_found("Deal")
        before = self.deal_hook(deal)
        deal["is_deleted"] = True
        deal["status"] = "deleted"
        deal["update_time"] = self._now()
        self._emit("deal", "delete", deal_id, before, None, actor)

    # deal products ----------------------------------------------------------------------------------
    def deal_product_rest(self, item: dict) -> dict:
        return {
            "id": item["id"],
            "sum": num(item["sum"]),
            "tax": num(item["tax"]),
            "deal_id": item["deal_id"],
            "name": item["name"],
            "product_id": item["product_id"],
            "product_variation_id": item["product_variation_id"],
            "add_time": rfc3339(item["add_time"]),
            "update_time": rfc3339(item["update_time"]),
            "comments": item["comments"],
            "currency": item["currency"],
            "discount": num(item["discount"]),
            "discount_type": item["discount_type"],
            "quantity": num(item["quantity"]),
            "item_price": num(item["item_price"]),
            "tax_method": item["tax_method"],
            "is_enabled": item["is_enabled"],
            "billing_frequency": item["billing_frequency"],
            "billing_frequency_cycles": item["billing_frequency_cycles"],
            "billing_start_date": item["billing_start_date"],
        }

    def list_deal_products(self, deal_id: int, args: dict[str, str]) -> list[dict]:
        deal = self.get_deal(deal_id)
        if deal["is_deleted"]:
            raise not_found("Deal")
        items = [p for p in self.deal_products.values() if p["deal_id"] == deal_id]
        sort_by = args.get("sort_by") or "id"
        if sort_by not in ("id", "add_time", "update_time", "order_nr"):
            raise bad_request("sort_by must be one of id, add_time, update_time, order_nr")
        key = "id" if sort_by == "order_nr" else sort_by
        direction = args.get("sort_direction") or "asc"
        if direction not in ("asc", "desc"):
            raise bad_request("sort_direction must be asc or desc")
        return sorted(items, key=lambda p: (p[key], p["id"]), reverse=direction == "desc")

    def list_products_of_deals(self, args: dict[str, str]) -> list[dict]:
        """The lines of up to 100 deals (deal_ids), by deal then line; deleted deals have none."""
        raw = [i.strip() for i in (args.get("deal_ids") or "").split(",") if i.strip()]
        if not raw:
            raise bad_request("deal_ids is required")
        if len(raw) > 100 or not all(i.isdigit() for i in raw):
            raise bad_request("deal_ids must be at most 100 deal ids")
        wanted = {int(i) for i in raw}
        live = {d for d in wanted if d in self.deals and not self.deals[d]["is_deleted"]}
        items = [p for p in self.deal_products.values() if p["deal_id"] in live]
        return sorted(items, key=lambda p: (p["deal_id"], p["id"]))

    def add_deal_product(self, deal_id: int, body: dict, actor: Actor) -> dict:
        self._refuse_unknown(body, DEAL_PRODUCT_KEYS, "deal product")
        deal = self.get_deal(deal_id)
        if deal["is_deleted"]:
            raise not_found("Deal")
        for key in ("product_id", "item_price", "quantity"):
            if key not in body:
                raise bad_request(f"{key} is required")
        siblings = [p for p in self.deal_products.values() if p["deal_id"] == deal_id]
        now = self._now()
        item: dict[str, Any] = {
            "id": 0, "deal_id": deal_id, "product_id": None, "name": None, "product_variation_id": None,
            "item_price": Decimal(0), "quantity": Decimal(1), "discount": Decimal(0), "discount_type": "percentage",
            "tax": Decimal(0), "tax_method": siblings[0]["tax_method"] if siblings else "none", "comments": None,
            "currency": deal["currency"], "is_enabled": True, "billing_frequency": "one-time",
            "billing_frequency_cycles": None, "billing_start_date": None, "add_time": now, "update_time": now,
            "sum": Decimal(0),
        }
        self._apply_deal_product(item, body)
        item["id"] = self._new_id("deal_product")
        self.deal_products[item["id"]] = item
        self._after_products_changed(deal_id, item, "tax_method" in body, actor)
        return item

    def update_deal_product(self, deal_id: int, item_id: int, body: dict, actor: Actor) -> dict:
        self._refuse_unknown(body, DEAL_PRODUCT_KEYS, "deal product")
        item = self.deal_products.get(item_id)
        if item is None or item["deal_id"] != deal_id or self.get_deal(deal_id)["is_deleted"]:
            raise not_found("Deal product")
        updated = copy.deepcopy(item)
        self._apply_deal_product(updated, body)
        updated["update_time"] = self._now()
        self.deal_products[item_id] = updated
        self._after_products_changed(deal_id, updated, "tax_method" in body, actor)
        return updated

    def delete_deal_product(self, deal_id: int, item_id: int, actor: Actor) -> None:
        item = self.deal_products.get(item_id)
        if item is None or item["deal_id"] != deal_id:
            raise not_found("Deal product")
        del self.deal_products[item_id]
        self._after_products_changed(deal_id, None, False, actor)

    def _apply_deal_product(self, item: dict, body: dict) -> None:
        if "product_id" in body:
            product_id = to_int(body["product_id"], "product_id")
            product = self.products.get(product_id)
            if product is None or product["is_deleted"]:
                raise bad_request(f"Product with id {product_id} does not exist")
            item["product_id"] = product_id
            item["name"] = product["name"]
        if "item_price" in body:
            item["item_price"] = to_decimal(body["item_price"], "item_price")
        if "quantity" in body:
            item["quantity"] = to_decimal(body["quantity"], "quantity")
            if item["quantity"] <= 0:
                raise bad_request("quantity must be greater than 0")
        if "discount" in body:
            item["discount"] = to_decimal(body["discount"], "discount")
        if "discount_type" in body:
            if body["discount_type"] not in DISCOUNT_TYPES:
                raise bad_request("discount_type must be percentage or amount")
            item["discount_type"] = body["discount_type"]
        if "tax" in body:
            item["tax"] = to_decimal(body["tax"], "tax")
        if "tax_method" in body:
            if body["tax_method"] not in TAX_METHODS:
                raise bad_request("tax_method must be one of exclusive, inclusive, none")
            item["tax_method"] = body["tax_method"]
        if "comments" in body:
            item["comments"] = to_str(body["comments"], "comments")
        if "is_enabled" in body:
            item["is_enabled"] = to_bool(body["is_enabled"], "is_enabled")
        if "product_variation_id" in body:
            item["product_variation_id"] = to_int(body["product_variation_id"], "product_variation_id", nullable=True)
        if "billing_frequency" in body:
            if body["billing_frequency"] not in BILLING_FREQUENCIES:
                raise bad_request(f"billing_frequency must be one of {', '.join(BILLING_FREQUENCIES)}")
            item["billing_frequency"] = body["billing_frequency"]
        if "billing_frequency_cycles" in body:
            item["billing_frequency_cycles"] = to_int(body["billing_frequency_cycles"], "billing_frequency_cycles",
                                                      nullable=True)
        if "billing_start_date" in body:
            item["billing_start_date"] = to_date(body["billing_start_date"], "billing_start_date")
        if item["discount_type"] == "percentage" and not Decimal(0) <= item["discount"] <= Decimal(100):
            raise bad_request("A percentage discount must be between 0 and 100")
        if item["billing_frequency"] == "one-time" and item["billing_frequency_cycles"] is not None:
            raise bad_request("billing_frequency_cycles must be null when billing_frequency is one-time")
        item["sum"] = product_sum(item["item_price"], item["quantity"], item["discount"], item["discount_type"],
                                  item["tax"], item["tax_method"])

    def _after_products_changed(self, deal_id: int, changed: dict | None, tax_method_set: bool, actor: Actor) -> None:
        """Tax method is deal-wide; the deal value follows the sum of its enabled products."""
        items = [p for p in self.deal_products.values() if p["deal_id"] == deal_id]
        if changed is not None and tax_method_set:
            for other in items:
                if other is not changed and other["tax_method"] != changed["tax_method"]:
                    other["tax_method"] = changed["tax_method"]
                    other["sum"] = product_sum(other["item_price"], other["quantity"], other["discount"],
                                               other["discount_type"], other["tax"], other["tax_method"])
                    other["update_time"] = changed["update_time"]
        if not items:
            return
        total = sum((p["sum"] for p in items if p["is_enabled"]), Decimal(0))
        deal = self.deals[deal_id]
        if total != deal["value"]:
            self.update_deal(deal_id, {"value": total}, actor, internal=True)

    # organizations ----------------------------------------------------------------------------------
    def org_rest(self, org: dict, hook: bool = False) -> dict:
        return {
            "id": org["id"],
            "name": org["name"],
            "owner_id": org["owner_id"],
            "add_time": rfc3339(org["add_time"]),
            "update_time": rfc3339(org["update_time"]),
            "is_deleted": org["is_deleted"],
            "visible_to": org["visible_to"],
            "address": dict(org["address"]) if org["address"] else None,
            "label_ids": list(org["label_ids"]),
            "custom_fields": self._custom_out("organization", org["custom"], webhook_value if hook else rest_value),
        }

    def get_org(self, org_id: int) -> dict:
        org = self.organizations.get(org_id)
        if org is None:
            raise not_found("Organization")
        return org

    def list_orgs(self, args: dict[str, str]) -> list[dict]:
        orgs = [o for o in self.organizations.values() if not o["is_deleted"]]
        if args.get("owner_id"):
            orgs = [o for o in orgs if str(o["owner_id"]) == args["owner_id"]]
        if args.get("ids"):
            wanted = {i.strip() for i in args["ids"].split(",")}
            orgs = [o for o in orgs if str(o["id"]) in wanted]
        return self._filter_sort(orgs, args)

    def create_org(self, body: dict, actor: Actor) -> dict:
        self._refuse_unknown(body, ORG_KEYS | {"id"}, "organization")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("name is required")
        now = self._now()
        org = {"id": 0, "name": name, "owner_id": actor.user_id, "add_time": now, "update_time": now,
               "is_deleted": False, "visible_to": 3, "address": None, "label_ids": [], "custom": {}}
        self._apply_org(org, body)
        if "add_time" in body:
            org["add_time"] = org["update_time"] = self._timestamp(body["add_time"], "add_time")
        org["id"] = self._new_id("organization", body.get("id"))
        self.organizations[org["id"]] = org
        self._emit("organization", "create", org["id"], None, self.org_rest(org, hook=True), actor)
        return org

    def update_org(self, org_id: int, body: dict, actor: Actor) -> dict:
        self._refuse_unknown(body, ORG_KEYS - {"add_time"}, "organization")
        current = self.get_org(org_id)
        if current["is_deleted"]:
            raise not_found("Organization")
        before = self.org_rest(current, hook=True)
        updated = copy.deepcopy(current)
        self._apply_org(updated, body)
        if _diff(before, self.org_rest(updated, hook=True)):
            updated["update_time"] = self._now()
            self.organizations[org_id] = updated
            self._emit("organization", "change", org_id, before, self.org_rest(updated, hook=True), actor)
        return self.organizations[org_id]

    def _apply_org(self, org: dict, body: dict) -> None:
        if "name" in body:
            name = to_str(body["name"], "name", nullable=False, max_length=255)
            if not name.strip():
                raise bad_request("name must not be empty")
            org["name"] = name
        if "owner_id" in body:
            org["owner_id"] = self._ref("user", body["owner_id"], "owner_id")
        if "address" in body:
            org["address"] = parse_address(body["address"], "address")
        if "visible_to" in body:
            org["visible_to"] = self._visible_to(body["visible_to"])
        if "label_ids" in body:
            org["label_ids"] = self._labels(body["label_ids"])
        org["custom"] = self._custom_fields("organization", body.get("custom_fields"), org["custom"],
                                            self.config.default_currency)

    def delete_org(self, org_id: int, actor: Actor) -> None:
        org = self.get_org(org_id)
        if org["is_deleted"]:
            raise not_found("Organization")
        before = self.org_rest(org, hook=True)
        org["is_deleted"] = True
        org["update_time"] = self._now()
        self._emit("organization", "delete", org_id, before, None, actor)

    # persons ----------------------------------------------------------------------------------------
    def person_rest(self, person: dict, hook: bool = False) -> dict:
        return {
            "id": person["id"],
            "name": person["name"],
            "first_name": person["first_name"],
            "last_name": person["last_name"],
            "owner_id": person["owner_id"],
            "org_id": person["org_id"],
            "add_time": rfc3339(person["add_time"]),
            "update_time": rfc3339(person["update_time"]),
            "is_deleted": person["is_deleted"],
            "visible_to": person["visible_to"],
            "emails": [dict(e) for e in person["emails"]],
            "phones": [dict(p) for p in person["phones"]],
            "label_ids": list(person["label_ids"]),
            "picture_id": None,
            "custom_fields": self._custom_out("person", person["custom"], webhook_value if hook else rest_value),
        }

    def get_person(self, person_id: int) -> dict:
        person = self.persons.get(person_id)
        if person is None:
            raise not_found("Person")
        return person

    def list_persons(self, args: dict[str, str]) -> list[dict]:
        persons = [p for p in self.persons.values() if not p["is_deleted"]]
        for key in ("org_id", "owner_id"):
            if args.get(key):
                persons = [p for p in persons if str(p[key]) == args[key]]
        if args.get("ids"):
            wanted = {i.strip() for i in args["ids"].split(",")}
            persons = [p for p in persons if str(p["id"]) in wanted]
        return self._filter_sort(persons, args)

    def create_person(self, body: dict, actor: Actor) -> dict:
        self._refuse_unknown(body, PERSON_KEYS | {"id"}, "person")
        now = self._now()
        person = {"id": 0, "name": None, "first_name": None, "last_name": None, "owner_id": actor.user_id,
                  "org_id": None, "add_time": now, "update_time": now, "is_deleted": False, "visible_to": 3,
                  "emails": [], "phones": [], "label_ids": [], "custom": {}}
        self._apply_person(person, body)
        if not person["name"]:
            raise bad_request("name is required")
        person["id"] = self._new_id("person", body.get("id"))
        self.persons[person["id"]] = person
        self._emit("person", "create", person["id"], None, self.person_rest(person, hook=True), actor)
        return person

    def update_person(self, person_id: int, body: dict, actor: Actor) -> dict:
        self._refuse_unknown(body, PERSON_KEYS - {"add_time"}, "person")
        current = self.get_person(person_id)
        if current["is_deleted"]:
            raise not_found("Person")
        before = self.person_rest(current, hook=True)
        updated = copy.deepcopy(current)
        self._apply_person(updated, body)
        if _diff(before, self.person_rest(updated, hook=True)):
            updated["update_time"] = self._now()
            self.persons[person_id] = updated
            self._emit("person", "change", person_id, before, self.person_rest(updated, hook=True), actor)
        return self.persons[person_id]

    def delete_person(self, person_id: int, actor: Actor) -> None:
        person = self.get_person(person_id)
        if person["is_deleted"]:
            raise not_found("Person")
        before = self.person_rest(person, hook=True)
        person["is_deleted"] = True
        person["update_time"] = self._now()
        self._emit("person", "delete", person_id, before, None, actor)

    def _apply_person(self, person: dict, body: dict) -> None:
        if "name" in body:
            name = to_str(body["name"], "name", nullable=False, max_length=255)
            first, _, last = name.strip().partition(" ")
            person.update(name=name, first_name=first or None, last_name=last or None)
        if "first_name" in body or "last_name" in body:
            first = to_str(body.get("first_name", person["first_name"]), "first_name")
            last = to_str(body.get("last_name", person["last_name"]), "last_name")
            person.update(first_name=first, last_name=last)
            if "name" not in body:
                person["name"] = " ".join(p for p in (first, last) if p) or None
        if "owner_id" in body:
            person["owner_id"] = self._ref("user", body["owner_id"], "owner_id")
        if "org_id" in body:
            person["org_id"] = self._ref("org", body["org_id"], "org_id")
        for key in ("emails", "phones"):
            if key in body:
                person[key] = self._contact_list(body[key], key)
        if "visible_to" in body:
            person["visible_to"] = self._visible_to(body["visible_to"])
        if "label_ids" in body:
            person["label_ids"] = self._labels(body["label_ids"])
        person["custom"] = self._custom_fields("person", body.get("custom_fields"), person["custom"],
                                               self.config.default_currency)

    @staticmethod
    def _contact_list(value: Any, name: str) -> list[dict]:
        if not isinstance(value, list):
            raise bad_request(f"{name} must be an array of {{value, primary, label}} objects")
        out = []
        for entry in value:
            if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
                raise bad_request(f"every item of {name} needs a string value")
            unknown = set(entry) - {"value", "primary", "label"}
            if unknown:
                raise bad_request(f"{name}: unknown keys {sorted(unknown)}")
            primary = entry.get("primary", False)
            if not isinstance(primary, bool):
                raise bad_request(f"{name}.primary must be a boolean")
            label = entry.get("label") or "work"
            out.append({"value": entry["value"], "primary": primary, "label": label})
        if out and not any(e["primary"] for e in out):
            out[0]["primary"] = True
        return out

    # products ---------------------------------------------------------------------------------------
    def product_rest(self, product: dict) -> dict:
        return {
            "id": product["id"],
            "name": product["name"],
            "code": product["code"],
            "description": product["description"],
            "unit": product["unit"],
            "tax": num(product["tax"]),
            "category": product["category"],
            "owner_id": product["owner_id"],
            "is_linkable": product["is_linkable"],
            "is_deleted": product["is_deleted"],
            "visible_to": product["visible_to"],
            "add_time": rfc3339(product["add_time"]),
            "update_time": rfc3339(product["update_time"]),
            "billing_frequency": product["billing_frequency"],
            "billing_frequency_cycles": product["billing_frequency_cycles"],
            "prices": [
                {"product_id": product["id"], "price": num(p["price"]), "currency": p["currency"],
                 "cost": num(p["cost"]), "direct_cost": num(p["direct_cost"]), "notes": p["notes"]}
                for p in product["prices"]
            ],
            "custom_fields": self._custom_out("product", product["custom"], rest_value),
        }

    def get_product(self, product_id: int) -> dict:
        product = self.products.get(product_id)
        if product is None or product["is_deleted"]:
            raise not_found("Product")
        return product

    def list_products(self, args: dict[str, str]) -> list[dict]:
        products = [p for p in self.products.values() if not p["is_deleted"]]
        if args.get("ids"):
            wanted = {i.strip() for i in args["ids"].split(",")}
            products = [p for p in products if str(p["id"]) in wanted]
        return self._filter_sort(products, args)

    def create_product(self, body: dict, actor: Actor) -> dict:
        self._refuse_unknown(body, PRODUCT_KEYS | {"id"}, "product")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("name is required")
        now = self._now()
        product = {"id": 0, "name": name, "code": None, "description": None, "unit": None, "tax": Decimal(0),
                   "category": None, "owner_id": actor.user_id, "is_linkable": True, "is_deleted": False,
                   "visible_to": 3, "add_time": now, "update_time": now, "billing_frequency": "one-time",
                   "billing_frequency_cycles": None, "prices": [], "custom": {}}
        for key in ("code", "description", "unit"):
            if key in body:
                product[key] = to_str(body[key], key)
        if "tax" in body:
            product["tax"] = to_decimal(body["tax"], "tax")
        if "category" in body:
            product["category"] = body["category"]
        if "owner_id" in body:
            product["owner_id"] = self._ref("user", body["owner_id"], "owner_id")
        if "is_linkable" in body:
            product["is_linkable"] = to_bool(body["is_linkable"], "is_linkable")
        if "visible_to" in body:
            product["visible_to"] = self._visible_to(body["visible_to"])
        if "billing_frequency" in body:
            if body["billing_frequency"] not in BILLING_FREQUENCIES:
                raise bad_request(f"billing_frequency must be one of {', '.join(BILLING_FREQUENCIES)}")
            product["billing_frequency"] = body["billing_frequency"]
        if "prices" in body:
            if not isinstance(body["prices"], list):
                raise bad_request("prices must be an array")
            for price in body["prices"]:
                if not isinstance(price, dict) or "price" not in price:
                    raise bad_request("every price needs a price and a currency")
                product["prices"].append({
                    "price": to_decimal(price["price"], "prices.price"),
                    "currency": self._currency(price.get("currency", self.config.default_currency)),
                    "cost": to_decimal(price.get("cost", 0), "prices.cost"),
                    "direct_cost": to_decimal(price.get("direct_cost", 0), "prices.direct_cost"),
                    "notes": to_str(price.get("notes"), "prices.notes"),
                })
        product["custom"] = self._custom_fields("product", body.get("custom_fields"), {},
                                                self.config.default_currency)
        product["id"] = self._new_id("product", body.get("id"))
        self.products[product["id"]] = product
        self._emit("product", "create", product["id"], None, self.product_rest(product), actor)
        return product

    # notes (v1) -------------------------------------------------------------------------------------
    def note_v1(self, note: dict, viewer: int) -> dict:
        deal = self.deals.get(note["deal_id"]) if note["deal_id"] else None
        org = self.organizations.get(note["org_id"]) if note["org_id"] else None
        person = self.persons.get(note["person_id"]) if note["person_id"] else None
        user = USERS[note["user_id"]]
        return {
            "id": note["id"],
            "user_id": note["user_id"],
            "deal_id": note["deal_id"],
            "person_id": note["person_id"],
            "org_id": note["org_id"],
            "lead_id": note["lead_id"],
            "project_id": None,
            "content": note["content"],
            "add_time": v1_time(note["add_time"]),
            "update_time": v1_time(note["update_time"]),
            "active_flag": True,
            "pinned_to_deal_flag": note["pinned_to_deal_flag"],
            "pinned_to_person_flag": note["pinned_to_person_flag"],
            "pinned_to_organization_flag": note["pinned_to_organization_flag"],
            "pinned_to_lead_flag": False,
            "last_update_user_id": note["user_id"],
            "organization": {"name": org["name"]} if org else None,
            "person": {"name": person["name"]} if person else None,
            "deal": {"title": deal["title"]} if deal else None,
            "lead": None,
            "user": {"email": user["email"], "name": user["name"], "icon_url": None, "is_you": user["id"] == viewer},
        }

    def add_note(self, body: dict, user_id: int) -> dict:
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ApiError(400, "Note content is required")
        refs: dict[str, int | None] = {}
        for key in ("deal_id", "person_id", "org_id"):
            raw = body.get(key)
            if raw in (None, ""):
                refs[key] = None
                continue
            try:
                refs[key] = int(raw)
            except (TypeError, ValueError) as exc:
                raise ApiError(400, f"{key} must be an integer") from exc
        lead_id = body.get("lead_id") or None
        if not any(refs.values()) and not lead_id:
            raise ApiError(400, "Note must be attached to a deal, person, organization or lead")
        if refs["deal_id"] and (refs["deal_id"] not in self.deals or self.deals[refs["deal_id"]]["is_deleted"]):
            raise ApiError(400, "Deal not found")
        if refs["org_id"] and not self.exists("org", refs["org_id"]):
            raise ApiError(400, "Organization not found")
        if refs["person_id"] and not self.exists("people", refs["person_id"]):
            raise ApiError(400, "Person not found")
        author = body.get("user_id")
        if author not in (None, ""):
            try:
                author = int(author)
            except (TypeError, ValueError) as exc:
                raise ApiError(400, "user_id must be an integer") from exc
            if author not in USERS:
                raise ApiError(400, "User not found")
        else:
            author = user_id
        now = self._now()

        def flag(name: str) -> bool:
            return body.get(name) in (True, 1, "1", "true")

        note = {"id": self._new_id("note"), "user_id": author, **refs, "lead_id": lead_id, "content": content,
                "add_time": now, "update_time": now, "pinned_to_deal_flag": flag("pinned_to_deal_flag"),
                "pinned_to_person_flag": flag("pinned_to_person_flag"),
                "pinned_to_organization_flag": flag("pinned_to_organization_flag")}
        self.notes[note["id"]] = note
        return note

    def list_notes(self, args: dict[str, str]) -> list[dict]:
        notes = list(self.notes.values())
        for key in ("deal_id", "person_id", "org_id", "user_id", "lead_id"):
            if args.get(key):
                notes = [n for n in notes if str(n[key]) == args[key]]
        sort = (args.get("sort") or "id ASC").split()
        field, direction = sort[0], (sort[1].upper() if len(sort) > 1 else "ASC")
        if field not in ("id", "add_time", "update_time", "user_id", "content"):
            raise ApiError(400, f"Cannot sort by {field}")
        return sorted(notes, key=lambda n: (n[field], n["id"]), reverse=direction == "DESC")

    # fields -----------------------------------------------------------------------------------------
    def add_field(self, entity: str, body: dict) -> FieldDef:
        if entity not in ENTITIES:
            raise not_found("Field collection")
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object")
        return self.fields.add(entity, body, self._now())
