"""The tokens table: Xero authorisations, the tenants they cover, the chosen organisation, used states.

One consent (authorisation) yields one token set, however many organisations (tenants) it covers, so
the set lives in one item, `auth#<authEventId>`, and each tenant's item points at it: refreshing it once
rotates it for all of them, under one lease. An item written by an older version holds a tenant's
token set itself (no pointer); it keeps working as its own authorisation, keyed by the tenant id.
Other items: `selected` (the organisation deals are invoiced to) and `state#<nonce>` (OAuth states
already used, so a connect link works once).

Every token write is conditional: a token set is only replaced by the holder of the lease, and the
version grows by one with each refresh, so two writers can never interleave.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

ConnectionStatus = Literal["CONNECTED", "DISCONNECTED"]

AUTH_PREFIX = "auth#"
STATE_PREFIX = "state#"
SELECTED_KEY = "selected"
_TENANT_KIND = "tenant"
_AUTH_KIND = "authorisation"
# Attributes that are never read where a token is not needed (status, tenant listings).
_STATE_ATTRIBUTES = ("tenant_id", "kind", "tenant_name", "authorisation", "auth_event_id", "status",
                     "status_reason", "access_expires_at", "refreshed_at", "version", "selected_tenant_id",
                     "selected_by", "selected_at")


class _TokenSet(BaseModel):
    """A token set with its state, version and refresh lease."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    access_token: str = Field(repr=False)
    refresh_token: str = Field(repr=False)
    access_expires_at: int  # epoch seconds
    refreshed_at: int  # epoch seconds of the last successful token grant
    status: ConnectionStatus = "CONNECTED"
    status_reason: str | None = None
    version: int = 0
    lease_owner: str | None = None
    lease_until: int = 0


class StoredAuthorisation(_TokenSet):
    """One token set and its lease. `key` is the item's key: auth#<authEventId>, or a tenant id for
    an item of the old one-set-per-tenant layout."""

    key: str
    auth_event_id: str | None = None
    tenant_ids: tuple[str, ...] = ()


class StoredConnection(_TokenSet):
    """A tenant as its callers see it: its organisation and the token set of its authorisation."""

    tenant_id: str
    tenant_name: str | None = None
    authorisation: str | None = None  # the key of the item holding the token set; None: the tenant's own
    auth_event_id: str | None = None


