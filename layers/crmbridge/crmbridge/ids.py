"""Identifiers as they enter the bridge (webhooks, the CLI, queue messages), checked before any URL is built.

- Xero ids (InvoiceID, ContactID, tenant ids) are GUIDs (`format: uuid` in Xero's OpenAPI spec):
  32 hex digits in the 8-4-4-4-12 form; anything else ("../Contacts") is refused, never put in a path.
- Pipedrive deal ids are positive integers (v2 `id: integer`), written without a sign or leading zero,
  so one deal has one spelling (and one idempotency key).
- HubSpot object ids are strings of digits (hs_object_id), also without a leading zero.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CRM_DEAL_ID = re.compile(r"^[1-9][0-9]{0,19}$")


def is_xero_guid(value: str) -> bool:
    return bool(_GUID.match(value))


def is_crm_deal_id(value: str) -> bool:
    """A Pipedrive or HubSpot deal id: digits, no leading zero, at most 20 of them."""
    return bool(_CRM_DEAL_ID.match(value))


def _xero_guid(value: str) -> str:
    if not is_xero_guid(value):
        raise ValueError(f"not a Xero id (a GUID such as 8f2c1e9a-0b6d-4c1e-9a4b-3f5e6d7c8b9a): {value[:80]!r}")
    return value


XeroGuid = Annotated[str, AfterValidator(_xero_guid)]
