"""Deal, organization, person and product fields: built-in ones and custom fields keyed by 40-char hashes.

Pipedrive gives every custom field a random 40-character hash (`field_code`). The emulator derives it
instead, so tests and configuration are stable across runs:

    field_code(entity, name) = sha1("pipedrive-emulator:{entity}:{name}").hexdigest()

where entity is "deal", "organization", "person" or "product". A second field with the same name on the
same entity (Pipedrive allows it) gets sha1("pipedrive-emulator:{entity}:{name}#2"), then #3, ...

Custom field values are stored typed; the REST API (v2) and webhooks (v2) write them differently:
REST: text types as strings, double as a number, monetary {"value", "currency"}, enum an option id,
set a list of option ids, address an object; webhooks: every value a typed object
({"type": "double", "value": 978}, monetary with currency, enum {"type": "enum", "id": 3}, ...).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .values import bad_request, num, rfc3339, to_date, to_decimal, to_int

ENTITIES = ("deal", "organization", "person", "product")

CUSTOM_TYPES = (
    "varchar", "varchar_auto", "text", "double", "monetary", "date", "set", "enum", "user", "org",
    "people", "phone", "time", "timerange", "daterange", "address",
)
TEXT_TYPES = ("varchar", "varchar_auto", "text", "phone")
ADDRESS_PARTS = (
    "value", "country", "admin_area_level_1", "admin_area_level_2", "locality", "sublocality", "route",
    "street_number", "postal_code",
)
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")


def field_code(entity: str, name: str, occurrence: int = 1) -> str:
    """The deterministic 40-character hash the emulator gives a custom field."""
    if entity not in ENTITIES:
        raise ValueError(f"entity must be one of {ENTITIES}")
    suffix = "" if occurrence <= 1 else f"#{occurrence}"
    return hashlib.sha1(f"pipedrive-emulator:{entity}:{name}{suffix}".encode()).hexdigest()  # noqa: S324


@dataclass
class FieldDef:
    entity: str
    id: int
    field_code: str
    field_name: str
    field_type: str
    is_custom_field: bool
    add_time: datetime | None = None
    description: str | None = None
    options: list[dict] | None = None
    is_optional_response_field: bool = False

    def to_v2(self) -> dict:
        subfields = None
        if self.field_type == "monetary":
            subfields = [
                {"field_code": f"{self.field_code}_currency", "field_name": "Currency", "field_type": "varchar"}
            ]
        elif self.field_type == "address":
            subfields = [
                {"field_code": f"{self.field_code}_{part}", "field_name": part.replace("_", " ").capitalize(),
                 "field_type": "varchar"}
                for part in ADDRESS_PARTS[1:]
            ]
        return {
            "field_name": self.field_name,
            "field_code": self.field_code,
            "description": self.description,
            "field_type": self.field_type,
            "is_custom_field": self.is_custom_field,
            "is_optional_response_field": self.is_optional_response_field,
            "options": [dict(o) for o in self.options] if self.options is not None else None,
            "subfields": subfields,
            "add_time": rfc3339(self.add_time),
        }


# Built-in fields (field_code = the attribute name), as listed by GET /api/v2/{entity}Fields.
_BUILTIN: dict[str, list[tuple[str, str, str]]] = {
    "deal": [
        ("id", "ID", "int"), ("title", "Title", "varchar"), ("creator_user_id", "Creator", "user"),
        ("owner_id", "Owner", "user"), ("value", "Value", "monetary"), ("currency", "Currency", "varchar_options"),
        ("org_id", "Organization", "org"), ("person_id", "Contact person", "people"),
        ("pipeline_id", "Pipeline", "int"), ("stage_id", "Stage", "stage"), ("status", "Status", "status"),
        ("probability", "Probability", "double"), ("lost_reason", "Lost reason", "varchar_options"),
        ("visible_to", "Visible to", "visible_to"), ("add_time", "Deal created", "date"),
        ("update_time", "Update time", "date"), ("stage_change_time", "Last stage change", "date"),
        ("won_time", "Won time", "date"), ("lost_time", "Lost time", "date"), ("close_time", "Deal closed on", "date"),
        ("first_won_time", "First won time", "date"), ("expected_close_date", "Expected close date", "date"),
        ("label_ids", "Label", "set"), ("is_archived", "Archived", "boolean"), ("archive_time", "Archive time", "date"),
        ("products_count", "Number of products", "int"),
    ],
    "organization": [
        ("id", "ID", "int"), ("name", "Name", "varchar"), ("owner_id", "Owner", "user"),
        ("address", "Address", "address"), ("visible_to", "Visible to", "visible_to"),
        ("add_time", "Organization created", "date"), ("update_time", "Update time", "date"),
        ("label_ids", "Label", "set"),
    ],
    "person": [
        ("id", "ID", "int"), ("name", "Name", "varchar"), ("first_name", "First name", "varchar"),
        ("last_name", "Last name", "varchar"), ("owner_id", "Owner", "user"), ("org_id", "Organization", "org"),
        ("emails", "Email", "varchar"), ("phones", "Phone", "phone"), ("visible_to", "Visible to", "visible_to"),
        ("add_time", "Person created", "date"), ("update_time", "Update time", "date"),
        ("label_ids", "Label", "set"),
    ],
    "product": [
        ("id", "ID", "int"), ("name", "Name", "varchar"), ("code", "Product code", "varchar"),
        ("description", "Description", "text"), ("unit", "Unit", "varchar"), ("tax", "Tax", "double"),
        ("category", "Category", "enum"), ("owner_id", "Owner", "user"), ("prices", "Price", "price_list"),
        ("billing_frequency", "Billing frequency", "billing_frequency"),
        ("add_time", "Product created", "date"), ("update_time", "Update time", "date"),
    ],
}
_OPTIONAL_RESPONSE = {("deal", "first_won_time"), ("deal", "products_count")}


class FieldRegistry:
    """Every entity's fields; custom ones can be added (POST /api/v2/{entity}Fields)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._option_ids = itertools.count(1)
        self.fields: dict[str, list[FieldDef]] = {}
        for entity in ENTITIES:
            self.fields[entity] = [
                FieldDef(entity, next(self._ids), code, name, ftype, False,
                         is_optional_response_field=(entity, code) in _OPTIONAL_RESPONSE)
                for code, name, ftype in _BUILTIN[entity]
            ]

    def list(self, entity: str) -> list[FieldDef]:
        return list(self.fields[entity])

    def custom(self, entity: str) -> list[FieldDef]:
        return [f for f in self.fields[entity] if f.is_custom_field]

    def custom_by_code(self, entity: str) -> dict[str, FieldDef]:
        return {f.field_code: f for f in self.custom(entity)}

    def get(self, entity: str, code: str) -> FieldDef | None:
        return next((f for f in self.fields[entity] if f.field_code == code), None)

    def add(self, entity: str, body: dict, now: datetime) -> FieldDef:
        name = body.get("field_name", body.get("name"))
        if not isinstance(name, str) or not name.strip():
            raise bad_request("field_name is required")
        ftype = body.get("field_type")
        if ftype not in CUSTOM_TYPES:
            raise bad_request(f"field_type must be one of {', '.join(CUSTOM_TYPES)}")
        options = None
        if ftype in ("enum", "set"):
            raw = body.get("options")
            if not isinstance(raw, list) or not raw:
                raise bad_request("options are required for enum and set fields")
            options = []
            for item in raw:
                label = item.get("label") if isinstance(item, dict) else item
                if not isinstance(label, str) or not label:
                    raise bad_request("every option needs a label")
                options.append({"id": next(self._option_ids), "label": label, "color": None,
                                "add_time": rfc3339(now), "update_time": rfc3339(now)})
        existing = {f.field_code for f in self.fields[entity]}
        occurrence = 1
        while field_code(entity, name, occurrence) in existing:
            occurrence += 1
        definition = FieldDef(
            entity, next(self._ids), field_code(entity, name, occurrence), name, ftype, True,
            add_time=now, description=body.get("description"), options=options,
        )
        self.fields[entity].append(definition)
        return definition

    def snapshot(self) -> dict:
        return {entity: [f.to_v2() for f in self.custom(entity)] for entity in ENTITIES}