class ConnectionState(BaseModel):
    """A tenant without its tokens (never read): what status and `bridgectl tenants` show."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    tenant_name: str | None
    status: ConnectionStatus
    status_reason: str | None
    access_expires_at: int | None
    refreshed_at: int | None
    version: int
    authorisation: str
    auth_event_id: str | None


class Selection(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str
    selected_by: str  # "first connection" or "operator"
    selected_at: int


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def is_tenant_item(item: dict[str, Any]) -> bool:
    key = str(item.get("tenant_id", ""))
    return key != SELECTED_KEY and not key.startswith((AUTH_PREFIX, STATE_PREFIX))


def _auth_from(item: dict[str, Any], tenant_ids: tuple[str, ...]) -> StoredAuthorisation:
    return StoredAuthorisation.model_validate({**item, "key": item["tenant_id"], "tenant_ids": tenant_ids})


class TokenStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    # reads ----------------------------------------------------------------------------------------
    def _item(self, key: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"tenant_id": key}, ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def _scan(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs["ConsistentRead"] = True
        while True:
            page = self._table.scan(**kwargs)
            items.extend(_plain(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get(self, tenant_id: str) -> StoredConnection | None:
        item = self._item(tenant_id)
        if item is None or not is_tenant_item(item):
            return None
        if item.get("kind") != _TENANT_KIND:
            return StoredConnection.model_validate(item)  # the old layout: the tenant holds its own set
        auth = self._item(str(item["authorisation"]))
        if auth is None:
            return None
        return _joined(item, auth)

    def get_authorisation(self, key: str) -> StoredAuthorisation | None:
        item = self._item(key)
        if item is None or "refresh_token" not in item:
            return None
        tenants = tuple(item.get("tenant_ids") or ()) if key.startswith(AUTH_PREFIX) else (key,)
        return _auth_from(item, tenants)

    def authorisation_key(self, tenant_id: str) -> str | None:
        """The item holding this tenant's token set (None: the tenant is unknown)."""
        item = self._item(tenant_id)
        if item is None or not is_tenant_item(item):
            return None
        return str(item["authorisation"]) if item.get("kind") == _TENANT_KIND else tenant_id

    def all(self) -> list[StoredConnection]:
        """Every tenant, each with its authorisation's token set."""
        items = self._scan()
        auths = {i["tenant_id"]: i for i in items if str(i["tenant_id"]).startswith(AUTH_PREFIX)}
        out = []
        for item in filter(is_tenant_item, items):
            if item.get("kind") != _TENANT_KIND:
                out.append(StoredConnection.model_validate(item))
            elif item.get("authorisation") in auths:
                out.append(_joined(item, auths[item["authorisation"]]))
        return out

    def authorisations(self) -> list[StoredAuthorisation]:
        """Every token set some tenant uses, with the tenants it covers: each is refreshed once."""
        items = self._scan()
        by_key = {str(i["tenant_id"]): i for i in items}
        tenants: dict[str, list[str]] = {}
        for item in filter(is_tenant_item, items):
            key = str(item["authorisation"]) if item.get("kind") == _TENANT_KIND else str(item["tenant_id"])
            tenants.setdefault(key, []).append(str(item["tenant_id"]))
        return [_auth_from(by_key[key], tuple(sorted(ids))) for key, ids in sorted(tenants.items())
                if key in by_key and "refresh_token" in by_key[key]]

    def states(self) -> list[ConnectionState]:
        """Every tenant's state and token times; token attributes are never read."""
        names = {f"#a{n}": attribute for n, attribute in enumerate(_STATE_ATTRIBUTES)}
        items = self._scan(ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
        by_key = {str(i["tenant_id"]): i for i in items}
        out = []
        for item in filter(is_tenant_item, items):
            tenant_id = str(item["tenant_id"])
            key = str(item["authorisation"]) if item.get("kind") == _TENANT_KIND else tenant_id
            auth = by_key.get(key, {})
            status = "DISCONNECTED" if not auth or auth.get("status") == "DISCONNECTED" else "CONNECTED"
            reason = auth.get("status_reason") if auth else "its authorisation's token set is missing"
            out.append(ConnectionState(
                tenant_id=tenant_id, tenant_name=item.get("tenant_name"), status=status, status_reason=reason,
                access_expires_at=auth.get("access_expires_at"), refreshed_at=auth.get("refreshed_at"),
                version=int(auth.get("version") or 0), authorisation=key,
                auth_event_id=auth.get("auth_event_id") or item.get("auth_event_id"),
            ))
        return sorted(out, key=lambda c: (c.status != "CONNECTED", c.tenant_name or "", c.tenant_id))

    # connecting -------------------------------------------------------------------------------------
    def connect(self, connection: StoredConnection) -> None:
        """Store a tenant holding its own token set (the old layout; still read and refreshed)."""
        current = self._item(connection.tenant_id)
        version = int(current.get("version") or 0) + 1 if current else 1
        item = connection.model_dump(exclude={"authorisation", "auth_event_id"})
        self._table.put_item(Item={**item, "version": version, "lease_owner": None, "lease_until": 0})
        self._select_first_connected([connection.tenant_id], now=connection.refreshed_at)

    def connect_authorisation(self, auth_event_id: str, tenants: list[tuple[str, str | None]], *,
                              access_token: str, refresh_token: str, access_expires_at: int, now: int) -> str:
        """Store one consent: its token set once, and each tenant pointing at it. Returns its key.

        A tenant connected before by another consent moves to this one; a token set no tenant uses
        any more is deleted, so the refresher never rotates a set nobody needs.
        """
        key = AUTH_PREFIX + auth_event_id
        self._select_first_connected([t for t, _ in tenants], now=now)
        previous = {self.authorisation_key(tenant_id) for tenant_id, _ in tenants} - {None, key}
        current = self._item(key)
        self._table.put_item(Item={
            "tenant_id": key, "kind": _AUTH_KIND, "auth_event_id": auth_event_id,
            "access_token": access_token, "refresh_token": refresh_token,
            "access_expires_at": access_expires_at, "refreshed_at": now, "status": "CONNECTED",
            "version": int(current.get("version") or 0) + 1 if current else 1, "lease_until": 0,
            "tenant_ids": [t for t, _ in tenants],
        })
        for tenant_id, name in tenants:
            self._table.put_item(Item={"tenant_id": tenant_id, "kind": _TENANT_KIND, "tenant_name": name,
                                       "authorisation": key, "auth_event_id": auth_event_id, "connected_at": now})
        still_used = {a.key for a in self.authorisations()}
        for old in previous:
            if old is not None and old.startswith(AUTH_PREFIX) and old not in still_used:
                self._table.delete_item(Key={"tenant_id": old})
        return key

    def consume_state(self, nonce: str, *, expires_at: int) -> bool:
        """Record an OAuth state as used; False if it was used before (a replayed connect link)."""
        try:
            self._table.put_item(Item={"tenant_id": STATE_PREFIX + nonce, "expires_at": expires_at},
                                 ConditionExpression="attribute_not_exists(tenant_id)")
            return True
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise

    # the chosen organisation --------------------------------------------------------------------------
    def selection(self) -> Selection | None:
        item = self._item(SELECTED_KEY)
        if not item:
            return None
        return Selection(tenant_id=item["selected_tenant_id"], selected_by=item.get("selected_by", "operator"),
                         selected_at=int(item.get("selected_at") or 0))

    def select(self, tenant_id: str, *, by: str, now: int, only_if_none: bool = False) -> bool:
        """Choose the organisation deals are invoiced to. only_if_none: unless one is chosen already."""
        extra = {"ConditionExpression": "attribute_not_exists(tenant_id)"} if only_if_none else {}
        try:
            self._table.put_item(Item={"tenant_id": SELECTED_KEY, "selected_tenant_id": tenant_id,
                                       "selected_by": by, "selected_at": now}, **extra)
            return True
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise

    def _select_first_connected(self, connecting: list[str], *, now: int) -> None:
        """The first organisation ever connected is chosen without asking: nothing else is known yet.

        Before anything is stored for this consent: a deployment of an older version (tenants, no
        choice) keeps invoicing its one tenant rather than the one being connected now.
        """
        if self.selection() is not None:
            return
        known = [s.tenant_id for s in self.states()]
        candidates = known or connecting
        if len(candidates) == 1:
            self.select(candidates[0], by="first connection", now=now, only_if_none=True)

    # the lease ------------------------------------------------------------------------------------
    def acquire_lease(self, key: str, owner: str, *, now: int, until: int) -> bool:
        try:
            self._table.update_item(
                Key={"tenant_id": key},
                UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                ConditionExpression="attribute_exists(refresh_token) AND (attribute_not_exists(lease_until) "
                                    "OR lease_until < :now OR lease_owner = :owner)",
                ExpressionAttributeValues={":owner": owner, ":until": until, ":now": now},
            )
            return True
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise

    def release_lease(self, key: str, owner: str) -> None:
        try:
            self._table.update_item(
                Key={"tenant_id": key},
                UpdateExpression="SET lease_until = :zero REMOVE lease_owner",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": owner, ":zero": 0},
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise

    def save_refreshed(self, key: str, owner: str, *, access_token: str, refresh_token: str,
                       access_expires_at: int, refreshed_at: int) -> bool:
        """Replace the token set if this owner still holds the lease; releases it."""
        try:
            self._table.update_item(
                Key={"tenant_id": key},
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

    def mark_disconnected(self, key: str, reason: str) -> None:
        self._table.update_item(
            Key={"tenant_id": key},
            UpdateExpression="SET #s = :d, status_reason = :reason, lease_until = :zero REMOVE lease_owner",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":d": "DISCONNECTED", ":reason": reason, ":zero": 0},
        )


def _joined(tenant: dict[str, Any], auth: dict[str, Any]) -> StoredConnection:
    tokens = {k: v for k, v in auth.items() if k not in ("tenant_id", "kind", "tenant_ids")}
    return StoredConnection.model_validate({**tokens, "tenant_id": tenant["tenant_id"],
                                            "tenant_name": tenant.get("tenant_name"),
                                            "authorisation": auth["tenant_id"]})


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB numbers come back as Decimal; the token items only hold integers."""
    return {k: (int(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, bool) else v) for k, v in item.items()}


def epoch(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())
