"""Secrets Manager, read by ARN with a short cache; values are never logged."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from crmbridge.errors import ConfigError


class _Secret(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class XeroCredentials(_Secret):
    client_id: str
    client_secret: SecretStr


class XeroWebhookKey(_Secret):
    webhook_key: SecretStr


class PipedriveSecret(_Secret):
    api_token: SecretStr
    webhook_user: str
    webhook_password: SecretStr


class HubSpotSecret(_Secret):
    client_secret: SecretStr
    app_token: SecretStr


def load_secret[T: _Secret](model: type[T], arn: str, *, max_age: int = 300) -> T:
    """The secret's fields, validated. A malformed secret raises a ConfigError that names the secret and
    the keys at fault, never a value: the parse errors are not chained (`from None`), since pydantic's
    and json's messages quote the input, and a traceback would print the start of the secret."""
    try:
        raw: Any = parameters.get_secret(arn, transform="json", max_age=max_age)
    except parameters.exceptions.TransformParameterError:
        raise ConfigError(f"secret {model.__name__} ({_name(arn)}) is not valid JSON: store a JSON object "
                          f"with {_keys(model)}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in error['loc']) or '(the whole value)'}: {error['type']}"
                             for error in exc.errors(include_input=False, include_url=False))
        raise ConfigError(f"secret {model.__name__} ({_name(arn)}) is malformed ({problems}): store a JSON "
                          f"object with {_keys(model)}") from None


def _keys(model: type[_Secret]) -> str:
    return ", ".join(model.model_fields)


def _name(arn: str) -> str:
    """The secret's name from its ARN (arn:aws:secretsmanager:region:account:secret:name-suffix)."""
    return arn.rsplit(":", 1)[-1]
