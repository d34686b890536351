"""bridgectl's target: --local, --stack NAME, or BRIDGE_STACK; physical ids from CloudFormation."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from crmbridge.ops.common import OpsError
from crmbridge.ops.target import LOCAL_ENDPOINT, resolve_target


class FakeCloudFormation:
    def __init__(self, stacks: dict[str, dict[str, Any]], resources: dict[str, list[dict[str, str]]]) -> None:
        self.stacks = stacks
        self.resources = resources

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        if StackName not in self.stacks:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}},
                              "DescribeStacks")
        return {"Stacks": [self.stacks[StackName]]}

    def get_paginator(self, name: str) -> Any:
        assert name == "list_stack_resources"
        resources = self.resources

        class Paginator:
            def paginate(self, StackName: str) -> list[dict[str, Any]]:
                summaries = resources[StackName]
                return [{"StackResourceSummaries": summaries[i:i + 2]} for i in range(0, len(summaries), 2)]

        return Paginator()


class FakeSession:
    def __init__(self, region_name: str | None = None, cloudformation: FakeCloudFormation | None = None,
                 **credentials: str) -> None:
        self.region_name = region_name
        self.credentials = credentials
        self.cloudformation = cloudformation
        self.clients: list[tuple[str, str | None]] = []

    def client(self, service: str, endpoint_url: str | None = None, **_: Any) -> Any:
        self.clients.append((service, endpoint_url))
        return self.cloudformation if service == "cloudformation" else object()


PROD = {
    "Outputs": [{"OutputKey": "XeroCallbackUrl", "OutputValue": "https://abc.execute-api.eu-west-1.amazonaws.com/oauth/xero/callback"},
                {"OutputKey": "SyncQueueUrl", "OutputValue": "https://sqs/q"}],
    "Parameters": [{"ParameterKey": "CrmProvider", "ParameterValue": "hubspot"},
                   {"ParameterKey": "XeroAuthorizeUrl", "ParameterValue": "https://login.example/authorize"}],
}
PROD_RESOURCES = [
    {"LogicalResourceId": "SyncQueue", "PhysicalResourceId": "https://sqs.eu-west-1.amazonaws.com/1/prod-SyncQueue-X"},
    {"LogicalResourceId": "SyncDeadLetterQueue", "PhysicalResourceId": "https://sqs.eu-west-1.amazonaws.com/1/prod-DLQ-Y"},
    {"LogicalResourceId": "LinksTable", "PhysicalResourceId": "prod-LinksTable-Z"},
    {"LogicalResourceId": "XeroCredentialsSecret", "PhysicalResourceId": "arn:aws:secretsmanager:eu-west-1:1:secret:x"},
    {"LogicalResourceId": "Pending", "PhysicalResourceId": ""},
]


def cloud(region: str | None = "eu-west-1"):
    cfn = FakeCloudFormation({"prod": PROD}, {"prod": PROD_RESOURCES})

    def factory(**kwargs: Any) -> FakeSession:
        return FakeSession(region_name=kwargs.pop("region_name", region), cloudformation=cfn, **kwargs)

    return factory


def test_a_stack_resolves_physical_ids_outputs_and_parameters():
    target = resolve_target(stack="prod", environ={}, session_factory=cloud())

    assert (target.kind, target.name, target.region, target.endpoint_url) == ("stack", "prod", "eu-west-1", None)
    assert target.queue_url("SyncDeadLetterQueue") == "https://sqs.eu-west-1.amazonaws.com/1/prod-DLQ-Y"
    assert target.physical_id("LinksTable") == "prod-LinksTable-Z"
    assert target.secret_id("XeroCredentialsSecret").startswith("arn:aws:secretsmanager:")
    assert target.callback_url.endswith("/oauth/xero/callback")
    assert (target.crm_provider, target.authorize_url) == ("hubspot", "https://login.example/authorize")
    assert "Pending" not in target.physical
    with pytest.raises(OpsError, match="no resource TokensTable"):
        target.physical_id("TokensTable")


def test_bridge_stack_is_the_default_target():
    assert resolve_target(environ={"BRIDGE_STACK": "prod"}, session_factory=cloud()).kind == "stack"
    assert resolve_target(local=True, environ={"BRIDGE_STACK": "prod"}, session_factory=cloud()).kind == "local"


def test_an_unknown_stack_or_no_region_is_an_operator_error():
    with pytest.raises(OpsError, match="stack nope not found in eu-west-1"):
        resolve_target(stack="nope", environ={}, session_factory=cloud())
    with pytest.raises(OpsError, match="no AWS region"):
        resolve_target(stack="prod", environ={}, session_factory=cloud(region=None))


def test_stack_and_local_together_are_refused():
    with pytest.raises(OpsError, match="not both"):
        resolve_target(stack="prod", local=True, environ={}, session_factory=cloud())


def test_local_uses_the_endpoint_from_the_environment_and_fake_credentials():
    target = resolve_target(environ={"AWS_ENDPOINT_URL": "http://127.0.0.1:5999"}, session_factory=FakeSession)

    assert (target.kind, target.endpoint_url, target.region) == ("local", "http://127.0.0.1:5999", "eu-west-2")
    assert target.session.credentials["aws_access_key_id"] == "testing"
    assert target.physical_id("LinksTable") == "xero-crm-bridge-local-LinksTable"
    assert target.secret_id("XeroCredentialsSecret") == "xero-crm-bridge-local/XeroCredentialsSecret"
    assert target.callback_url == "http://127.0.0.1:3000/oauth/xero/callback"
    assert target.crm_provider == "pipedrive"
    target.client("sqs")
    assert target.session.clients == [("sqs", "http://127.0.0.1:5999")]


def test_local_defaults_and_credentials_already_set():
    target = resolve_target(environ={"AWS_ACCESS_KEY_ID": "AKIA...", "GATEWAY_PORT": "3100", "CRM_PROVIDER": "hubspot",
                                     "XERO_EMULATOR_PORT": "4111"}, session_factory=FakeSession)

    assert target.endpoint_url == LOCAL_ENDPOINT
    assert target.session.credentials == {}
    assert target.callback_url == "http://127.0.0.1:3100/oauth/xero/callback"
    assert target.authorize_url == "http://127.0.0.1:4111/identity/connect/authorize"
    assert target.crm_provider == "hubspot"
