"""The local stack over real HTTP: webhooks in through the gateway, work out through the queue poller."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os

import boto3
import httpx
import pytest

from local.credentials import credential
from local.stack import EXTERNAL_URLS, EnvironmentConflictError, LocalStack, merged_environment
from local.template import functions

pytestmark = pytest.mark.e2e

INTENT_TO_RECEIVE = b'{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"YSXCMKAQBJOEMGUZEPFZ"}'


def xero_signature(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def post_xero(stack: LocalStack, body: bytes, signature: str) -> httpx.Response:
    return httpx.post(
        f"{stack.gateway_url}/webhooks/xero",
        content=body,
        headers={"content-type": "application/json", "x-xero-signature": signature},
        timeout=10,
    )


def queue_counts(stack: LocalStack) -> dict[str, int]:
    attrs = boto3.client("sqs").get_queue_attributes(QueueUrl=stack.queue_url("SyncQueue"), AttributeNames=["All"])
    return {k: int(v) for k, v in attrs["Attributes"].items() if k.startswith("ApproximateNumberOfMessages")}


def test_signed_xero_intent_to_receive_over_http_is_200_with_an_empty_body(local_stack):
    signature = xero_signature(INTENT_TO_RECEIVE, credential("XERO_WEBHOOK_KEY"))

    response = post_xero(local_stack, INTENT_TO_RECEIVE, signature)

    assert response.status_code == 200
    assert response.content == b""


def test_xero_webhook_with_a_bad_signature_over_http_is_401(local_stack):
    signature = xero_signature(INTENT_TO_RECEIVE, "not-the-webhook-key")

    response = post_xero(local_stack, INTENT_TO_RECEIVE, signature)

    assert response.status_code == 401


def test_pipedrive_deal_won_over_http_is_queued_and_consumed_by_the_worker(local_stack, event):
    body = event("crm_webhook_pipedrive_deal_won")["body"]
    before = local_stack.pollers.stats["SyncWorkerFunction.SyncQueue"].get("messages", 0)

    response = httpx.post(
        f"{local_stack.gateway_url}/webhooks/pipedrive",
        content=body,
        headers={"content-type": "application/json"},
        auth=(credential("PIPEDRIVE_WEBHOOK_USER"), credential("PIPEDRIVE_WEBHOOK_PASSWORD")),
        timeout=10,
    )
    # What the worker makes of it is its own business (it may park it for later): the message itself
    # was delivered to the worker and is off the queue.
    local_stack.drain(timeout=15, include_delayed=False)

    assert response.status_code == 200
    stats = local_stack.pollers.stats["SyncWorkerFunction.SyncQueue"]
    assert stats["messages"] == before + 1
    counts = queue_counts(local_stack)
    assert counts["ApproximateNumberOfMessages"] == counts["ApproximateNumberOfMessagesNotVisible"] == 0


def test_pipedrive_webhook_with_a_wrong_password_over_http_is_401_and_queues_nothing(local_stack, event):
    body = event("crm_webhook_pipedrive_deal_won")["body"]
    before = queue_counts(local_stack)

    response = httpx.post(
        f"{local_stack.gateway_url}/webhooks/pipedrive",
        content=body,
        headers={"content-type": "application/json"},
        auth=("bridge", "wrong-password"),
        timeout=10,
    )

    assert response.status_code == 401
    assert queue_counts(local_stack) == before


def test_unknown_route_over_http_is_404_like_api_gateway(local_stack):
    response = httpx.post(f"{local_stack.gateway_url}/webhooks/salesforce", content=b"{}", timeout=10)

    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


def test_every_server_listens_on_its_own_local_port(local_stack):
    urls = local_stack.urls

    assert {"gateway", "moto"} <= urls.keys()
    assert all(url.startswith("http://127.0.0.1:") for url in urls.values())
    assert len({url.rsplit(":", 1)[1] for url in urls.values()}) == len(urls)


def test_aws_clients_point_at_moto_and_tracing_is_off(local_stack):
    assert os.environ["AWS_ENDPOINT_URL"] == local_stack.urls["moto"]
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-2"
    assert os.environ["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert os.environ["SYNC_QUEUE_URL"] == local_stack.queue_url("SyncQueue")


def test_external_base_urls_already_set_are_left_alone(local_stack, stack_env_before):
    preset = {name: value for name, value in stack_env_before.items() if value}

    assert preset  # the fixture sets one, as a proxy in front of the service would
    assert {name: os.environ[name] for name in preset} == preset


def test_unset_external_base_urls_point_at_the_local_emulators(local_stack, stack_env_before):
    unset = [name for name, value in stack_env_before.items() if not value]

    for name in unset:
        emulator, path = EXTERNAL_URLS[name]
        assert os.environ[name].startswith("http://127.0.0.1:")
        if emulator in local_stack.urls:
            assert os.environ[name] == local_stack.urls[emulator] + path
    if "XERO_API_URL" in unset:
        assert os.environ["XERO_API_URL"].endswith("/api.xro/2.0")


def test_a_second_stack_in_the_same_process_is_refused(local_stack):
    with pytest.raises(RuntimeError, match="already runs"):
        LocalStack.ephemeral().start()


def test_two_functions_needing_different_values_for_one_variable_is_an_error(local_stack):
    specs = functions(local_stack.template)
    clash = dataclasses.replace(specs["CrmWebhookFunction"], logical_id="Clash",
                                environment={"SYNC_QUEUE_URL": "https://elsewhere.example/queue"})

    with pytest.raises(EnvironmentConflictError, match="SYNC_QUEUE_URL"):
        merged_environment(local_stack.provisioned, specs | {"Clash": clash})


def test_scheduled_token_refresher_runs_on_demand(local_stack):
    before = len(local_stack.scheduler.runs)

    local_stack.run_now("TokenRefresherFunction")

    [run] = local_stack.scheduler.runs[before:]
    assert (run.schedule, run.ok) == ("TokenRefresherFunction.Schedule", True)

