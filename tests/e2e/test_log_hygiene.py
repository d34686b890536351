"""Every log line the functions write carries correlation ids, and none carries a secret, a token or a
webhook body: canary credentials are planted, a deal goes through, and every captured line is scanned.
"""

from __future__ import annotations

import io
import json
import uuid

import boto3
import pytest

from tests.e2e.flow import invoice_number, line, running_flow, seed_deal, win
from tests.function_logs import function_logs_to

pytestmark = pytest.mark.e2e

CANARIES = {
    "XERO_CLIENT_SECRET": f"canary-xero-secret-{uuid.uuid4().hex}",
    "XERO_WEBHOOK_KEY": f"canary-webhook-key-{uuid.uuid4().hex}",
    "PIPEDRIVE_API_TOKEN": f"canary-pd-token-{uuid.uuid4().hex}",
    "PIPEDRIVE_WEBHOOK_PASSWORD": f"canary-pd-password-{uuid.uuid4().hex}",
}
BODY_CANARY = f"Canary deal title {uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def captured_run(tmp_path_factory):
    """A whole deal-won flow with canary credentials, its function logs captured."""
    mp = pytest.MonkeyPatch()
    for name, value in CANARIES.items():
        mp.setenv(name, value)
    log_lines: list[str] = []
    buffer = io.StringIO()
    try:
        with function_logs_to(buffer), running_flow(one_invocation_at_a_time=True) as flow:
            deal_id, _ = seed_deal(flow["pipedrive"], org={"name": f"Hygiene {uuid.uuid4().hex[:6]} Ltd"},
                                   lines=[line("10.00")])
            flow["pipedrive"].app_update_deal(deal_id, {"title": BODY_CANARY})
            win(flow, deal_id)
            invoice_number(flow, deal_id)
            flow["stack"].drain(timeout=30)
            tokens = boto3.resource("dynamodb").Table(flow["stack"].table_name("TokensTable")).scan()["Items"]
        log_lines = [line_ for line_ in buffer.getvalue().splitlines() if line_.startswith("{")]
    finally:
        mp.undo()
    secrets = [*CANARIES.values()] + [t[k] for t in tokens for k in ("access_token", "refresh_token") if k in t]
    return {"lines": log_lines, "secrets": secrets, "deal_id": str(deal_id)}


def test_no_log_line_carries_a_secret_a_token_or_a_webhook_body(captured_run):
    assert len(captured_run["lines"]) > 10
    for log_line in captured_run["lines"]:
        for secret in captured_run["secrets"]:
            assert secret not in log_line
        assert BODY_CANARY not in log_line


def test_worker_log_lines_carry_the_deal_and_message_correlation_ids(captured_run):
    worker_lines = [json.loads(entry) for entry in captured_run["lines"]
                    if '"function_name":"SyncWorkerFunction"' in entry and '"level"' in entry]
    about_the_deal = [entry for entry in worker_lines if entry.get("deal_id") == captured_run["deal_id"]]
    assert about_the_deal, "no worker line names the deal"
    assert all(entry.get("message_id") and entry.get("function_request_id") for entry in about_the_deal)
