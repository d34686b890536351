"""Everything the emulated HubSpot account holds, and the rules for changing it.

Records keep their properties as HubSpot does, as strings (None when unset), plus creation and update
instants. Each change goes through one method that checks the write as HubSpot would, applies the
side effects HubSpot has (calculated line-item amounts, the deal amount following its line items,
closedate and hs_is_closed_won following the stage), and raises events for the webhook engine: a
creation event plus a propertyChange for every property the write changed (including those set at
creation), all carrying the same occurredAt.

The caller holds the emulator lock.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .config import SALES_OWNER_ID, SALES_USER_ID, HubSpotConfig
from .errors import ApiError, not_found, property_errors, validation_error
from .properties import PropertyRegistry, iso_millis, number_text
from .schema import (
    ALWAYS_READ,
    ASSOCIATION_NAMES,
    ASSOCIATION_TYPES,
    CURRENCIES,
    DEFAULT_PIPELINE_STAGES,
    DEFAULT_READ,
    OBJECT_TYPES,
    RENEWALS_PIPELINE_ID,
    RENEWALS_STAGES,
    AssociationType,
    default_association,
    object_type,
)

CENT = Decimal("0.01")
# Different ranges per object type, so an id of the wrong type finds nothing instead of the wrong record.
ID_BASES = {"contacts": 51_000_000_001, "companies": 31_000_000_001, "deals": 21_000_000_001,
            "line_items": 41_000_000_001, "products": 11_000_000_001, "notes": 61_000_000_001}
MAX_BATCH = 100


@dataclass(frozen=True)
class Actor:
    """Who makes a change: an app through the API (INTEGRATION) or a person in HubSpot (CRM_UI)."""

    source: str
    source_id: str

    @classmethod
    def app(cls, app_id: int) -> Actor:
        return cls("INTEGRATION", str(app_id))

    @classmethod
    def user(cls, user_id: int = SALES_USER_ID) -> Actor:
        return cls("CRM_UI", f"userId:{user_id}")


OWNERS = [
    {"id": SALES_OWNER_ID, "email": "sam.sales@example.com", "firstName": "Sam", "lastName": "Sales",
     "userId": SALES_USER_ID, "createdAt": "2020-01-01T00:00:00.000Z", "updatedAt": "2020-01-01T00:00:00.000Z",
     "archived": False, "teams": []},
    {"id": "81000002", "email": "alex.accounts@example.com", "firstName": "Alex", "lastName": "Accounts",
     "userId": 71000002, "createdAt": "2020-01-01T00:00:00.000Z", "updatedAt": "2020-01-01T00:00:00.000Z",
     "archived": False, "teams": []},
]


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _dec(value: str | None, default: Decimal = Decimal(0)) -> Decimal:
    return Decimal(value) if value not in (None, "") else default


def line_item_amounts(props: dict[str, str | None]) -> dict[str, str | None]:
    """HubSpot's calculated line-item values: pre-discount amount, discount, net amount and tax.

    `discount` is a discount per unit; `hs_discount_percentage`, when set, applies to the whole line
    instead. `amount` (net price) is before tax; tax is `hs_tax_rate` percent of it. Cents, half up.
    """
    quantity = _dec(props.get("quantity"), Decimal(1))
    price = _dec(props.get("price"))
    pre = price * quantity
    percentage = props.get("hs_discount_percentage")
    if percentage not in (None, ""):
        total_discount = pre * Decimal(percentage) / 100
    else:
        total_discount = _dec(props.get("discount")) * quantity
    amount = _money(pre - total_discount)
    rate = props.get("hs_tax_rate")
    return {
        "hs_pre_discount_amount": number_text(_money(pre)),
        "hs_total_discount": number_text(_money(total_discount)),
        "amount": number_text(amount),
        "hs_tax_amount": number_text(_money(amount * Decimal(rate) / 100)) if rate not in (None, "") else None,
    }


class Store:
    def __init__(self, config: HubSpotConfig, now: Callable[[], datetime], publish: Callable[[dict], None]) -> None:
        self.config = config
        self._now = now
        self._publish = publish
        self.reset()

    # state ------------------------------------------------------------------------------------------
    def reset(self) -> None:
        self.properties = PropertyRegistry(self._now)
        self.objects: dict[str, dict[str, dict]] = {name: {} for name in OBJECT_TYPES}
        self._ids = {name: itertools.count(base) for name, base in ID_BASES.items()}
        # (type, id) -> (type, id) -> association type ids, kept in both directions.
        self.edges: dict[tuple[str, str], dict[tuple[str, str], set[int]]] = {}
        self.pipelines: list[dict] = [
            _pipeline("default", "Sales Pipeline", 0, DEFAULT_PIPELINE_STAGES),
            _pipeline(RENEWALS_PIPELINE_ID, "Renewals", 1, RENEWALS_STAGES),
        ]
        self._pipeline_ids = itertools.count(int(RENEWALS_PIPELINE_ID) + 100)
        self.events: list[dict] = []
        self.silent = False

    def snapshot(self) -> dict:
        return {
            "portal_id": self.config.portal_id,
            "app_id": self.config.app_id,
            "owners": OWNERS,
            "pipelines": self.pipelines,
            "properties": self.properties.snapshot(),
            "objects": {
                name: [self.render(name, r, None, list(OBJECT_TYPES)) for r in records.values()]
                for name, records in self.objects.items()
            },
            "events": self.events[-500:],
        }

    # pipelines --------------------------------------------------------------------------------------
    def pipeline(self, pipeline_id: str) -> dict | None:
        return next((p for p in self.pipelines if p["id"] == pipeline_id and not p["archived"]), None)

    def stage(self, stage_id: str) -> tuple[dict, dict] | None:
        for pipeline in self.pipelines:
            for stage in pipeline["stages"]:
                if stage["id"] == stage_id:
                    return pipeline, stage
        return None

    def create_pipeline(self, body: dict) -> dict:
        label = body.get("label")
        stages = body.get("stages")
        if not isinstance(label, str) or not label.strip():
            raise validation_error("label is required")
        if not isinstance(stages, list) or not stages:
            raise validation_error("A pipeline needs at least one stage")
        if any(p["label"] == label for p in self.pipelines):
            raise ApiError(409, f"A pipeline with label '{label}' already exists", "OBJECT_ALREADY_EXISTS")
        pipeline_id = str(next(self._pipeline_ids))
        specs = []
        for stage in stages:
            metadata = stage.get("metadata") if isinstance(stage, dict) else None
            if not isinstance(stage.get("label"), str) or not isinstance(metadata, dict) or "probability" not in metadata:
                raise validation_error("Each deal stage needs a label and metadata.probability")
            try:
                probability = Decimal(str(metadata["probability"]))
            except ArithmeticError as exc:
                raise validation_error("metadata.probability must be a number") from exc
            if not 0 <= probability <= 1:
                raise validation_error("metadata.probability must be between 0.0 and 1.0")
            is_closed = str(metadata.get("isClosed", probability in (0, 1))).lower() == "true"
            specs.append((str(next(self._pipeline_ids)), stage["label"], probability_text(probability), is_closed))
        pipeline = _pipeline(pipeline_id, label, int(body.get("displayOrder", len(self.pipelines))), specs,
                             now=iso_millis(self._now()))
        self.pipelines.append(pipeline)
        return pipeline

    # objects ----------------------------------------------------------------------------------------
    def get(self, object_name: str, object_id: str) -> dict:
        record = self.objects[object_name].get(str(object_id))
        if record is None or record["archived"]:
            raise not_found(f"{OBJECT_TYPES[object_name].upper.capitalize()} {object_id} does not exist")
        return record

    def exists(self, object_name: str, object_id: str) -> bool:
        record = self.objects[object_name].get(str(object_id))
        return record is not None and not record["archived"]

    def create(self, object_name: str, body: dict, actor: Actor, *, object_id: str | None = None) -> dict:
        if not isinstance(body, dict):
            raise validation_error("The request body must be a JSON object")
        props = self.properties.clean(object_name, body.get("properties") or {}, self.config.portal_id, self._dynamic)
        associations = self._parse_associations(object_name, body.get("associations") or [])
        self._require(object_name, props)
        now = self._now()
        new_id = object_id or str(next(self._ids[object_name]))
        if new_id in self.objects[object_name]:
            raise ApiError(409, f"{object_name} {new_id} already exists", "OBJECT_ALREADY_EXISTS")
        record = {"id": new_id, "properties": {}, "created_at": now, "updated_at": now, "archived": False}
        record["properties"].update({"hs_object_id": new_id, "createdate": iso_millis(now),
                                     self._modified_name(object_name): iso_millis(now)})
        record["properties"].update({k: v for k, v in props.items() if v is not None})
        if object_name == "deals":
            self._deal_defaults(record, props)
        before = self._snapshot_props({(a.to_type, to_id) for a, to_id in associations})
        self.objects[object_name][new_id] = record
        touched = {(object_name, new_id)}
        for association, to_id in associations:
            touched |= self._link(association, new_id, to_id)
        self._derive(touched, now)
        self._emit(object_name, new_id, "creation", None, now, actor)
        for name, value in sorted(record["properties"].items()):
            if value is not None and name not in ("hs_object_id", "createdate", self._modified_name(object_name)):
                self._emit(object_name, new_id, "propertyChange", (name, value), now, actor)
        self._emit_derived_changes(touched - {(object_name, new_id)}, before, now, actor)
        return record

    def update(self, object_name: str, object_id: str, body: dict, actor: Actor) -> dict:
        if not isinstance(body, dict):
            raise validation_error("The request body must be a JSON object")
        record = self.get(object_name, object_id)
        props = self.properties.clean(object_name, body.get("properties") or {}, self.config.portal_id, self._dynamic)
        if object_name == "deals":
            self._check_stage(record, props)
        now = self._now()
        touched = {(object_name, record["id"])}
        if object_name == "line_items":
            touched |= set(self.associated(object_name, record["id"], "deals"))
        before = self._snapshot_props(touched)
        for name, value in props.items():
            record["properties"][name] = value
        if object_name == "deals" and "dealstage" in props:
            self._entered_stage(record, props, now)
        self._derive(touched, now)
        self._emit_derived_changes(touched, before, now, actor, touch_modified=True)
        return record

    def archive(self, object_name: str, object_id: str, actor: Actor) -> None:
        record = self.get(object_name, object_id)
        now = self._now()
        parents = self.associated(object_name, record["id"], "deals") if object_name == "line_items" else []
        before = self._snapshot_props(parents)
        record["archived"] = True
        record["archived_at"] = now
        for other in list(self.edges.get((object_name, record["id"]), {})):
            self._unlink(object_name, record["id"], *other)
        self._derive(set(parents), now)
        self._emit(object_name, record["id"], "deletion", None, now, actor)
        self._emit_derived_changes(set(parents), before, now, actor)

    # associations -----------------------------------------------------------------------------------
    def associated(self, object_name: str, object_id: str, to_name: str) -> list[tuple[str, str]]:
        edges = self.edges.get((object_name, str(object_id)), {})
        return sorted(((t, i) for (t, i) in edges if t == to_name), key=lambda pair: int(pair[1]))

    def association_types(self, object_name: str, object_id: str, to_name: str, to_id: str) -> set[int]:
        return set(self.edges.get((object_name, str(object_id)), {}).get((to_name, str(to_id)), set()))

    def associate(self, from_name: str, from_id: str, to_name: str, to_id: str, types: Iterable[int | str | AssociationType],
                  actor: Actor) -> None:
        self.get(from_name, from_id)
        self.get(to_name, to_id)
        resolved = [self._association_type(t, from_name, to_name) for t in types]
        now = self._now()
        touched = {(from_name, str(from_id)), (to_name, str(to_id))}
        before = self._snapshot_props(touched)
        for association in resolved:
            touched |= self._link(association, str(from_id), str(to_id))
        self._derive(touched, now)
        self._emit_derived_changes(touched, before, now, actor)

    def dissociate(self, from_name: str, from_id: str, to_name: str, to_id: str, actor: Actor) -> None:
        self.get(from_name, from_id)
        now = self._now()
        touched = {(from_name, str(from_id)), (to_name, str(to_id))}
        before = self._snapshot_props(touched)
        self._unlink(from_name, str(from_id), to_name, str(to_id))
        self._derive(touched, now)
        self._emit_derived_changes(touched, before, now, actor)

    def _association_type(self, raw: Any, from_name: str, to_name: str) -> AssociationType:
        if isinstance(raw, AssociationType):
            association = raw
        elif isinstance(raw, dict):
            category = raw.get("associationCategory", "HUBSPOT_DEFINED")
            if category != "HUBSPOT_DEFINED":
                raise validation_error(f"associationCategory {category} is not supported by the emulator")
            association = ASSOCIATION_TYPES.get(raw.get("associationTypeId"))  # type: ignore[arg-type]
        elif isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()):
            association = ASSOCIATION_TYPES.get(int(raw))
        else:
            association = ASSOCIATION_NAMES.get(str(raw))
        if association is None or association.from_type != from_name or association.to_type != to_name:
            raise validation_error(f"{raw} is not a valid association type from {from_name} to {to_name}")
        return association

    def _parse_associations(self, from_name: str, raw: Any) -> list[tuple[AssociationType, str]]:
        if not isinstance(raw, list):
            raise validation_error("associations must be a list")
        parsed = []
        for item in raw:
            target = item.get("to") if isinstance(item, dict) else None
            types = item.get("types") if isinstance(item, dict) else None
            if not isinstance(target, dict) or "id" not in target or not isinstance(types, list) or not types:
                raise validation_error("each association needs to.id and a non-empty types list")
            for spec in types:
                type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
                association = ASSOCIATION_TYPES.get(type_id)  # type: ignore[arg-type]
                if association is None or association.from_type != from_name:
                    raise validation_error(f"associationTypeId {type_id} is not valid for {from_name}")
                if spec.get("associationCategory", "HUBSPOT_DEFINED") != "HUBSPOT_DEFINED":
                    raise validation_error("only HUBSPOT_DEFINED association types are supported by the emulator")
                to_id = str(target["id"])
                if not self.exists(association.to_type, to_id):
                    raise validation_error(
                        f"One or more associations are invalid: {OBJECT_TYPES[association.to_type].upper} {to_id} "
                        f"does not exist"
                    )
                parsed.append((association, to_id))
        return parsed

    def _link(self, association: AssociationType, from_id: str, to_id: str) -> set[tuple[str, str]]:
        """Add one association (and its unlabeled twin and inverse); returns the records touched."""
        if association.label and association.from_type == "companies":
            # "Primary" is a property of the deal's or contact's side: one primary company each.
            return self._link(ASSOCIATION_TYPES[association.inverse], to_id, from_id)
        from_name, to_name = association.from_type, association.to_type
        if {from_name, to_name} == {"line_items", "deals"}:
            line_id = from_id if from_name == "line_items" else to_id
            deal_id = to_id if from_name == "line_items" else from_id
            others = [i for _, i in self.associated("line_items", line_id, "deals") if i != deal_id]
            if others:
                raise validation_error(f"Line item {line_id} already belongs to deal {others[0]}; line items "
                                       f"belong to one single parent object")
        wanted = {association.type_id}
        plain = default_association(from_name, to_name)
        if plain is not None:
            wanted.add(plain.type_id)  # a labeled association always comes with the unlabeled one
        touched = set()
        if association.label == "Primary":
            # One primary per record: the previous primary keeps its unlabeled association only.
            for _, other_id in self.associated(from_name, from_id, to_name):
                if other_id != to_id and association.type_id in self.association_types(from_name, from_id, to_name,
                                                                                        other_id):
                    self._drop_type(from_name, from_id, to_name, other_id, association)
                    touched.add((to_name, other_id))
        for type_id in wanted:
            forward = ASSOCIATION_TYPES[type_id]
            self.edges.setdefault((from_name, from_id), {}).setdefault((to_name, to_id), set()).add(type_id)
            self.edges.setdefault((to_name, to_id), {}).setdefault((from_name, from_id), set()).add(forward.inverse)
        return touched | {(from_name, from_id), (to_name, to_id)}

    def _drop_type(self, from_name: str, from_id: str, to_name: str, to_id: str, association: AssociationType) -> None:
        self.edges[(from_name, from_id)][(to_name, to_id)].discard(association.type_id)
        self.edges[(to_name, to_id)][(from_name, from_id)].discard(association.inverse)

    def _unlink(self, from_name: str, from_id: str, to_name: str, to_id: str) -> None:
        self.edges.get((from_name, from_id), {}).pop((to_name, to_id), None)
        self.edges.get((to_name, to_id), {}).pop((from_name, from_id), None)

    # derived values ---------------------------------------------------------------------------------
    def _derive(self, touched: Iterable[tuple[str, str]], now: datetime) -> None:
        touched = set(touched)
        for name, object_id in sorted(touched):
            if name == "line_items" and self.exists(name, object_id):
                record = self.objects[name][object_id]
                record["properties"].update(line_item_amounts(record["properties"]))
        for name, object_id in sorted(touched):
            if name == "deals" and self.exists(name, object_id):
                self._derive_deal(self.objects[name][object_id])

    def _derive_deal(self, deal: dict) -> None:
        props = deal["properties"]
        lines = [self.objects["line_items"][i] for _, i in self.associated("deals", deal["id"], "line_items")]
        props["hs_num_of_associated_line_items"] = str(len(lines))
        if lines:
            # The deal amount follows its line items (HubSpot's default for deals with line items).
            total = sum((_dec(line["properties"].get("amount")) for line in lines), Decimal(0))
            props["amount"] = number_text(total)
        found = self.stage(props.get("dealstage") or "")
        closed = won = False
        if found:
            _, stage = found
            closed = stage["metadata"]["isClosed"] == "true"
            won = closed and Decimal(stage["metadata"]["probability"]) == 1
            props["hs_deal_stage_probability"] = stage["metadata"]["probability"]
        props["hs_is_closed"] = "true" if closed else "false"
        props["hs_is_closed_won"] = "true" if won else "false"
        props["hs_closed_amount"] = number_text(_dec(props.get("amount"))) if won else "0"

    def _deal_defaults(self, record: dict, props: dict[str, str | None]) -> None:
        values = record["properties"]
        pipeline = self.pipeline(values.get("pipeline") or "default")
        if pipeline is None:
            raise property_errors([{"name": "pipeline", "error": "INVALID_OPTION",
                                    "message": f"{values.get('pipeline')} is not a valid pipeline"}],
                                  self.config.portal_id)
        values["pipeline"] = pipeline["id"]
        if not values.get("dealstage"):
            values["dealstage"] = sorted(pipeline["stages"], key=lambda s: s["displayOrder"])[0]["id"]
        self._check_stage(record, {})
        self._entered_stage(record, props, record["created_at"])

    def _check_stage(self, record: dict, props: dict[str, str | None]) -> None:
        values = {**record["properties"], **props}
        pipeline = self.pipeline(values.get("pipeline") or "default")
        stage_id = values.get("dealstage")
        if pipeline is None:
            raise property_errors([{"name": "pipeline", "error": "INVALID_OPTION",
                                    "message": f"{values.get('pipeline')} is not a valid pipeline"}],
                                  self.config.portal_id)
        if stage_id is None or stage_id not in {s["id"] for s in pipeline["stages"]}:
            allowed = ", ".join(s["id"] for s in pipeline["stages"])
            raise property_errors([{"name": "dealstage", "error": "INVALID_OPTION",
                                    "message": f"{stage_id} was not one of the allowed options: [{allowed}] "
                                               f"(stages of pipeline {pipeline['id']})"}],
                                  self.config.portal_id)

    def _entered_stage(self, record: dict, props: dict[str, str | None], now: datetime) -> None:
        found = self.stage(record["properties"].get("dealstage") or "")
        closed = bool(found) and found[1]["metadata"]["isClosed"] == "true"  # type: ignore[index]
        # Moving a deal to a closed stage stamps its close date, unless the same write sets one.
        if closed and "closedate" not in props:
            record["properties"]["closedate"] = iso_millis(now)

    def _require(self, object_name: str, props: dict[str, str | None]) -> None:
        required = {"deals": ("dealname",), "notes": ("hs_timestamp",)}.get(object_name, ())
        missing = [name for name in required if not props.get(name)]
        if missing:
            raise property_errors([{"name": name, "error": "REQUIRED_PROPERTY",
                                    "message": f"{name} is required"} for name in missing], self.config.portal_id)

    def _dynamic(self, name: str, value: str) -> str | None:
        """Options that live elsewhere: pipelines, stages (checked with the pipeline), owners, currencies."""
        if name == "pipeline" and self.pipeline(value) is None:
            return f"{value} was not one of the allowed options: [{', '.join(p['id'] for p in self.pipelines)}]"
        if name == "dealstage" and self.stage(value) is None:
            return f"{value} is not a valid deal stage"
        if name == "hubspot_owner_id" and value not in {o["id"] for o in OWNERS}:
            return f"{value} was not one of the allowed options: [{', '.join(o['id'] for o in OWNERS)}]"
        if name in ("deal_currency_code", "hs_line_item_currency_code") and value not in CURRENCIES:
            return f"{value} was not one of the allowed options: [{', '.join(CURRENCIES)}]"
        return None

    @staticmethod
    def _modified_name(object_name: str) -> str:
        return "lastmodifieddate" if object_name == "contacts" else "hs_lastmodifieddate"

    # events -----------------------------------------------------------------------------------------
    def _snapshot_props(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        return {key: dict(self.objects[key[0]][key[1]]["properties"]) for key in keys
                if key[1] in self.objects[key[0]]}

    def _emit_derived_changes(self, touched: set[tuple[str, str]], before: dict[tuple[str, str], dict],
                              now: datetime, actor: Actor, *, touch_modified: bool = True) -> None:
        for name, object_id in sorted(touched):
            if not self.exists(name, object_id):
                continue
            record = self.objects[name][object_id]
            old = before.get((name, object_id))
            if old is None:
                continue
            changed = sorted(k for k, v in record["properties"].items() if old.get(k) != v)
            changed = [k for k in changed if k != self._modified_name(name)]
            if not changed:
                continue
            if touch_modified:
                record["updated_at"] = now
                record["properties"][self._modified_name(name)] = iso_millis(now)
            for prop in changed:
                self._emit(name, object_id, "propertyChange", (prop, record["properties"][prop]), now, actor)

    def _emit(self, object_name: str, object_id: str, kind: str, change: tuple[str, str | None] | None,
              now: datetime, actor: Actor) -> None:
        if self.silent:
            return
        event = {
            "objectType": OBJECT_TYPES[object_name].singular,
            "objectId": int(object_id),
            "kind": kind,
            "propertyName": change[0] if change else None,
            "propertyValue": change[1] if change else None,
            "occurredAt": int(now.timestamp() * 1000),
            "changeSource": actor.source,
            "sourceId": actor.source_id,
        }
        self.events.append(event)
        if len(self.events) > 2000:
            del self.events[:1000]
        self._publish(event)

    # rendering --------------------------------------------------------------------------------------
    def render(self, object_name: str, record: dict, properties: list[str] | None,
               associations: list[str] | None = None) -> dict:
        values = record["properties"]
        names = list(DEFAULT_READ[object_name]) if not properties else list(properties)
        names += [n for n in ALWAYS_READ if n not in names]
        if object_name == "contacts":
            names = [("lastmodifieddate" if n == "hs_lastmodifieddate" else n) for n in names]
        out_props = {}
        for name in names:
            if self.properties.get(object_name, name) is not None:
                out_props[name] = values.get(name)
        out: dict[str, Any] = {
            "id": record["id"],
            "properties": out_props,
            "createdAt": iso_millis(record["created_at"]),
            "updatedAt": iso_millis(record["updated_at"]),
            "archived": record["archived"],
        }
        if record["archived"]:
            out["archivedAt"] = iso_millis(record.get("archived_at") or record["updated_at"])
        if associations:
            found = {}
            for raw in associations:
                target = object_type(raw, strict=False)
                if target is None:
                    continue
                results = []
                for to_name, to_id in self.associated(object_name, record["id"], target.name):
                    for type_id in sorted(self.association_types(object_name, record["id"], to_name, to_id),
                                          key=lambda t: (ASSOCIATION_TYPES[t].label is not None, t)):
                        results.append({"id": to_id, "type": ASSOCIATION_TYPES[type_id].name})
                if results:
                    found[target.v3_association_key] = {"results": results}
            if found:
                out["associations"] = found
        return copy.deepcopy(out)

    def v4_associations(self, object_name: str, object_id: str, to_name: str) -> list[dict]:
        return [
            {
                "toObjectId": int(to_id),
                "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": t, "label": ASSOCIATION_TYPES[t].label}
                    for t in sorted(self.association_types(object_name, object_id, to_name, to_id))
                ],
            }
            for _, to_id in self.associated(object_name, object_id, to_name)
        ]


def probability_text(value: Decimal) -> str:
    """Stage probabilities as HubSpot writes them: "0.2", "1.0", "0.0"."""
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


def _pipeline(pipeline_id: str, label: str, order: int, stages: Iterable[tuple[str, str, str, bool]],
              now: str = "2020-01-01T00:00:00.000Z") -> dict:
    return {
        "id": pipeline_id,
        "label": label,
        "displayOrder": order,
        "createdAt": now,
        "updatedAt": now,
        "archived": False,
        "stages": [
            {
                "id": stage_id,
                "label": stage_label,
                "displayOrder": index,
                # HubSpot writes stage metadata as strings: {"isClosed": "true", "probability": "1.0"}.
                "metadata": {"isClosed": "true" if closed else "false", "probability": probability},
                "createdAt": now,
                "updatedAt": now,
                "archived": False,
                "writePermissions": "CRUD",
            }
            for index, (stage_id, stage_label, probability, closed) in enumerate(stages)
        ],
    }
