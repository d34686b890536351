"""The CRM search API: POST /crm/v3/objects/{objectType}/search, as HubSpot answers it.

filterGroups are ORed, the filters of a group ANDed (at most 5 groups, 10 filters a group, 25 in all);
values compare by the property's type (numbers as numbers, datetimes as instants given in epoch
milliseconds or ISO 8601, bools and strings case-insensitively). One sort at most; without one, records
come lowest id first. `limit` is at most 200; `after` is the offset HubSpot's paging.next.after gave,
and a query pages no further than 10,000 results (HubSpot answers 400 past them). The endpoint allows
5 requests a second per account (429 with policyName SECONDLY).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from local.emulators.common import parse_instant

from .errors import ApiError, validation_error
from .properties import PropertyDef, PropertyRegistry

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
MAX_LIMIT = 200
MAX_RESULTS = 10_000
SEARCHES_PER_SECOND = 5
SECONDLY = "SECONDLY"
OPERATORS = ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY")


class SearchLimiter:
    """5 searches in any second, per account (the emulated account has one portal)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._recent: deque[float] = deque()

    def admit(self) -> bool:
        now = self._now().timestamp()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= SEARCHES_PER_SECOND:
            return False
        self._recent.append(now)
        return True

    def reset(self) -> None:
        self._recent.clear()


def _comparable(definition: PropertyDef, raw: Any) -> Any:
    text = str(raw).strip()
    if definition.type == "number":
        return Decimal(text)
    if definition.type in ("datetime", "date"):
        return int(text) / 1000 if text.isdigit() else parse_instant(text).timestamp()
    return text.lower()


def _matches(definition: PropertyDef, stored: str | None, spec: dict) -> bool:
    operator = spec["operator"]
    if operator == "HAS_PROPERTY":
        return stored is not None
    if operator == "NOT_HAS_PROPERTY":
        return stored is None
    if stored is None:
        return operator in ("NEQ", "NOT_IN")
    value = _comparable(definition, stored)
    if operator in ("IN", "NOT_IN"):
        found = value in {_comparable(definition, v) for v in spec["values"]}
        return found if operator == "IN" else not found
    wanted = _comparable(definition, spec["value"])
    if operator == "BETWEEN":
        return wanted <= value <= _comparable(definition, spec["highValue"])
    return {"EQ": value == wanted, "NEQ": value != wanted, "LT": value < wanted, "LTE": value <= wanted,
            "GT": value > wanted, "GTE": value >= wanted}[operator]


def _checked_groups(body: dict, properties: PropertyRegistry, object_name: str) -> list[list[tuple[PropertyDef, dict]]]:
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
        raise validation_error(f"filterGroups: at most {MAX_GROUPS} groups")
    checked, total = [], 0
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(f"each filter group holds a list of at most {MAX_FILTERS_PER_GROUP} filters")
        total += len(filters)
        specs = []
        for spec in filters:
            name, operator = spec.get("propertyName"), spec.get("operator")
            definition = properties.get(object_name, name or "")
            if definition is None:
                raise validation_error(f"There was a problem with the request: property {name} does not exist")
            if operator not in OPERATORS:
                raise validation_error(f"operator {operator!r} is not supported by the emulator: use one of "
                                       f"{', '.join(OPERATORS)}")
            needs = {"IN": "values", "NOT_IN": "values", "BETWEEN": "highValue"}.get(operator)
            if operator not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY") and operator not in ("IN", "NOT_IN") \
                    and spec.get("value") is None:
                raise validation_error(f"filter on {name} with {operator} needs a value")
            if needs and spec.get(needs) is None:
                raise validation_error(f"filter on {name} with {operator} needs {needs}")
            try:  # a value of the wrong type is refused, as HubSpot does
                for raw in [spec.get("value"), spec.get("highValue"), *(spec.get("values") or [])]:
                    if raw is not None:
                        _comparable(definition, raw)
            except (InvalidOperation, ValueError, OverflowError) as exc:
                raise validation_error(f"filter on {name}: {spec.get('value')!r} is not a valid {definition.type}") \
                    from exc
            specs.append((definition, spec))
        checked.append(specs)
    if total > MAX_FILTERS:
        raise validation_error(f"at most {MAX_FILTERS} filters in all")
    return checked


def search(records: list[dict], body: dict, properties: PropertyRegistry, object_name: str,
           render: Callable[[dict, list[str] | None], dict]) -> dict:
    """One page of the records (not archived) the body's filters match."""
    if body.get("query"):
        raise validation_error("the emulator does not search by free-text query")
    groups = _checked_groups(body, properties, object_name)
    try:
        limit = int(body.get("limit", 10))
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError) as exc:
        raise validation_error("limit and after must be integers") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise validation_error(f"limit must be between 1 and {MAX_LIMIT}")
    if offset >= MAX_RESULTS:
        raise ApiError(400, f"Searches can only page through the first {MAX_RESULTS} results", "VALIDATION_ERROR")
    found = [r for r in records if not r["archived"] and (not groups or any(
        all(_matches(d, r["properties"].get(d.name), spec) for d, spec in group) for group in groups))]
    sorts = body.get("sorts") or []
    if len(sorts) > 1:
        raise validation_error("only one sort is supported")
    found.sort(key=lambda r: int(r["id"]))
    if sorts:
        sort = sorts[0] if isinstance(sorts[0], dict) else {"propertyName": str(sorts[0]).lstrip("-"),
                                                            "direction": "DESCENDING" if str(sorts[0]).startswith("-")
                                                            else "ASCENDING"}
        definition = properties.get(object_name, sort.get("propertyName") or "")
        if definition is None:
            raise validation_error(f"cannot sort by {sort.get('propertyName')}: no such property")
        present = [r for r in found if r["properties"].get(definition.name) is not None]
        absent = [r for r in found if r["properties"].get(definition.name) is None]
        present.sort(key=lambda r: _comparable(definition, r["properties"][definition.name]),
                     reverse=sort.get("direction") == "DESCENDING")
        found = present + absent
    page = found[:MAX_RESULTS][offset : offset + limit]
    answer: dict[str, Any] = {"total": len(found), "results": [render(r, body.get("properties") or None) for r in page]}
    if offset + limit < len(found):  # offered at the cap too: following it is the 400
        answer["paging"] = {"next": {"after": str(offset + limit)}}
    return answer
