"""What the go-live commands (audit, dry-run, test-batch, backfill, leakage) work with, built from a
target: the CRM (as the sync reads it and as a directory), Xero with the deployment's stored tokens,
the links table, the mapping document and the Xero organisation.

URLs: a deployed stack's parameters (XeroApiUrl, PipedriveApiUrl...); the local stack's environment,
else the local emulators' default ports. Secrets come from the deployment's Secrets Manager; tokens
from its tokens table, refreshed under the same lease the functions use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from botocore.exceptions import ClientError
from pydantic import ValidationError

from crmbridge.config import Settings
from crmbridge.crm.field_store import FieldStore
from crmbridge.crm.pipedrive import PipedriveCrm
from crmbridge.errors import ConfigError
from crmbridge.mapping.config import MappingConfig, load_mapping
from crmbridge.ops.common import OpsError
from crmbridge.ops.connect import xero_credentials
from crmbridge.ops.history import default_tenant
from crmbridge.ops.target import Target
from crmbridge.secrets import PipedriveSecret
from crmbridge.sync.links import Links
from crmbridge.tokens.manager import TokenManager
from crmbridge.tokens.store import TokenStore
from crmbridge.xero.client import XeroClient
from crmbridge.xero.identity import XeroIdentity

ResponseHook = Callable[[str, httpx.Response], None]

# Stack parameter -> Settings alias, for the external URLs.
_STACK_URLS = {"XeroApiUrl": "XERO_API_URL", "XeroIdentityUrl": "XERO_IDENTITY_URL",
               "XeroConnectionsUrl": "XERO_CONNECTIONS_URL", "PipedriveApiUrl": "PIPEDRIVE_API_URL"}
# Local emulator defaults when the environment names none: (variable, port variable, default port, path).
_LOCAL_URLS = (("XERO_API_URL", "XERO_EMULATOR_PORT", 4010, "/api.xro/2.0"),
               ("XERO_IDENTITY_URL", "XERO_EMULATOR_PORT", 4010, ""),
               ("XERO_CONNECTIONS_URL", "XERO_EMULATOR_PORT", 4010, "/connections"),
               ("PIPEDRIVE_API_URL", "PIPEDRIVE_EMULATOR_PORT", 4020, ""))


@dataclass
class GoLive:
    target: Target | None  # None inside a deployed function
    settings: Settings
    crm: PipedriveCrm
    xero: XeroClient
    links: Links
    mapping: MappingConfig
    tenant_id: str


def settings_for(target: Target) -> Settings:
    env = dict(target.environ)
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


def pipedrive_secret(target: Target) -> PipedriveSecret:
    secret_id = target.secret_id("PipedriveSecret")
    try:
        raw = target.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        secret = PipedriveSecret.model_validate_json(raw)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "?")
        raise OpsError(f"cannot read the Pipedrive secret {secret_id} ({code})") from exc
    except ValidationError as exc:
        raise OpsError(f"the Pipedrive secret {secret_id} lacks api_token or webhook_user") from exc
    if secret.api_token.get_secret_value() == "set-me":
        raise OpsError(f"the Pipedrive secret {secret_id} still holds its placeholder api_token")
    return secret


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
    if target.crm_provider != "pipedrive":
        raise OpsError(f"the go-live commands support Pipedrive; this deployment uses {target.crm_provider}")
    settings = settings_for(target)
    client = http or httpx.Client(timeout=httpx.Timeout(max(settings.http_timeout_seconds, 30.0), connect=5.0))
    credentials = xero_credentials(target)
    identity = XeroIdentity(client, settings.xero_identity_url, settings.xero_connections_url,
                            credentials.client_id, credentials.client_secret.get_secret_value())
    tokens = TokenManager(TokenStore(target.table("TokensTable")), identity)
    hook: Any = on_response or (lambda tenant, response: None)
    xero = XeroClient(client, settings.xero_api_url, tokens, on_response=hook,
                      before_request=before_request or (lambda tenant: None))
    crm = PipedriveCrm(client, settings.pipedrive_api_url, pipedrive_secret(target).api_token.get_secret_value(),
                       fields=FieldStore(target.table("LinksTable")))
    return GoLive(target=target, settings=settings, crm=crm, xero=xero, links=Links(target.table("LinksTable")),
                  mapping=mapping_for(settings, mapping_file),
                  tenant_id=tenant_id or settings.xero_tenant_id or default_tenant(target))


def golive_from_settings(settings: Settings, metric: Callable[[str, float], None]) -> GoLive:
    """The same, inside a deployed function (functions/leakage_check): from its environment, secrets by
    ARN, the tokens table and links table by name; the tenant is XERO_TENANT_ID or the only connected one."""
    from crmbridge.aws import table
    from crmbridge.http import http_client
    from crmbridge.secrets import load_secret
    from crmbridge.sync.wiring import day_limit_metric, tenant_resolver
    from crmbridge.tokens.wiring import token_manager

    if settings.crm_provider != "pipedrive":
        raise ConfigError(f"the leakage check supports Pipedrive; CRM_PROVIDER is {settings.crm_provider}")
    http = http_client(settings.http_timeout_seconds)
    tokens = token_manager(settings, metric)
    secret = load_secret(PipedriveSecret, settings.require("pipedrive_secret_arn"), max_age=settings.secrets_max_age_seconds)
    crm = PipedriveCrm(http, settings.pipedrive_api_url, secret.api_token.get_secret_value(),
                       fields=FieldStore(table(settings, "links_table")))
    xero = XeroClient(http, settings.xero_api_url, tokens, on_response=day_limit_metric(metric))
    tenant_id = tenant_resolver(settings, tokens.store)(None)  # type: ignore[arg-type]
    return GoLive(target=None, settings=settings, crm=crm, xero=xero,
                  links=Links(table(settings, "links_table")), mapping=load_mapping(settings.mapping_file),
                  tenant_id=tenant_id)
