"""Property definitions (standard and custom) and the rules HubSpot applies to property values.

Values are strings on the wire and in storage: numbers as their exact digits, booleans "true"/"false",
dates "YYYY-MM-DD", datetimes ISO 8601 in UTC with milliseconds. A write is checked as a whole: every
unknown, read-only or badly typed property is reported in one 400, and nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from local.emulators.common import parse_instant

from .errors import ApiError, property_errors, validation_error
from .schema import OBJECT_TYPES, STANDARD_GROUPS, standard_properties

TYPES = ("string", "number", "date", "datetime", "enumeration", "bool")
# Which fieldType goes with which type (HubSpot validates the pair since 2021).
FIELD_TYPES = {
    "string": ("text", "textarea", "phonenumber", "html", "file"),
    "number": ("number", "calculation_equation"),
    "date": ("date",),
    "datetime": ("date",),
    "enumeration": ("select", "radio", "checkbox", "booleancheckbox", "calculation_equation"),
    "bool": ("booleancheckbox", "calculation_equation"),
}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
MAX_STRING = 65536


class InvalidValue(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def iso_millis(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def number_text(value: Decimal) -> str:
    """A number as HubSpot writes it back: no exponent, no trailing zeros (1200.50 -> 1200.5)."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


@dataclass
class PropertyDef:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    read_only: bool = False
    hubspot_defined: bool = False
    description: str = ""
    options: list[dict] = field(default_factory=list)
    display_order: int = -1
    has_unique_value: bool = False
    hidden: bool = False
    created_at: str | None = None
    updated_at: str | None = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "updatedAt": self.updated_at,
            "createdAt": self.created_at,
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [dict(o) for o in self.options],
            "displayOrder": self.display_order,
            "calculated": self.read_only and self.hubspot_defined,
            "externalOptions": self.name in ("dealstage", "pipeline", "hubspot_owner_id"),
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": not self.read_only,
            "archived": False,
        }
        if self.hubspot_defined:
            out["hubspotDefined"] = True
        return out


@dataclass
class PropertyGroup:
    name: str
    label: str
    display_order: int = -1

    def to_json(self) -> dict:
        return {"name": self.name, "label": self.label, "displayOrder": self.display_order, "archived": False}


