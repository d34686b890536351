"""Create the template's queues, tables, keys and secrets on an AWS endpoint (moto, locally).

Nothing is re-declared here: properties come from template.yaml, and intrinsic functions are resolved
against what was created, so the functions get the same environment names and shapes as in AWS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from local import template as tpl
from local.credentials import secret_values

STACK = "xero-crm-bridge-local"


@dataclass
class Provisioned:
    template: dict[str, Any]
    parameters: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    table_names: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """Evaluate the intrinsics the template uses in properties and environments."""
        if isinstance(value, dict) and len(value) == 1:
            (name, arg), = value.items()
            if name == "Ref":
                if arg in self.parameters:
                    return self.parameters[arg]
                return {"AWS::Region": "eu-west-2", "AWS::AccountId": "123456789012",
                        "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
                        "AWS::StackName": STACK}.get(arg) or self.refs[arg]
            if name == "Fn::GetAtt":
                return self.attrs[(arg[0], arg[1])]
            if name == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                for key in [*self.parameters, *self.refs]:
                    text = text.replace("${" + key + "}", str(self.resolve({"Ref": key})))
                for (logical, attr), attr_value in self.attrs.items():
                    text = text.replace("${" + f"{logical}.{attr}" + "}", attr_value)
                for pseudo in ("AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix", "AWS::StackName"):
                    text = text.replace("${" + pseudo + "}", str(self.resolve({"Ref": pseudo})))
                return text
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def function_environment(self, spec: tpl.FunctionSpec) -> dict[str, str]:
        return {k: str(self.resolve(v)) for k, v in spec.environment.items()}


def provision(session: Any, *, parameters: dict[str, str] | None = None,
              template: dict[str, Any] | None = None) -> Provisioned:
    """Create every stateful resource of the template with `session` (a boto3 Session)."""
    template = template or tpl.load_template()
    params = tpl.parameter_defaults(template) | (parameters or {})
    out = Provisioned(template=template, parameters=params)
    _keys(session, out)
    _queues(session, out)
    _tables(session, out)
    _secrets(session, out)
    return out


def _keys(session: Any, out: Provisioned) -> None:
    kms = session.client("kms")
    for logical_id, res in tpl.resources_of_type(out.template, "AWS::KMS::Key").items():
        meta = kms.create_key(Description=res["Properties"].get("Description", logical_id))["KeyMetadata"]
        out.refs[logical_id] = meta["KeyId"]
        out.attrs[(logical_id, "Arn")] = meta["Arn"]


def _queues(session: Any, out: Provisioned) -> None:
    sqs = session.client("sqs")
    queues = tpl.resources_of_type(out.template, "AWS::SQS::Queue")
    # Queues others redrive into come first, so their ARNs resolve.
    ordered = sorted(queues.items(), key=lambda kv: "RedrivePolicy" in kv[1].get("Properties", {}))
    for logical_id, res in ordered:
        props = out.resolve(res.get("Properties", {}))
        attributes = {}
        for name in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
            if name in props:
                attributes[name] = str(props[name])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(
                {k: str(v) for k, v in props["RedrivePolicy"].items()}
            )
        name = f"{STACK}-{logical_id}"
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        out.refs[logical_id] = url
        out.attrs[(logical_id, "Arn")] = arn
        out.attrs[(logical_id, "QueueName")] = name
        out.queue_urls[logical_id] = url


def _tables(session: Any, out: Provisioned) -> None:
    ddb = session.client("dynamodb")
    for logical_id, res in tpl.resources_of_type(out.template, "AWS::DynamoDB::Table").items():
        props = out.resolve(res["Properties"])
        name = f"{STACK}-{logical_id}"
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        description = ddb.create_table(**kwargs)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        out.refs[logical_id] = name
        out.attrs[(logical_id, "Arn")] = description["TableArn"]
        out.table_names[logical_id] = name


def _secrets(session: Any, out: Provisioned) -> None:
    sm = session.client("secretsmanager")
    values = secret_values()
    for logical_id in tpl.resources_of_type(out.template, "AWS::SecretsManager::Secret"):
        arn = sm.create_secret(Name=f"{STACK}/{logical_id}", SecretString=values[logical_id])["ARN"]
        out.refs[logical_id] = arn
