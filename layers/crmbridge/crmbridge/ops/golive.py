"""What the go-live commands (audit, dry-run, test-batch, backfill, leakage, link, contact use) work
with, built from a target: the stack's CRM (its CrmProvider: Pipedrive or HubSpot, as the sync reads it
and as a directory), Xero with the deployment's stored tokens, the links table, the mapping document
and the Xero organisation. The CRM client is built as the functions build it (crm.clients).

URLs: a deployed stack's parameters (XeroApiUrl, PipedriveApiUrl, HubSpotApiUrl...); the local stack's
environment, else the local emulators' default ports. Secrets come from the deployment's Secrets
Manager; tokens from its tokens table, refreshed under the same lease the functions use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from botocore.exceptions import ClientError
from pydantic import ValidationError

from crmbridge.config import Settings
from crmbridge.crm.clients import CRM_SECRETS, CrmSecret, build_crm, crm_client
from crmbridge.crm.directory import GoLiveCrm
from crmbridge.crm.field_store import FieldStore
from crmbridge.errors import ConfigError
from crmbridge.mapping.config import MappingConfig, load_mapping
from crmbridge.ops.common import OpsError
from crmbridge.ops.connect import xero_credentials
from crmbridge.ops.history import default_tenant
from crmbridge.ops.target import Target
from crmbridge.sync.links import Links
from crmbridge.tokens.manager import TokenManager
from crmbridge.tokens.store import TokenStore
from crmbridge.xero.client import XeroClient
from crmbridge.xero.identity import XeroIdentity

ResponseHook = Callable[[str, httpx.Response], None]

# Stack parameter -> Settings alias, for the external URLs.
_STACK_URLS = {"XeroApiUrl": "XERO_API_URL", "XeroIdentityUrl": "XERO_IDENTITY_URL",
               "XeroConnectionsUrl": "XERO_CONNECTIONS_URL", "PipedriveApiUrl": "PIPEDRIVE_API_URL",
               "HubSpotApiUrl": "HUBSPOT_API_URL"}
# Local emulator defaults when the environment names none: (variable, port variable, default port, path).
_LOCAL_URLS = (("XERO_API_URL", "XERO_EMULATOR_PORT", 4010, "/api.xro/2.0"),
               ("XERO_IDENTITY_URL", "XERO_EMULATOR_PORT", 4010, ""),
               ("XERO_CONNECTIONS_URL", "XERO_EMULATOR_PORT", 4010, "/connections"),
               ("PIPEDRIVE_API_URL", "PIPEDRIVE_EMULATOR_PORT", 4020, ""),
               ("HUBSPOT_API_URL", "HUBSPOT_EMULATOR_PORT", 4030, ""))


@dataclass
class GoLive:
    target: Target | None  # None inside a deployed function
    settings: Settings
    crm: GoLiveCrm
    xero: XeroClient
    links: Links
    mapping: MappingConfig
    tenant_id: str


def crm_secret(target: Target) -> CrmSecret:
    """Where the target's CRM keeps its API token."""
    if target.crm_provider not in CRM_SECRETS:
        raise OpsError(f"this deployment's CRM is {target.crm_provider}: bridgectl knows {', '.join(CRM_SECRETS)}")
    return CRM_SECRETS[target.crm_provider]


def settings_for(target: Target) -> Settings:
    crm_secret(target)  # a CRM bridgectl does not know is named as such, not as a settings error
    env = {**target.environ, "CRM_PROVIDER": target.crm_provider}
    if target.kind == "stack":
        for parameter, alias in _STACK_URLS.items():
            if target.parameters.get(parameter):
                env[alias] = target.parameters[parameter]
        if target.parameters.get("InvoiceStatus"):
            env["INVOICE_STATUS"] = target.parameters["InvoiceStatus"]
    else:
        for alias, port_var, port, path in _LOCAL_URLS:
            if not env.get(alias):
                env[alias] = f"http://127.0.0.1:{env.get(port_var) or port}{path}"
    try:
        return Settings.from_environ(env)
    except ConfigError as exc:
        raise OpsError(exc.message) from exc


def crm_token(target: Target) -> str:
    """The API token of the target's CRM, from its secret (PipedriveSecret or HubSpotSecret)."""
    spec = crm_secret(target)
    secret_id = target.secret_id(spec.logical_id)
    try:
        raw = target.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        token = spec.token(spec.model.model_validate_json(raw))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "?")
        raise OpsError(f"cannot read the {spec.label} secret {secret_id} ({code})") from exc
    except ValidationError as exc:
        fields = ", ".join(spec.model.model_fields)
        raise OpsError(f"the {spec.label} secret {secret_id} lacks one of {fields}") from exc
    if token == "set-me":
        raise OpsError(f"the {spec.label} secret {secret_id} still holds its placeholder token")
    return token


def crm_for(target: Target, settings: Settings, http: httpx.Client, fields: FieldStore) -> GoLiveCrm:
    """The target's CRM client at the URL its functions use, with the token from its secret."""
    return build_crm(settings, http, crm_token(target), fields=fields)


def mapping_for(settings: Settings, mapping_file: str | None) -> MappingConfig:
    try:
        return load_mapping(mapping_file or settings.mapping_file)
    except ConfigError as exc:
        raise OpsError(exc.message) from exc


def golive(target: Target, *, tenant_id: str | None = None, mapping_file: str | None = None,
           on_response: ResponseHook | None = None, before_request: Callable[[str], None] | None = None,
           http: httpx.Client | None = None) -> GoLive:
    """Everything the go-live commands need, for this target (nothing is created or called yet but
    reads of secrets and the tokens table)."""
    settings = settings_for(target)
    client = http or httpx.Client(timeout=httpx.Timeout(max(settings.http_timeout_seconds, 30.0), connect=5.0))
    credentials = xero_credentials(target)
    identity = XeroIdentity(client, settings.xero_identity_url, settings.xero_connections_url,
                            credentials.client_id, credentials.client_secret.get_secret_value())
    tokens = TokenManager(TokenStore(target.table("TokensTable")), identity)
    hook: Any = on_response or (lambda tenant, response: None)
    xero = XeroClient(client, settings.xero_api_url, tokens, on_response=hook,
                      before_request=before_request or (lambda tenant: None))
    crm = crm_for(target, settings, client, FieldStore(target.table("LinksTable")))
    return GoLive(target=target, settings=settings, crm=crm, xero=xero, links=Links(target.table("LinksTable")),
                  mapping=mapping_for(settings, mapping_file),
                  tenant_id=tenant_id or settings.xero_tenant_id or default_tenant(target))


def golive_from_settings(settings: Settings, metric: Callable[[str, float], None]) -> GoLive:
    """The same, inside a deployed function (functions/leakage_check): from its environment, secrets by
    ARN, the tokens table and links table by name; the tenant is XERO_TENANT_ID or the only connected one."""
    from crmbridge.aws import table
    from crmbridge.http import http_client
    from crmbridge.sync.wiring import day_limit_metric, tenant_resolver
    from crmbridge.tokens.wiring import token_manager

    http = http_client(settings.http_timeout_seconds)
    tokens = token_manager(settings, metric)
    crm = crm_client(settings, http)
    xero = XeroClient(http, settings.xero_api_url, tokens, on_response=day_limit_metric(metric))
    tenant_id = tenant_resolver(settings, tokens.store)(None)  # type: ignore[arg-type]
    return GoLive(target=None, settings=settings, crm=crm, xero=xero,
                  links=Links(table(settings, "links_table")), mapping=load_mapping(settings.mapping_file),
                  tenant_id=tenant_id)
