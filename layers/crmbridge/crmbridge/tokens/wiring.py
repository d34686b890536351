"""Token manager, identity client and state key, built from Settings."""

from __future__ import annotations

from collections.abc import Callable

from crmbridge.aws import table
from crmbridge.config import Settings
from crmbridge.http import http_client
from crmbridge.secrets import XeroCredentials, load_secret
from crmbridge.tokens.connect import state_key
from crmbridge.tokens.manager import TokenManager
from crmbridge.tokens.store import TokenStore
from crmbridge.xero.identity import XeroIdentity


def credentials(settings: Settings) -> XeroCredentials:
    return load_secret(XeroCredentials, settings.require("xero_credentials_secret_arn"),
                       max_age=settings.secrets_max_age_seconds)


def identity(settings: Settings) -> XeroIdentity:
    creds = credentials(settings)
    return XeroIdentity(http_client(settings.http_timeout_seconds), settings.xero_identity_url,
                        settings.xero_connections_url, creds.client_id, creds.client_secret.get_secret_value())


def signing_key(settings: Settings) -> bytes:
    return state_key(credentials(settings).client_secret.get_secret_value())


def token_store(settings: Settings) -> TokenStore:
    return TokenStore(table(settings, "tokens_table"))


def token_manager(settings: Settings, metric: Callable[[str, float], None]) -> TokenManager:
    return TokenManager(token_store(settings), identity(settings), on_metric=metric)
