"""The one typed configuration of the bridge, read from the environment and validated once.

No other module reads os.environ: they take a Settings (usually from get_settings()).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crmbridge.errors import ConfigError


class Settings(BaseModel):
    """Environment of a bridge function. Fields a given function does not use may stay unset."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    crm_provider: Literal["pipedrive", "hubspot"] = Field("pipedrive", alias="CRM_PROVIDER")
    sync_queue_url: str | None = Field(None, alias="SYNC_QUEUE_URL")
    idempotency_table: str | None = Field(None, alias="IDEMPOTENCY_TABLE")
    links_table: str | None = Field(None, alias="LINKS_TABLE")
    tokens_table: str | None = Field(None, alias="TOKENS_TABLE")
    history_table: str | None = Field(None, alias="HISTORY_TABLE")
    history_retention_days: int = Field(90, alias="HISTORY_RETENTION_DAYS", ge=1)

    xero_credentials_secret_arn: str | None = Field(None, alias="XERO_CREDENTIALS_SECRET_ARN")
    xero_webhook_secret_arn: str | None = Field(None, alias="XERO_WEBHOOK_SECRET_ARN")
    pipedrive_secret_arn: str | None = Field(None, alias="PIPEDRIVE_SECRET_ARN")
    hubspot_secret_arn: str | None = Field(None, alias="HUBSPOT_SECRET_ARN")
    secrets_max_age_seconds: int = Field(300, alias="SECRETS_MAX_AGE_SECONDS", ge=0)

    xero_api_url: str = Field("https://api.xero.com/api.xro/2.0", alias="XERO_API_URL")
    xero_identity_url: str = Field("https://identity.xero.com", alias="XERO_IDENTITY_URL")
    xero_connections_url: str = Field(
        "https://api.xero.com/connections", alias="XERO_CONNECTIONS_URL"
    )
    xero_authorize_url: str = Field(
        "https://login.xero.com/identity/connect/authorize", alias="XERO_AUTHORIZE_URL"
    )
    xero_scopes: str = Field(
        "offline_access accounting.contacts accounting.invoices accounting.payments.read "
        "accounting.settings.read",
        alias="XERO_SCOPES",
    )
    pipedrive_api_url: str = Field("https://api.pipedrive.com", alias="PIPEDRIVE_API_URL")
    hubspot_api_url: str = Field("https://api.hubapi.com", alias="HUBSPOT_API_URL")
    # The HubSpot account (portal) webhooks must come from; unset or empty = not checked.
    hubspot_portal_id: int | None = Field(None, alias="HUBSPOT_PORTAL_ID", ge=1)

    invoice_status: Literal["DRAFT", "SUBMITTED", "AUTHORISED"] = Field(
        "DRAFT", alias="INVOICE_STATUS"
    )
    mapping_file: str | None = Field(None, alias="MAPPING_FILE")
    # The Xero organisation won deals are invoiced in; unset = the only connected one.
    xero_tenant_id: str | None = Field(None, alias="XERO_TENANT_ID")
    park_recheck_seconds: int = Field(900, alias="PARK_RECHECK_SECONDS", ge=1, le=900)
    # Work still parked this long after it was first parked (its reason never cleared) becomes a recorded
    # failure (parked_too_long) instead of being parked again: 3 days outlasts any daily limit.
    park_limit_seconds: int = Field(3 * 86400, alias="PARK_LIMIT_SECONDS", ge=60)
    http_timeout_seconds: float = Field(10.0, alias="HTTP_TIMEOUT_SECONDS", gt=0)
    # The scheduled leakage check looks at deals won in this many days before now.
    leakage_lookback_days: int = Field(90, alias="LEAKAGE_LOOKBACK_DAYS", ge=1, le=3650)

    @field_validator("hubspot_portal_id", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # a template parameter left at its default is ""

    def require(self, field: str) -> str:
        """The value of an optional field this caller cannot work without."""
        value = getattr(self, field)
        if not value:
            alias = type(self).model_fields[field].alias
            raise ConfigError(f"{alias} is not set for this function")
        return str(value)

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Settings:
        source = dict(os.environ if environ is None else environ)
        try:
            return cls.model_validate(source)
        except ValidationError as exc:
            raise ConfigError(f"invalid configuration: {exc}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, validated on first use and then reused (warm invocations)."""
    return Settings.from_environ()