# Values ---------------------------------------------------------------------------------------------

Exists = Callable[[str, int], bool]  # (kind "user"|"org"|"people", id) -> exists


def parse_custom_value(definition: FieldDef, value: Any, default_currency: str, exists: Exists) -> Any:
    """Validate one custom field value from a v2 request body; None clears the field."""
    if value is None:
        return None
    name = f"custom_fields.{definition.field_code}"
    ftype = definition.field_type
    if ftype in TEXT_TYPES:
        if not isinstance(value, str):
            raise bad_request(f"{name} must be a string")
        if ftype != "text" and len(value) > 255:
            raise bad_request(f"{name} must be at most 255 characters")
        return value
    if ftype == "double":
        return to_decimal(value, name)
    if ftype == "monetary":
        if isinstance(value, dict):
            unknown = set(value) - {"value", "currency"}
            if unknown or "value" not in value:
                raise bad_request(f"{name} must be an object with value and currency")
            amount = to_decimal(value["value"], f"{name}.value")
            currency = value.get("currency") or default_currency
            if not isinstance(currency, str) or len(currency) != 3:
                raise bad_request(f"{name}.currency must be a 3-letter currency code")
            return {"value": amount, "currency": currency.upper()}
        return {"value": to_decimal(value, name), "currency": default_currency}
    if ftype == "date":
        return to_date(value, name, nullable=False)
    if ftype == "time":
        if not isinstance(value, str) or not _TIME.match(value):
            raise bad_request(f"{name} must be a time HH:MM:SS")
        return value
    if ftype == "enum":
        option = to_int(value, name)
        if option not in {o["id"] for o in definition.options or []}:
            raise bad_request(f"{name}: option {option} does not exist")
        return option
    if ftype == "set":
        if not isinstance(value, list) or not value:
            raise bad_request(f"{name} must be a non-empty array of option ids (use null to clear)")
        ids = [to_int(v, name) for v in value]
        allowed = {o["id"] for o in definition.options or []}
        missing = [i for i in ids if i not in allowed]
        if missing:
            raise bad_request(f"{name}: options {missing} do not exist")
        return ids
    if ftype in ("user", "org", "people"):
        ref = to_int(value, name)
        if not exists(ftype, ref):
            raise bad_request(f"{name}: {ftype} {ref} does not exist")
        return ref
    if ftype == "address":
        return parse_address(value, name)
    if ftype in ("daterange", "timerange"):
        if not isinstance(value, dict) or not {"start", "end"} <= set(value):
            raise bad_request(f"{name} must be an object with start and end")
        return {"start": value["start"], "end": value["end"]}
    raise bad_request(f"{name}: unsupported field type {ftype}")


