"""`bridgectl connect`: the URL an operator opens to connect a Xero organisation to the bridge.

Xero asks the operator to consent, then redirects to the stack's callback (the XeroCallbackUrl
output, registered as the Xero app's redirect URI), which checks the signed state, exchanges the code
and stores the tokens of the organisations ticked in that consent. The state is signed with a key
derived from the app's client secret, expires after 10 minutes and works once (the callback records
its nonce as used): open the URL soon after printing it, and print a new one to connect again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError
from pydantic import ValidationError

from crmbridge.config import Settings
from crmbridge.errors import ConfigError
from crmbridge.ops.common import OpsError
from crmbridge.ops.target import Target
from crmbridge.secrets import XeroCredentials
from crmbridge.tokens.connect import STATE_TTL_SECONDS, authorize_url, make_state, state_key

PLACEHOLDER_CLIENT_ID = "set-me"


@dataclass
class ConnectLink:
    url: str
    authorize_endpoint: str
    client_id: str
    redirect_uri: str
    scopes: str
    state_expires_at: datetime


def xero_credentials(target: Target) -> XeroCredentials:
    secret_id = target.secret_id("XeroCredentialsSecret")
    try:
        raw = target.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "?")
        raise OpsError(f"cannot read the Xero credentials secret {secret_id} ({code})") from exc
    try:
        credentials = XeroCredentials.model_validate_json(raw)
    except ValidationError as exc:
        raise OpsError(f"the Xero credentials secret {secret_id} is not "
                       '{"client_id": "...", "client_secret": "..."}') from exc
    if credentials.client_id == PLACEHOLDER_CLIENT_ID:
        raise OpsError(f"the Xero credentials secret {secret_id} still holds its placeholder: put your Xero app's "
                       "client_id and client_secret in it (README: Deploying with SAM)")
    return credentials


def connect_link(target: Target, *, now: int, authorize_endpoint: str | None = None,
                 redirect_uri: str | None = None, environ: Mapping[str, str] | None = None) -> ConnectLink:
    """The authorization URL: endpoint from --authorize-url, else XERO_AUTHORIZE_URL, else the
    deployment's (stack parameter XeroAuthorizeUrl; the local Xero emulator), else Xero's."""
    env = dict(environ or {})
    try:
        settings = Settings.from_environ(env)
    except ConfigError as exc:
        raise OpsError(exc.message) from exc
    endpoint = (authorize_endpoint or env.get("XERO_AUTHORIZE_URL") or target.authorize_url
                or settings.xero_authorize_url)
    redirect = redirect_uri or target.callback_url
    credentials = xero_credentials(target)
    state = make_state(state_key(credentials.client_secret.get_secret_value()), now=now)
    url = authorize_url(endpoint, client_id=credentials.client_id, redirect_uri=redirect,
                        scopes=settings.xero_scopes, state=state)
    return ConnectLink(url=url, authorize_endpoint=endpoint, client_id=credentials.client_id, redirect_uri=redirect,
                       scopes=settings.xero_scopes,
                       state_expires_at=datetime.fromtimestamp(now + STATE_TTL_SECONDS, tz=UTC))
