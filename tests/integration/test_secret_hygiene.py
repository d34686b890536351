"""A malformed secret never shows its value: the webhook function fails with a ConfigError that names the
secret and the key at fault, and neither its traceback (what Lambda prints) nor any log line carries a
character run of the secret."""

from __future__ import annotations

import io
import json
import os
import traceback
import uuid

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from crmbridge.errors import ConfigError
from tests.function_logs import function_logs_to

TOKEN = f"canary-pd-token-{uuid.uuid4().hex}"
PASSWORD = f"canary-pd-password-{uuid.uuid4().hex}"

MALFORMED = {
    "not JSON (cut short)": (f'{{"api_token": "{TOKEN}", "webhook_password": "{PASSWORD}", ', "not valid JSON"),
    "a JSON string, not an object": (json.dumps(TOKEN), "(the whole value): model_type"),
    "a key missing": (json.dumps({"api_token": TOKEN, "webhook_password": PASSWORD}), "webhook_user: missing"),
    "a key of the wrong type": (json.dumps({"api_token": TOKEN, "webhook_user": "bridge",
                                            "webhook_password": [PASSWORD]}), "webhook_password: string_type"),
}


@pytest.mark.parametrize("secret_text, named", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_secret_fails_naming_its_key_and_no_trace_or_log_line_shows_its_value(
        aws_stack, invoke_function, event, secret_text, named):
    """Given the Pipedrive secret stored malformed, when a webhook arrives, then the function fails with a
    ConfigError naming the secret and what is wrong, and no traceback or log line holds a secret value."""
    arn = os.environ["PIPEDRIVE_SECRET_ARN"]  # the function's environment, set by aws_stack
    boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=secret_text)
    parameters.clear_caches()
    logs = io.StringIO()

    with function_logs_to(logs), pytest.raises(ConfigError) as raised:
        invoke_function("CrmWebhookFunction", event("crm_webhook_pipedrive_deal_won"))

    printed = "".join(traceback.format_exception(raised.value)) + logs.getvalue()
    for secret in (TOKEN, PASSWORD):
        # pydantic elides the middle of a long value: neither its start nor its end may show
        assert secret[:20] not in printed and secret[-12:] not in printed
    assert "PipedriveSecret" in str(raised.value) and named in str(raised.value)
    parameters.clear_caches()