def parse_address(value: Any, name: str) -> dict | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {part: (value if part == "value" else None) for part in ADDRESS_PARTS}
    if not isinstance(value, dict):
        raise bad_request(f"{name} must be an address object")
    unknown = set(value) - set(ADDRESS_PARTS)
    if unknown:
        raise bad_request(f"{name}: unknown address parts {sorted(unknown)}")
    for part, item in value.items():
        if item is not None and not isinstance(item, str):
            raise bad_request(f"{name}.{part} must be a string")
    return {part: value.get(part) for part in ADDRESS_PARTS}


def rest_value(definition: FieldDef, value: Any) -> Any:
    """A stored custom value as the v2 REST API writes it."""
    if value is None:
        return None
    ftype = definition.field_type
    if ftype == "double":
        return num(value)
    if ftype == "monetary":
        return {"value": num(value["value"]), "currency": value["currency"]}
    if ftype == "set":
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def webhook_value(definition: FieldDef, value: Any) -> Any:
    """A stored custom value as webhooks v2 write it: a typed object."""
    if value is None:
        return None
    ftype = definition.field_type
    if ftype == "double":
        return {"type": ftype, "value": num(value)}
    if ftype == "monetary":
        return {"type": ftype, "value": num(value["value"]), "currency": value["currency"]}
    if ftype == "enum":
        return {"type": ftype, "id": value}
    if ftype == "set":
        return {"type": ftype, "values": [{"id": v} for v in value]}
    if ftype in ("user", "org", "people"):
        return {"type": ftype, "id": value}
    if ftype == "address":
        return {"type": ftype, **value}
    if ftype in ("daterange", "timerange"):
        return {"type": ftype, **value}
    return {"type": ftype, "value": value}