class PropertyRegistry:
    """The properties and groups of every object type of the account."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self.defs: dict[str, dict[str, PropertyDef]] = {}
        self.groups: dict[str, dict[str, PropertyGroup]] = {}
        for object_name in OBJECT_TYPES:
            created = "2020-01-01T00:00:00.000Z"
            self.defs[object_name] = {
                name: PropertyDef(name, label, type_, field_type, group, read_only, hubspot_defined=True,
                                  created_at=created, updated_at=created,
                                  options=_bool_options() if type_ == "bool" else [])
                for name, (label, type_, field_type, read_only, group) in standard_properties(object_name).items()
            }
            self.groups[object_name] = {
                name: PropertyGroup(name, label, index) for index, (name, label) in enumerate(STANDARD_GROUPS[object_name])
            }

    def get(self, object_name: str, name: str) -> PropertyDef | None:
        return self.defs[object_name].get(name)

    def custom(self, object_name: str) -> list[PropertyDef]:
        return [d for d in self.defs[object_name].values() if not d.hubspot_defined]

    # groups -----------------------------------------------------------------------------------------
    def create_group(self, object_name: str, body: dict) -> PropertyGroup:
        name, label = body.get("name"), body.get("label")
        if not isinstance(name, str) or not _NAME.match(name):
            raise validation_error("Group name must start with a lowercase letter and contain only a-z, 0-9 and _")
        if not isinstance(label, str) or not label.strip():
            raise validation_error("label is required")
        if name in self.groups[object_name]:
            raise ApiError(409, f"A property group named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        order = body.get("displayOrder", -1)
        group = PropertyGroup(name, label, int(order) if isinstance(order, int) else -1)
        self.groups[object_name][name] = group
        return group

    # definitions ------------------------------------------------------------------------------------
    def create(self, object_name: str, body: dict) -> PropertyDef:
        if not isinstance(body, dict):
            raise validation_error("The request body must be a JSON object")
        name = body.get("name")
        for required in ("name", "label", "type", "fieldType", "groupName"):
            if not isinstance(body.get(required), str) or not body[required].strip():
                raise validation_error(f"{required} is required")
        assert isinstance(name, str)
        if not _NAME.match(name):
            raise validation_error(
                f"Property name '{name}' is invalid: use lowercase letters, digits and underscores, starting with a letter"
            )
        if name.startswith("hs_"):
            raise validation_error(f"Property name '{name}' uses the reserved prefix hs_")
        if name in self.defs[object_name]:
            raise ApiError(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        type_, field_type = body["type"], body["fieldType"]
        if type_ not in TYPES:
            raise validation_error(f"Invalid type '{type_}': use one of {', '.join(TYPES)}")
        if field_type not in FIELD_TYPES[type_]:
            raise validation_error(
                f"fieldType '{field_type}' is not valid for type '{type_}': use one of {', '.join(FIELD_TYPES[type_])}"
            )
        if body["groupName"] not in self.groups[object_name]:
            raise validation_error(f"Property group '{body['groupName']}' does not exist")
        options = body.get("options") or []
        if type_ == "bool":
            options = options or _bool_options()
        if type_ == "enumeration" and not options:
            raise validation_error("Enumeration properties need at least one option")
        # The properties spec requires label, value and hidden on every option sent.
        if not isinstance(options, list) or not all(isinstance(o, dict) and isinstance(o.get("value"), str)
                                                    and isinstance(o.get("label"), str)
                                                    and isinstance(o.get("hidden"), bool) for o in options):
            raise validation_error("options must be a list of {label, value, hidden} objects")
        now = iso_millis(self._now())
        definition = PropertyDef(
            name=name, label=body["label"], type=type_, field_type=field_type, group_name=body["groupName"],
            description=str(body.get("description") or ""),
            options=[{"label": o["label"], "value": o["value"], "displayOrder": o.get("displayOrder", i),
                      "hidden": bool(o.get("hidden", False)), "description": o.get("description", "")}
                     for i, o in enumerate(options)],
            display_order=int(body.get("displayOrder", -1)), has_unique_value=bool(body.get("hasUniqueValue", False)),
            hidden=bool(body.get("hidden", False)), created_at=now, updated_at=now,
        )
        self.defs[object_name][name] = definition
        return definition

    # values -----------------------------------------------------------------------------------------
    def clean(self, object_name: str, values: Any, portal_id: int,
              dynamic: Callable[[str, str], str | None] | None = None, *, internal: bool = False) -> dict[str, str | None]:
        """Check a write's properties; returns name -> stored value (None clears). Raises one 400 for all problems.

        `dynamic(name, value)` checks the properties whose options live elsewhere (pipeline, dealstage,
        owners, currencies) and returns an error message or None. `internal` lets the emulator itself set
        read-only (calculated) properties.
        """
        if values is None:
            return {}
        if not isinstance(values, dict):
            raise validation_error("properties must be an object of property names to values")
        cleaned: dict[str, str | None] = {}
        invalid: list[dict] = []
        for name, raw in values.items():
            definition = self.get(object_name, name)
            if definition is None:
                invalid.append({"name": name, "error": "PROPERTY_DOESNT_EXIST",
                                "message": f'Property "{name}" does not exist'})
                continue
            if definition.read_only and not internal:
                invalid.append({"name": name, "error": "READ_ONLY_VALUE",
                                "message": f"{name} is a read only property; its value cannot be set."})
                continue
            try:
                value = _coerce(definition, raw)
            except InvalidValue as exc:
                invalid.append({"name": name, "error": exc.code, "message": exc.message})
                continue
            if value is not None and dynamic is not None:
                problem = dynamic(name, value)
                if problem:
                    invalid.append({"name": name, "error": "INVALID_OPTION", "message": problem})
                    continue
            cleaned[name] = value
        if invalid:
            raise property_errors(invalid, portal_id)
        return cleaned

    def snapshot(self) -> dict:
        return {
            name: {"custom": [d.to_json() for d in self.custom(name)],
                   "groups": [g.to_json() for g in self.groups[name].values()]}
            for name in OBJECT_TYPES
        }


def _bool_options() -> list[dict]:
    return [{"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False, "description": ""},
            {"label": "No", "value": "false", "displayOrder": 1, "hidden": False, "description": ""}]


def _coerce(definition: PropertyDef, raw: Any) -> str | None:
    """One value, as HubSpot stores it. Raises InvalidValue."""
    name = definition.name
    if raw is None or raw == "":
        return None  # HubSpot clears a property set to an empty string
    if isinstance(raw, (dict, list)):
        raise InvalidValue("INVALID_PROPERTY_VALUE", f"{name}: expected a string, got {type(raw).__name__}")
    # HubSpot takes JSON numbers and booleans too and keeps their text.
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, (int, Decimal)):
        text = format(raw, "f") if isinstance(raw, Decimal) else str(raw)
    elif isinstance(raw, float):
        text = repr(raw)
    else:
        text = str(raw)
    kind = definition.type
    if kind == "string":
        if len(text) > MAX_STRING:
            raise InvalidValue("INVALID_PROPERTY_VALUE", f"{name}: longer than {MAX_STRING} characters")
        return text
    if kind == "number":
        try:
            number = Decimal(text.strip())
        except InvalidOperation as exc:
            raise InvalidValue("INVALID_FLOAT", f"{text} was not a valid number.") from exc
        if not number.is_finite():
            raise InvalidValue("INVALID_FLOAT", f"{text} was not a valid number.")
        return number_text(number)
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise InvalidValue("INVALID_OPTION", f"{text} was not one of the allowed options: [true, false]")
        return lowered
    if kind == "date":
        return _date(name, text)
    if kind == "datetime":
        return _datetime(name, text)
    if kind == "enumeration":
        if definition.options:
            allowed = {o["value"] for o in definition.options}
            chosen = text.split(";") if definition.field_type == "checkbox" else [text]
            bad = [c for c in chosen if c not in allowed]
            if bad:
                raise InvalidValue("INVALID_OPTION", f"{bad[0]} was not one of the allowed options: "
                                                   f"[{', '.join(sorted(allowed))}]")
        return text
    return text


def _date(name: str, text: str) -> str:
    """A date property: YYYY-MM-DD, or epoch milliseconds at midnight UTC."""
    if text.isdigit():
        instant = datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        if instant.time() != datetime.min.time():
            raise InvalidValue("INVALID_DATE", f"{text} is not a valid date: date values must be at midnight UTC")
        return instant.date().isoformat()
    try:
        return date.fromisoformat(text[:10]).isoformat() if len(text) == 10 else _midnight(text)
    except ValueError as exc:
        raise InvalidValue("INVALID_DATE", f"{text} is not a valid date (use YYYY-MM-DD)") from exc


def _midnight(text: str) -> str:
    instant = parse_instant(text)
    if instant.time() != datetime.min.time():
        raise ValueError("not midnight")
    return instant.date().isoformat()


def _datetime(name: str, text: str) -> str:
    """A datetime property: ISO 8601, a date (midnight UTC), or epoch milliseconds."""
    try:
        if text.isdigit():
            return iso_millis(datetime.fromtimestamp(int(text) / 1000, tz=UTC))
        return iso_millis(parse_instant(text))
    except (ValueError, OverflowError) as exc:
        raise InvalidValue("INVALID_DATE", f"{text} is not a valid date-time") from exc
