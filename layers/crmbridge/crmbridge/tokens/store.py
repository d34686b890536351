"""One DynamoDB item per Xero connection (tenant): its token set, version and refresh lease.

Every write is conditional: a token set is only replaced by the holder of the lease, and the version
grows by one with each refresh, so two writers can never interleave.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

ConnectionStatus = Literal["CONNECTED", "DISCONNECTED"]


class StoredConnection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    tenant_id: str
    tenant_name: str | None = None
    access_token: str = Field(repr=False)
    refresh_token: str = Field(repr=False)
    access_expires_at: int  # epoch seconds
    refreshed_at: int  # epoch seconds of the last successful token grant
    status: ConnectionStatus = "CONNECTED"
    status_reason: str | None = None
    version: int = 0
    lease_owner: str | None = None
    lease_until: int = 0


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class TokenStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, tenant_id: str) -> StoredConnection | None:
        item = self._table.get_item(Key={"tenant_id": tenant_id}, ConsistentRead=True).get("Item")
        return StoredConnection.model_validate(_plain(item)) if item else None

    def all(self) -> list[StoredConnection]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = self._table.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [StoredConnection.model_validate(_plain(i)) for i in items]

    def connect(self, connection: StoredConnection) -> None:
        """Store a freshly authorised token set (a new consent replaces whatever was there)."""
        current = self.get(connection.tenant_id)
        version = (current.version + 1) if current else 1
        self._table.put_item(Item=connection.model_copy(update={"version": version, "lease_owner": None,
                                                                "lease_until": 0}).model_dump())

    def acquire_lease(self, tenant_id: str, owner: str, *, now: int, until: int) -> bool:
        try:
            self._table.update_item(
                Key={"tenant_id": tenant_id},
                UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                ConditionExpression="attribute_exists(tenant_id) AND (attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :owner)",
                ExpressionAttributeValues={":owner": owner, ":until": until, ":now": now},
            )
            return True
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise

    def release_lease(self, tenant_id: str, owner: str) -> None:
        try:
            self._table.update_item(
                Key={"tenant_id": tenant_id},
                UpdateExpression="SET lease_until = :zero REMOVE lease_owner",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": owner, ":zero": 0},
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise

    def save_refreshed(self, tenant_id: str, owner: str, *, access_token: str, refresh_token: str,
                       access_expires_at: int, refreshed_at: int) -> bool:
        """Replace the token set if this owner still holds the lease; releases it."""
        try:
            self._table.update_item(
                Key={"tenant_id": tenant_id},
                UpdateExpression=(
                    "SET access_token = :a, refresh_token = :r, access_expires_at = :e, refreshed_at = :t, "
                    "#s = :connected, version = version + :one, lease_until = :zero REMOVE lease_owner, status_reason"
                ),
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":a": access_token, ":r": refresh_token, ":e": access_expires_at,
                                           ":t": refreshed_at, ":connected": "CONNECTED", ":one": 1,
                                           ":zero": 0, ":owner": owner},
            )
            return True
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise

    def mark_disconnected(self, tenant_id: str, reason: str) -> None:
        self._table.update_item(
            Key={"tenant_id": tenant_id},
            UpdateExpression="SET #s = :d, status_reason = :reason, lease_until = :zero REMOVE lease_owner",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":d": "DISCONNECTED", ":reason": reason, ":zero": 0},
        )


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB numbers come back as Decimal; the token item only holds integers."""
    return {k: (int(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, bool) else v) for k, v in item.items()}


def epoch(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())
