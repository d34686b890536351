"""`bridgectl mapping validate`: check a mapping document before deploying it, error by error.

The same model the worker loads (crmbridge.mapping.config.MappingConfig) decides; this module only
says where each problem is, what is wrong and how to fix it, and points out rules that can never match.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from crmbridge.mapping.config import MappingConfig


@dataclass
class Problem:
    where: str
    message: str
    hint: str | None = None


@dataclass
class MappingCheck:
    path: str
    valid: bool
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def validate_file(path: str | Path) -> MappingCheck:
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        return MappingCheck(path=str(path), valid=False, problems=[
            Problem("(file)", f"cannot read it: {exc.__class__.__name__}: {exc}", "check the path and permissions")])
    return validate_text(text, source=str(path))


def validate_text(text: str, *, source: str = "mapping") -> MappingCheck:
    text, problems = _rate_keys(text)
    try:
        config = MappingConfig.model_validate_json(text)
    except ValidationError as exc:
        return MappingCheck(path=source, valid=False, problems=problems + explain_errors(exc))
    except ArithmeticError as exc:  # pragma: no cover - _rate_keys took the rates Decimal() refuses out
        return MappingCheck(path=source, valid=False, problems=[
            *problems, Problem("tax_types_by_rate", f"a rate is not a number ({exc.__class__.__name__})")])
    if problems:
        return MappingCheck(path=source, valid=False, problems=problems)
    return MappingCheck(path=source, valid=True, warnings=warnings(config), summary=summary(config))


def _rate_keys(text: str) -> tuple[str, list[Problem]]:
    """Tax rate keys that are not numbers (the model's validator would stop at the first with an
    exception): each is a problem, and the rest of the document is still checked without them."""
    try:
        document = json.loads(text)
    except ValueError:
        return text, []  # the model reports the JSON error with its position
    rates = document.get("tax_types_by_rate") if isinstance(document, dict) else None
    if not isinstance(rates, dict):
        return text, []
    problems = []
    for key in list(rates):
        try:
            Decimal(key)
        except ArithmeticError:
            problems.append(Problem(f"tax_types_by_rate.{key}", f"{key!r} is not a tax rate",
                                    'keys are tax percentages such as "20" or "5.5"'))
            del rates[key]
    return (json.dumps(document), problems) if problems else (text, [])


def summary(config: MappingConfig) -> dict[str, Any]:
    return {
        "product_rules": len(config.products),
        "country_rules": len(config.country_tax),
        "tax_rates": dict(config.tax_types_by_rate),
        "currencies": list(config.currencies),
        "default_account_code": config.default_account_code,
        "payment_terms_days": config.payment_terms_days,
    }


def warnings(config: MappingConfig) -> list[Problem]:
    """Valid, but probably not meant: rules shadowed by an earlier one, unmapped products failing."""
    out = []
    for key in ("product_code", "product_id", "name"):
        first: dict[str, int] = {}
        for index, rule in enumerate(config.products):
            value = getattr(rule, key)
            if value is None:
                continue
            if value in first:
                out.append(Problem(f"products.{index}.{key}", f"{value!r} is already matched by products.{first[value]}",
                                   "only the first matching rule applies: remove or merge this one"))
            else:
                first[value] = index
    if not config.default_account_code:
        out.append(Problem("default_account_code", "unset: a deal line no product rule maps fails the deal",
                           'set it (e.g. "200", the sales account) unless every product has a rule'))
    seen_countries: dict[str, int] = {}
    for index, rule in enumerate(config.country_tax):
        for country in rule.countries:
            if country in seen_countries:
                out.append(Problem(f"country_tax.{index}.countries", f"{country} already has a rule "
                                   f"(country_tax.{seen_countries[country]})", "only the first rule applies"))
            else:
                seen_countries[country] = index
    return out


def explain_errors(exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error.get("loc", ()))
        where = ".".join(str(p) for p in loc) or "(document)"
        problems.append(Problem(where, error.get("msg", "invalid"), _hint(error, loc)))
    return problems


def _hint(error: dict[str, Any], loc: tuple[Any, ...]) -> str | None:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "json_invalid":
        return "the file is not valid JSON: look for a missing comma or quote, or a trailing comma, near there"
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        known = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"{loc[-1]!r} is not a mapping setting (a typo?){known}"
    if kind == "missing":
        return "this setting is required here: add it"
    if kind == "literal_error":
        return f"use one of {ctx.get('expected', 'the allowed values')}"
    if kind.startswith(("int_", "float_", "decimal_")):
        return "a number is expected"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        return "the number is out of range"
    if kind.startswith("string_"):
        return "a text value in double quotes is expected"
    if kind in {"list_type", "too_short", "too_long"}:
        return "a JSON list ([...]) of the right length is expected"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return "a JSON object ({...}) is expected"
    if kind == "value_error":
        return None  # the bridge's own validators already say what to do
    return None


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The field names the model accepts at a location (for 'did you mean')."""
    current: Any = MappingConfig
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return []
            current = info.annotation
        elif typing.get_origin(current) in (list, dict):
            args = typing.get_args(current)
            current = args[-1] if args else None
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """X from X | None, then list[X] / dict[K, X] left for the caller."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation
