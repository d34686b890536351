"""The mapping document: how CRM deals become Xero invoices, as data an operator edits.

Validated by this model at load time (and before deploy with `python -m crmbridge.mapping.validate FILE`),
so a typo fails loudly instead of producing a wrong-VAT invoice.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crmbridge.errors import ConfigError

TaxMethod = Literal["exclusive", "inclusive", "none"]

_COUNTRY_ALIASES = {
    "UK": "GB", "UNITED KINGDOM": "GB", "GREAT BRITAIN": "GB", "ENGLAND": "GB", "SCOTLAND": "GB",
    "WALES": "GB", "NORTHERN IRELAND": "GB", "IRELAND": "IE", "FRANCE": "FR", "GERMANY": "DE",
    "SPAIN": "ES", "ITALY": "IT", "NETHERLANDS": "NL", "BELGIUM": "BE", "UNITED STATES": "US",
    "USA": "US", "UNITED STATES OF AMERICA": "US", "AUSTRALIA": "AU", "NEW ZEALAND": "NZ", "CANADA": "CA",
}


def rate_key(rate: Decimal | str) -> str:
    """One spelling per tax rate: "20", "20.0" and "20.00" are all "20"."""
    return format(Decimal(rate).normalize(), "f")


def country_code(country: str | None) -> str | None:
    """ISO 3166 alpha-2 for the forms CRMs hold ("United Kingdom", "UK", "gb")."""
    if not country:
        return None
    text = country.strip().upper()
    return _COUNTRY_ALIASES.get(text, text if len(text) == 2 else None)


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProductRule(_Doc):
    """Matches a CRM line by product code, else product id, else exact name."""

    product_code: str | None = None
    product_id: str | None = None
    name: str | None = None
    item_code: str | None = None
    account_code: str | None = None
    tax_type: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _has_a_key(self) -> ProductRule:
        if not (self.product_code or self.product_id or self.name):
            raise ValueError("a product rule needs product_code, product_id or name to match on")
        return self


class CountryTaxRule(_Doc):
    """Customers in these countries get this tax type whatever the product (e.g. exports: ZERORATEDOUTPUT)."""

    countries: list[str] = Field(min_length=1)
    tax_type: str

    @field_validator("countries")
    @classmethod
    def _iso(cls, countries: list[str]) -> list[str]:
        codes = []
        for country in countries:
            code = country_code(country)
            if not code:
                raise ValueError(f"unknown country {country!r}: use ISO codes such as GB, FR, US")
            codes.append(code)
        return codes


class TrackingOption(_Doc):
    name: str
    option: str


class DealWithoutProducts(_Doc):
    description: str = "{deal_title}"
    account_code: str | None = None
    tax_type: str | None = None


class TenantRoute(_Doc):
    """Deals in this currency are invoiced to this Xero organisation (groups with several companies).

    Only the deal's currency can route today: the CRM deal as read carries no pipeline or custom field.
    """

    currency: str = Field(min_length=3, max_length=3)
    tenant_id: str = Field(min_length=1, max_length=64)

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, code: str) -> str:
        if not code.isalpha() or not code.isupper():
            raise ValueError(f"{code!r} is not an ISO 4217 currency code such as GBP")
        return code


class MappingConfig(_Doc):
    version: Literal[1] = 1
    default_account_code: str | None = Field(
        None, description="Sales account for lines no product rule maps; unset = unmapped products are errors"
    )
    tax_types_by_rate: dict[str, str] = Field(
        default_factory=lambda: {"20": "OUTPUT2", "5": "RROUTPUT", "0": "ZERORATEDOUTPUT"},
        description="A CRM line's tax percentage -> Xero TaxType, when no rule names one",
    )
    default_tax_type: str = "OUTPUT2"
    no_tax_type: str = "NONE"
    default_tax_method: TaxMethod = "exclusive"
    products: list[ProductRule] = Field(default_factory=list)
    country_tax: list[CountryTaxRule] = Field(default_factory=list)
    payment_terms_days: int = Field(30, ge=0, le=365)
    currencies: list[str] = Field(default_factory=lambda: ["GBP", "EUR", "USD"], min_length=1)
    tracking: list[TrackingOption] = Field(default_factory=list, max_length=2)
    branding_theme_id: str | None = None
    on_stop_overdue_above: Decimal = Field(
        Decimal(0), ge=0, description="An organisation is 'on stop' when its overdue balance exceeds this"
    )
    xero_master_fields: list[Literal["email", "phone", "address"]] = Field(
        default_factory=lambda: ["email", "phone", "address"],
        description="Organisation fields Xero is the master of: copied from Xero contact changes",
    )
    note_when_paid: bool = True
    deal_without_products: DealWithoutProducts = Field(default_factory=DealWithoutProducts)
    tenant_routes: list[TenantRoute] = Field(
        default_factory=list,
        description="The first route matching a deal names its Xero organisation; none: the chosen one",
    )

    @field_validator("tax_types_by_rate")
    @classmethod
    def _rates_are_numbers(cls, rates: dict[str, str]) -> dict[str, str]:
        return {rate_key(rate): tax_type for rate, tax_type in rates.items()}

    @field_validator("currencies")
    @classmethod
    def _currency_codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if len(code) != 3 or not code.isalpha() or not code.isupper():
                raise ValueError(f"{code!r} is not an ISO 4217 currency code such as GBP")
        return codes


def parse_mapping(text: str, *, source: str = "mapping") -> MappingConfig:
    try:
        return MappingConfig.model_validate_json(text)
    except ValidationError as exc:
        raise ConfigError(f"{source} is not a valid mapping document:\n{explain(exc)}") from exc


def explain(exc: ValidationError) -> str:
    """One line per problem: where it is and what is wrong."""
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "(document)"
        lines.append(f"  - {where}: {error['msg']}")
    return "\n".join(lines)


@cache
def load_mapping(path: str | None = None) -> MappingConfig:
    """The deployment's mapping: MAPPING_FILE when set, else the one shipped with the package."""
    if path:
        return parse_mapping(Path(path).read_text(), source=path)
    text = resources.files("crmbridge.mapping").joinpath("default_mapping.json").read_text()
    return parse_mapping(text, source="default_mapping.json")


def dump_schema() -> str:
    return json.dumps(MappingConfig.model_json_schema(), indent=2)
