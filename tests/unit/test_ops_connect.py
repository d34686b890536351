"""bridgectl connect: the Xero authorization URL, with the stack's redirect URI and a signed state."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from crmbridge.ops.common import OpsError, to_json
from crmbridge.ops.connect import connect_link
from crmbridge.tokens.connect import StateError, check_state, state_key
from tests.unit.test_ops_fakes import fake_target

NOW = 1_780_000_000
SECRET = "s3cret-client-secret"


class FakeSecrets:
    def __init__(self, value: dict[str, str]) -> None:
        self.value = value
        self.asked: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.asked.append(SecretId)
        return {"SecretString": json.dumps(self.value)}


def target_with(value: dict[str, str], **kwargs: Any):
    target = fake_target(**kwargs)
    target._clients["secretsmanager"] = FakeSecrets(value)
    return target


def test_the_url_carries_the_client_id_redirect_scopes_and_a_state_the_callback_accepts():
    target = target_with({"client_id": "app-id", "client_secret": SECRET})

    link = connect_link(target, now=NOW, environ={})

    url = urlparse(link.url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == "http://127.0.0.1:4010/identity/connect/authorize"
    assert (query["response_type"], query["client_id"]) == ("code", "app-id")
    assert query["redirect_uri"] == "http://127.0.0.1:3000/oauth/xero/callback"
    assert "offline_access" in query["scope"].split() and "accounting.invoices" in query["scope"].split()
    check_state(state_key(SECRET), query["state"], now=NOW + 60)
    with pytest.raises(StateError):
        check_state(state_key(SECRET), query["state"], now=NOW + 601)
    assert SECRET not in to_json(link)
    assert target._clients["secretsmanager"].asked == ["xero-crm-bridge-local/XeroCredentialsSecret"]


def test_the_endpoint_is_the_option_else_the_environment_else_the_deployments():
    target = target_with({"client_id": "app-id", "client_secret": SECRET})
    env = {"XERO_AUTHORIZE_URL": "https://env.example/authorize", "XERO_SCOPES": "offline_access openid"}

    assert connect_link(target, now=NOW, environ=env).authorize_endpoint == "https://env.example/authorize"
    assert connect_link(target, now=NOW, environ=env).scopes == "offline_access openid"
    chosen = connect_link(target, now=NOW, environ=env, authorize_endpoint="https://opt.example/a",
                          redirect_uri="https://cb.example/cb")
    assert (chosen.authorize_endpoint, chosen.redirect_uri) == ("https://opt.example/a", "https://cb.example/cb")

    stack = target_with({"client_id": "app-id", "client_secret": SECRET})
    stack.kind, stack.name = "stack", "prod"
    stack.outputs = {"XeroCallbackUrl": "https://api.example/oauth/xero/callback"}
    stack.parameters = {"XeroAuthorizeUrl": "https://login.xero.com/identity/connect/authorize"}
    stack.physical["XeroCredentialsSecret"] = "arn:secret"
    link = connect_link(stack, now=NOW, environ={})
    assert link.redirect_uri == "https://api.example/oauth/xero/callback"
    assert link.authorize_endpoint == "https://login.xero.com/identity/connect/authorize"
    assert stack._clients["secretsmanager"].asked == ["arn:secret"]


def test_a_placeholder_or_malformed_secret_is_explained():
    with pytest.raises(OpsError, match="placeholder"):
        connect_link(target_with({"client_id": "set-me", "client_secret": "generated"}), now=NOW, environ={})
    with pytest.raises(OpsError, match="is not"):
        connect_link(target_with({"client_secret": "x"}), now=NOW, environ={})
