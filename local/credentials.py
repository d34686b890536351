"""The local credentials of the design, shared by the emulators and the local stack's secrets.

Each can be overridden by an environment variable of the same name.
"""

from __future__ import annotations

import json
import os

DEFAULTS = {
    "XERO_CLIENT_ID": "local-client-id",
    "XERO_CLIENT_SECRET": "local-client-secret",
    "XERO_WEBHOOK_KEY": "local-xero-webhook-key",
    "PIPEDRIVE_API_TOKEN": "local-pipedrive-token",
    "PIPEDRIVE_WEBHOOK_USER": "bridge",
    "PIPEDRIVE_WEBHOOK_PASSWORD": "local-webhook-password",
    "HUBSPOT_CLIENT_SECRET": "local-hubspot-secret",
    "HUBSPOT_APP_TOKEN": "local-hubspot-token",
}


def credential(name: str) -> str:
    return os.environ.get(name, DEFAULTS[name])


def secret_values() -> dict[str, str]:
    """The value of each template secret (by logical id) in the local stack."""
    return {
        "XeroCredentialsSecret": json.dumps(
            {"client_id": credential("XERO_CLIENT_ID"), "client_secret": credential("XERO_CLIENT_SECRET")}
        ),
        "XeroWebhookSecret": json.dumps({"webhook_key": credential("XERO_WEBHOOK_KEY")}),
        "PipedriveSecret": json.dumps(
            {
                "api_token": credential("PIPEDRIVE_API_TOKEN"),
                "webhook_user": credential("PIPEDRIVE_WEBHOOK_USER"),
                "webhook_password": credential("PIPEDRIVE_WEBHOOK_PASSWORD"),
            }
        ),
        "HubSpotSecret": json.dumps(
            {"client_secret": credential("HUBSPOT_CLIENT_SECRET"), "app_token": credential("HUBSPOT_APP_TOKEN")}
        ),
    }
