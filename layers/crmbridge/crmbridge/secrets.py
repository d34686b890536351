"""Secrets Manager, read by ARN with a short cache; values are never logged."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, ConfigDict, SecretStr

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
    try:
        raw: Any = parameters.get_secret(arn, transform="json", max_age=max_age)
        return model.model_validate(raw)
    except parameters.exceptions.TransformParameterError as exc:
        raise ConfigError(f"secret {model.__name__} is not valid JSON") from exc
    except ValueError as exc:
        raise ConfigError(f"secret {model.__name__} lacks a field: {exc.__class__.__name__}") from exc
