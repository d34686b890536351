"""What Xero takes in an invoice's text and numbers, checked before anything is sent. Pure.

Lengths (xero_accounting.yaml maxLength, and the limits the bridge has always kept to):
- Contact Name 255, EmailAddress 255, Address lines 500, City 255, PostalCode 50, Country 50 (spec);
- LineItem Description 4000 and Invoice Reference 255: not in the spec; kept as Xero's documented
  limits were quoted to the project (unconfirmed from the spec, see the closing note).
Xero runs on .NET, whose strings count UTF-16 code units: a character outside the Basic Multilingual
Plane (an emoji, many CJK extension characters) counts as two, so lengths are counted that way.

Numbers (the spec types Quantity, UnitAmount, DiscountRate, DiscountAmount as `number`/`double`):
- UnitAmount keeps 4 decimals (the bridge sends unitdp=4), Quantity 4 (Xero's rounding guide);
- a double holds 15 significant digits exactly, so a figure with more would not arrive as written.

Control characters are never sent: every C0/C1 control and lone surrogate is removed, except line
feeds and tabs in descriptions (Xero shows a description's line breaks).
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal

from crmbridge.errors import PermanentError

CONTACT_NAME = 255
EMAIL_ADDRESS = 255
ADDRESS_LINE = 500
CITY = 255
POSTAL_CODE = 50
COUNTRY = 50
DESCRIPTION = 4000
REFERENCE = 255

UNIT_AMOUNT_DECIMALS = 4
QUANTITY_DECIMALS = 4
SIGNIFICANT_DIGITS = 15

ELLIPSIS = "…"
_KEPT_IN_MULTILINE = frozenset("\n\t")


def xero_length(text: str) -> int:
    """The length of a text as Xero counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def clean(text: str, *, multiline: bool = False) -> str:
    """The text without control characters or lone surrogates (line feeds and tabs kept if multiline);
    a carriage return before a line feed goes with it, so Windows line ends become plain ones."""
    text = text.replace("\r\n", "\n") if multiline else text
    kept = _KEPT_IN_MULTILINE if multiline else frozenset()
    return "".join(c for c in text if c in kept or unicodedata.category(c) not in ("Cc", "Cs"))


def shorten(text: str, limit: int) -> str:
    """The text within `limit` (as Xero counts), ending in an ellipsis when anything had to go."""
    if xero_length(text) <= limit:
        return text
    budget = limit - xero_length(ELLIPSIS)
    kept, used = [], 0
    for char in text:
        size = xero_length(char)
        if used + size > budget:
            break
        kept.append(char)
        used += size
    return "".join(kept).rstrip() + ELLIPSIS


def fitted(text: str, limit: int, *, what: str, notes: list[str], multiline: bool = False) -> str:
    """The cleaned text within the limit; a note says so when it was shortened."""
    cleaned = clean(text, multiline=multiline)
    short = shorten(cleaned, limit)
    if short != cleaned:
        notes.append(f"{what} shortened from {xero_length(cleaned)} to {xero_length(short)} characters "
                     f"(Xero takes at most {limit})")
    return short


def required_text(text: str | None, limit: int, *, reason: str, what: str) -> str:
    """A text Xero needs whole (a contact's name is how it is found again): cleaned, neither empty nor
    over the limit, else a PermanentError naming the field and its value."""
    cleaned = clean(text or "").strip()
    if not cleaned:
        raise PermanentError(reason, f"{what} is empty{f' ({text!r})' if text else ''}; Xero needs one: "
                                     "fill it in in the CRM, then resync")
    if xero_length(cleaned) > limit:
        raise PermanentError(reason, f"{what} is {xero_length(cleaned)} characters long, Xero takes at most "
                                     f"{limit}: {_excerpt(cleaned)}; shorten it in the CRM, then resync")
    return cleaned


def exact_number(value: Decimal, *, decimals: int, reason: str, what: str) -> Decimal:
    """The number as Xero will hold it, or a PermanentError: finite, at most `decimals` places and 15
    significant digits (a double's exact range). Trailing zeros do not count: "1.500000" is sent as 1.5000."""
    if not value.is_finite():
        raise PermanentError(reason, f"{what} is {value}, not a number")
    normal = value.normalize() if value else Decimal(0)
    exponent = int(normal.as_tuple().exponent)
    if -exponent > decimals:
        raise PermanentError(reason, f"{what} is {value}: Xero keeps {decimals} decimal places; "
                                     f"round it in the CRM, then resync")
    digits = len(normal.as_tuple().digits) + max(exponent, 0)
    if digits > SIGNIFICANT_DIGITS:
        raise PermanentError(reason, f"{what} is {value}: more than {SIGNIFICANT_DIGITS} significant digits, "
                                     "which Xero cannot hold exactly")
    if -int(value.as_tuple().exponent) > decimals:
        return value.quantize(Decimal(1).scaleb(-decimals))  # exact: only trailing zeros go
    return value


def _excerpt(text: str) -> str:
    return repr(text[:60] + ELLIPSIS) if len(text) > 60 else repr(text)
