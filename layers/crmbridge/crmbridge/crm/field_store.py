"""Where the bridge keeps the codes of its own CRM fields: one item per CRM and entity in the links table
(pk "crmfields#<crm>", sk "<entity>"), written by `bridgectl setup`.

Workers read them once per cold start and never create a field: a field created by whichever worker
got there first is how a fresh account ended up with two "Xero invoice status" fields.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from crmbridge.errors import PermanentError

FIELDS_MISSING = "crm_fields_missing"


class StoredFields(BaseModel):
    """The bridge's fields on one CRM entity: key in code -> the CRM's code (Pipedrive field_code,
    HubSpot property name), and for a key whose name the CRM holds several times, the codes not used."""

    model_config = ConfigDict(frozen=True)

    codes: dict[str, str]
    duplicates: dict[str, list[str]] = Field(default_factory=dict)


def fields_missing(crm: str, entity: str, names: list[str]) -> PermanentError:
    listed = ", ".join(repr(n) for n in names) or "(none stored)"
    return PermanentError(FIELDS_MISSING, f"{crm} lacks the bridge's {entity} fields {listed}: run `bridgectl setup`",
                          details={"entity": entity, "fields": names})


def fields_pk(crm: str) -> str:
    return f"crmfields#{crm}"


class FieldStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    def load(self, crm: str, entity: str) -> StoredFields | None:
        item = self._table.get_item(Key={"pk": fields_pk(crm), "sk": entity}, ConsistentRead=True).get("Item")
        return _fields(item) if item is not None else None

    def save(self, crm: str, entity: str, fields: StoredFields) -> None:
        """What setup found or created (replaces what was stored)."""
        self._table.put_item(Item=self._item(crm, entity, fields))

    def save_first(self, crm: str, entity: str, fields: StoredFields) -> StoredFields:
        """Store `fields` unless some are stored already; what is stored afterwards wins either way."""
        try:
            self._table.put_item(Item=self._item(crm, entity, fields), ConditionExpression=Attr("pk").not_exists())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return self.load(crm, entity) or fields
        return fields

    @staticmethod
    def _item(crm: str, entity: str, fields: StoredFields) -> dict[str, Any]:
        item: dict[str, Any] = {"pk": fields_pk(crm), "sk": entity, "codes": dict(fields.codes)}
        if fields.duplicates:
            item["duplicates"] = {k: list(v) for k, v in fields.duplicates.items()}
        return item


def _fields(item: dict[str, Any]) -> StoredFields:
    return StoredFields(codes=dict(item.get("codes") or {}),
                        duplicates={k: list(v) for k, v in (item.get("duplicates") or {}).items()})
