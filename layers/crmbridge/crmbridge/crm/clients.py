"""The stack's one CRM client (CRM_PROVIDER), built the same way for the functions (secrets by ARN) and
for the operator's tools (secrets read through the deployment's Secrets Manager)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel

from crmbridge.config import Settings
from crmbridge.crm.field_store import FieldStore
from crmbridge.crm.hubspot import HubSpotCrm
from crmbridge.crm.pipedrive import PipedriveCrm
from crmbridge.secrets import HubSpotSecret, PipedriveSecret

BridgeCrm = PipedriveCrm | HubSpotCrm


@dataclass(frozen=True)
class CrmSecret:
    """Where a CRM's API token is kept: the secret's model, its ARN setting and template logical id."""

    label: str
    model: type[BaseModel]
    arn_setting: str
    logical_id: str
    token: Callable[[Any], str]  # the API token out of the secret


CRM_SECRETS: dict[str, CrmSecret] = {
    "pipedrive": CrmSecret("Pipedrive", PipedriveSecret, "pipedrive_secret_arn", "PipedriveSecret",
                           lambda secret: secret.api_token.get_secret_value()),
    "hubspot": CrmSecret("HubSpot", HubSpotSecret, "hubspot_secret_arn", "HubSpotSecret",
                         lambda secret: secret.app_token.get_secret_value()),
}


def build_crm(settings: Settings, http: httpx.Client, token: str, *, fields: FieldStore | None) -> BridgeCrm:
    """The client of settings.crm_provider at its configured URL, with this API token and the codes of the
    bridge's fields that `bridgectl setup` stored."""
    if settings.crm_provider == "hubspot":
        return HubSpotCrm(http, settings.hubspot_api_url, token, fields=fields)
    return PipedriveCrm(http, settings.pipedrive_api_url, token, fields=fields)


def crm_client(settings: Settings, http: httpx.Client) -> BridgeCrm:
    """The functions' CRM: its token from the secret whose ARN the environment names (cached as secrets are),
    the field codes from the links table."""
    from crmbridge.aws import table
    from crmbridge.secrets import load_secret

    secret = CRM_SECRETS[settings.crm_provider]
    loaded = load_secret(secret.model, settings.require(secret.arn_setting),  # type: ignore[type-var]
                         max_age=settings.secrets_max_age_seconds)
    return build_crm(settings, http, secret.token(loaded), fields=FieldStore(table(settings, "links_table")))
