"""Settings of the Xero emulator, from the environment with the design's local defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from local.emulators.common import DEFAULT_RETRY_SCHEDULE
from local.emulators.common.config import float_list

DEFAULT_PORT = 4010
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:3000/webhooks/xero"


@dataclass
class RateLimits:
    """Xero's published limits (developer.xero.com/documentation/guides/oauth2/limits)."""

    minute: int = 60
    day: int = 5000
    concurrent: int = 5
    app_minute: int = 10000


@dataclass
class XeroConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    client_id: str = "local-client-id"
    client_secret: str = "local-client-secret"
    webhook_key: str = "local-xero-webhook-key"
    # None: no webhooks are sent.
    webhook_url: str | None = DEFAULT_WEBHOOK_URL
    webhook_retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    webhook_batch_delay: float = 0.005
    webhook_timeout: float = 5.0
    access_token_ttl: int = 1800
    refresh_grace: int = 1800
    refresh_idle_expiry: int = 60 * 24 * 3600
    auth_code_ttl: int = 300
    limits: RateLimits = field(default_factory=RateLimits)
    # Refuse calls whose token lacks a scope for the resource (403), as Xero does.
    enforce_scopes: bool = True
    # Refuse invoice numbers sent as JSON strings ("UnitAmount": "120"; the spec types them `number`).
    strict_numbers: bool = True
    # How long an Idempotency-Key is remembered. Xero does not document it; integrators report about
    # 6 minutes. Short on purpose: a bridge that relies on the key alone must fail its tests.
    idempotency_ttl: int = 6 * 60
    # Public base URL used in webhook resourceUrl; defaults to the server's own URL.
    public_url: str | None = None
    demo_org_name: str = "Demo Company (UK)"
    seed: int = 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> XeroConfig:
        env = dict(os.environ if env is None else env)
        config = cls()
        config.port = int(env.get("XERO_EMULATOR_PORT", DEFAULT_PORT))
        config.client_id = env.get("XERO_CLIENT_ID", config.client_id)
        config.client_secret = env.get("XERO_CLIENT_SECRET", config.client_secret)
        config.webhook_key = env.get("XERO_WEBHOOK_KEY", config.webhook_key)
        url = env.get("XERO_WEBHOOK_URL", DEFAULT_WEBHOOK_URL).strip()
        config.webhook_url = None if url.lower() in ("", "none", "off") else url
        if env.get("XERO_EMULATOR_WEBHOOK_RETRY_SCHEDULE"):
            config.webhook_retry_schedule = float_list(env["XERO_EMULATOR_WEBHOOK_RETRY_SCHEDULE"])
        if env.get("XERO_EMULATOR_PUBLIC_URL"):
            config.public_url = env["XERO_EMULATOR_PUBLIC_URL"].rstrip("/")
        limits = config.limits
        limits.minute = int(env.get("XERO_EMULATOR_MINUTE_LIMIT", limits.minute))
        limits.day = int(env.get("XERO_EMULATOR_DAY_LIMIT", limits.day))
        limits.concurrent = int(env.get("XERO_EMULATOR_CONCURRENT_LIMIT", limits.concurrent))
        limits.app_minute = int(env.get("XERO_EMULATOR_APP_MINUTE_LIMIT", limits.app_minute))
        config.enforce_scopes = env.get("XERO_EMULATOR_ENFORCE_SCOPES", "1").lower() not in ("0", "false", "no")
        config.strict_numbers = env.get("XERO_EMULATOR_STRICT_NUMBERS", "1").lower() not in ("0", "false", "no")
        return config
