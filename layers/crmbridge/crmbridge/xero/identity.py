"""Xero identity: the OAuth token endpoint and /connections. Network I/O only, no state."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crmbridge.errors import PermanentError, RetryableError
from crmbridge.http import raise_for_transient, send
from crmbridge.webhooks.signatures import basic_auth_header

SERVICE = "xero_identity"


class InvalidGrantError(PermanentError):
    """The refresh token (or code) is dead: the connection must be authorised again."""

    def __init__(self, message: str = "Xero answered invalid_grant") -> None:
        super().__init__("invalid_grant", message)


class TokenSet(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access_token: str = Field(repr=False)
    refresh_token: str = Field(repr=False)
    expires_in: int = Field(gt=0)
    token_type: str = "Bearer"
    scope: str | None = None


class Connection(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str
    tenant_id: str = Field(alias="tenantId")
    tenant_type: str = Field(alias="tenantType")
    tenant_name: str | None = Field(None, alias="tenantName")
    auth_event_id: str | None = Field(None, alias="authEventId")  # shared by the tenants of one consent
    created_date_utc: datetime | None = Field(None, alias="createdDateUtc")


class XeroIdentity:
    def __init__(self, http: httpx.Client, identity_url: str, connections_url: str,
                 client_id: str, client_secret: str) -> None:
        self._http = http
        self._token_url = identity_url.rstrip("/") + "/connect/token"
        self._connections_url = connections_url
        self._auth = (client_id, client_secret)

    def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        return self._token({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})

    def refresh(self, refresh_token: str) -> TokenSet:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def connections(self, access_token: str, *, auth_event_id: str | None = None) -> list[Connection]:
        """The app's connections for this user; with auth_event_id, only those of that consent."""
        params = {"authEventId": auth_event_id} if auth_event_id else None
        request = self._http.build_request(
            "GET", self._connections_url, params=params,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        response = send(self._http, request, service=SERVICE)
        raise_for_transient(response, service=SERVICE)
        if response.status_code != 200:
            raise PermanentError("xero_connections", f"GET /connections answered {response.status_code}")
        return [Connection.model_validate(c) for c in response.json()]

    def _token(self, form: dict[str, str]) -> TokenSet:
        request = self._http.build_request(
            "POST", self._token_url, data=form,
            headers={"Accept": "application/json", "Authorization": basic_auth_header(*self._auth)},
        )
        response = send(self._http, request, service=SERVICE)
        raise_for_transient(response, service=SERVICE)
        body: dict[str, Any] = _json_or_empty(response)
        if response.status_code == 400 and body.get("error") == "invalid_grant":
            raise InvalidGrantError()
        if response.status_code != 200:
            raise PermanentError("xero_token", f"token endpoint answered {response.status_code}: {body.get('error', '?')}")
        try:
            return TokenSet.model_validate(body)
        except ValidationError as exc:
            raise RetryableError("token endpoint answer not understood") from exc


def authentication_event_id(access_token: str) -> str | None:
    """The consent an access token was issued for: its `authentication_event_id` claim, if it has one.

    Read without checking the signature: the token came straight from Xero's token endpoint over TLS,
    and the claim only narrows the list Xero itself returns for that token.
    """
    parts = access_token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    value = claims.get("authentication_event_id") if isinstance(claims, dict) else None
    return value if isinstance(value, str) and value else None


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
