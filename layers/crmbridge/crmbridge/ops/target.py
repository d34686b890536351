"""Which bridge the operator is working on: a deployed CloudFormation stack or the local stack.

- `--stack NAME`: physical ids come from CloudFormation (the stack's resources by logical id, its
  Outputs and Parameters); the region and credentials from the usual AWS configuration (environment,
  profile, SSO...).
- `--local`: the embedded local stack (`make local`): moto at $AWS_ENDPOINT_URL or
  http://127.0.0.1:5000, region eu-west-2, resources named `xero-crm-bridge-local-{LogicalId}` (secrets
  `xero-crm-bridge-local/{LogicalId}`), fake credentials unless some are set.
- neither: `--stack $BRIDGE_STACK` when that is set, else `--local`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from crmbridge.ops.common import OpsError

LOCAL_PREFIX = "xero-crm-bridge-local"
LOCAL_ENDPOINT = "http://127.0.0.1:5000"
LOCAL_REGION = "eu-west-2"  # the local stack always provisions here
LOCAL_GATEWAY = "http://127.0.0.1:3000"
LOCAL_XERO_EMULATOR = "http://127.0.0.1:4010"
STACK_ENV = "BRIDGE_STACK"

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=20)

SessionFactory = Callable[..., Any]


@dataclass
class Target:
    """A bridge deployment: boto3 clients for it and the physical id of each template resource."""

    kind: Literal["local", "stack"]
    name: str
    session: Any  # boto3.session.Session
    endpoint_url: str | None = None
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> physical id
    outputs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _resources: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def region(self) -> str | None:
        return self.session.region_name

    def describe(self) -> str:
        if self.kind == "local":
            return f"local stack at {self.endpoint_url or 'the default endpoint'}"
        return f"stack {self.name} ({self.region})"

    # ------------------------------------------------------------------------- clients

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url, config=_CONFIG)
        return self._clients[service]

    def resource(self, service: str) -> Any:
        if service not in self._resources:
            self._resources[service] = self.session.resource(service, endpoint_url=self.endpoint_url,
                                                             config=_CONFIG)
        return self._resources[service]

    # ------------------------------------------------------------------------- resources

    def physical_id(self, logical_id: str) -> str:
        if logical_id in self.physical:
            return self.physical[logical_id]
        if self.kind == "stack":
            raise OpsError(f"stack {self.name} has no resource {logical_id}: is it a Xero CRM Bridge stack?")
        return f"{LOCAL_PREFIX}-{logical_id}"

    def queue_url(self, logical_id: str) -> str:
        if self.kind == "local" and logical_id not in self.physical:
            name = f"{LOCAL_PREFIX}-{logical_id}"
            try:
                self.physical[logical_id] = self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
            except ClientError as exc:
                raise OpsError(f"queue {name} is not on {self.endpoint_url}: is the local stack running "
                               "(make local)?") from exc
        return self.physical_id(logical_id)

    def table(self, logical_id: str) -> Any:
        return self.resource("dynamodb").Table(self.physical_id(logical_id))

    def secret_id(self, logical_id: str) -> str:
        if self.kind == "local" and logical_id not in self.physical:
            return f"{LOCAL_PREFIX}/{logical_id}"
        return self.physical_id(logical_id)

    # ------------------------------------------------------------------------- settings of the deployment

    @property
    def crm_provider(self) -> str:
        if self.kind == "stack":
            return self.parameters.get("CrmProvider", "pipedrive")
        return self.environ.get("CRM_PROVIDER") or "pipedrive"

    @property
    def callback_url(self) -> str:
        """The redirect URI registered in the Xero app."""
        if self.kind == "stack":
            if "XeroCallbackUrl" not in self.outputs:
                raise OpsError(f"stack {self.name} has no XeroCallbackUrl output: deploy the current template")
            return self.outputs["XeroCallbackUrl"]
        port = self.environ.get("GATEWAY_PORT")
        base = f"http://127.0.0.1:{port}" if port else LOCAL_GATEWAY
        return f"{base}/oauth/xero/callback"

    @property
    def authorize_url(self) -> str | None:
        """The deployment's Xero authorize endpoint, when it says (stack parameter, local emulator)."""
        if self.kind == "stack":
            return self.parameters.get("XeroAuthorizeUrl")
        port = self.environ.get("XERO_EMULATOR_PORT")
        base = f"http://127.0.0.1:{port}" if port else LOCAL_XERO_EMULATOR
        return f"{base}/identity/connect/authorize"


def resolve_target(*, stack: str | None = None, local: bool = False, environ: Mapping[str, str] | None = None,
                   session_factory: SessionFactory | None = None) -> Target:
    """The target the options (or BRIDGE_STACK) name."""
    env = dict(os.environ if environ is None else environ)
    factory = session_factory or boto3.session.Session
    if stack and local:
        raise OpsError("choose --stack NAME or --local, not both")
    if not stack and not local:
        stack = env.get(STACK_ENV) or None
    if stack:
        return stack_target(stack, factory(), environ=env)
    return local_target(env, factory)


def local_target(environ: Mapping[str, str], session_factory: SessionFactory | None = None) -> Target:
    factory = session_factory or boto3.session.Session
    endpoint = environ.get("AWS_ENDPOINT_URL") or LOCAL_ENDPOINT
    if environ.get("AWS_ACCESS_KEY_ID") or environ.get("AWS_PROFILE"):
        session = factory(region_name=LOCAL_REGION)
    else:  # moto accepts anything; never look for real credentials to talk to it
        session = factory(aws_access_key_id="testing", aws_secret_access_key="testing",
                          aws_session_token="testing", region_name=LOCAL_REGION)
    return Target(kind="local", name="local", session=session, endpoint_url=endpoint, environ=environ)


def stack_target(name: str, session: Any, *, environ: Mapping[str, str] | None = None) -> Target:
    """Resolve a deployed stack: its resources' physical ids, Outputs and Parameters."""
    if not session.region_name:
        raise OpsError("no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION) or a profile region")
    target = Target(kind="stack", name=name, session=session, environ=dict(environ or {}))
    cloudformation = target.client("cloudformation")
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError":
            raise OpsError(f"stack {name} not found in {session.region_name}: {error.get('Message', '')}") from exc
        raise
    if not stacks:
        raise OpsError(f"stack {name} not found in {session.region_name}")
    described = stacks[0]
    target.outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    target.parameters = {p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
                         for p in described.get("Parameters", [])}
    target.physical = stack_resources(cloudformation, name)
    return target


def stack_resources(cloudformation: Any, name: str) -> dict[str, str]:
    """Logical id -> physical id of every resource (paginated: describe_stack_resources stops at 100)."""
    out: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=name):
        for summary in page.get("StackResourceSummaries", []):
            if summary.get("PhysicalResourceId"):
                out[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    return out
