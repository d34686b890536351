"""Settings of the Pipedrive emulator, from the environment with the design's local defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from local.emulators.common.config import id_pairs, is_off, optional_url, webhook_delivery_from_env
from local.emulators.common.webhooks import DeliveryConfig

DEFAULT_PORT = 4020
DEFAULT_TOKEN = "local-pipedrive-token"
# The salesperson's own API token: for demos and tests that read "as a person", so they do not spend
# the integration token's burst window (limits are per token; the daily budget is per company).
DEFAULT_SALES_TOKEN = "local-pipedrive-sales-token"
DEFAULT_WEBHOOK_USER = "bridge"
DEFAULT_WEBHOOK_PASSWORD = "local-webhook-password"

INTEGRATION_USER_ID = 2
SALESPERSON_USER_ID = 1

# Pipedrive's webhook retry policy: a failed first attempt is retried 3 more times, after 3, 30 and 150 s.
PIPEDRIVE_RETRY_SCHEDULE: tuple[float, ...] = (3.0, 30.0, 150.0)


@dataclass
class RateLimitConfig:
    # Burst limit per token over a rolling window (API token: 20/40/100/120 per 2 s by plan).
    burst_limit: int = 40
    burst_window: float = 2.0
    # Daily token budget per company (30,000 x plan multiplier x seats).
    daily_budget: int = 30000


@dataclass
class WebhookConfig(DeliveryConfig):
    retry_schedule: tuple[float, ...] = PIPEDRIVE_RETRY_SCHEDULE
    # Success is any 2xx within this many seconds.
    timeout: float = 10.0
    # Ten first-attempt failures ban the webhook for 30 minutes.
    ban_threshold: int = 10
    ban_seconds: float = 1800.0
    # A webhook with no successful delivery for 3 days is deleted.
    delete_after_seconds: float = 3 * 24 * 3600.0
    senders: int = 8


@dataclass
class PipedriveConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_token: str = DEFAULT_TOKEN
    sales_token: str | None = DEFAULT_SALES_TOKEN
    # Extra tokens: token -> user id.
    extra_tokens: dict[str, int] = field(default_factory=dict)
    company_id: int = 7001234
    company_domain: str = "local-bridge"
    company_name: str = "Local Bridge Ltd"
    default_currency: str = "GBP"
    # Default webhook registered at start and after every reset (None: none).
    webhook_url: str | None = None
    webhook_user: str | None = DEFAULT_WEBHOOK_USER
    webhook_password: str | None = DEFAULT_WEBHOOK_PASSWORD
    webhook_event_action: str = "*"
    webhook_event_object: str = "deal"
    limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    seed: int = 0

    @property
    def tokens(self) -> dict[str, int]:
        tokens = {self.sales_token: SALESPERSON_USER_ID} if self.sales_token else {}
        return {**tokens, **self.extra_tokens, self.api_token: INTEGRATION_USER_ID}

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> PipedriveConfig:
        env = dict(os.environ if env is None else env)
        config = cls()
        config.port = int(env.get("PIPEDRIVE_EMULATOR_PORT", DEFAULT_PORT))
        config.api_token = env.get("PIPEDRIVE_API_TOKEN") or config.api_token
        sales = env.get("PIPEDRIVE_SALES_API_TOKEN")
        if sales is not None:
            config.sales_token = None if is_off(sales) else sales
        config.extra_tokens.update(id_pairs(env.get("PIPEDRIVE_EMULATOR_EXTRA_TOKENS")))
        config.webhook_url = optional_url(env.get("PIPEDRIVE_WEBHOOK_URL"))
        config.webhook_user = env.get("PIPEDRIVE_WEBHOOK_USER", config.webhook_user)
        config.webhook_password = env.get("PIPEDRIVE_WEBHOOK_PASSWORD", config.webhook_password)
        config.webhook_event_action = env.get("PIPEDRIVE_WEBHOOK_EVENT_ACTION", config.webhook_event_action)
        config.webhook_event_object = env.get("PIPEDRIVE_WEBHOOK_EVENT_OBJECT", config.webhook_event_object)
        limits = config.limits
        limits.burst_limit = int(env.get("PIPEDRIVE_EMULATOR_BURST_LIMIT", limits.burst_limit))
        limits.burst_window = float(env.get("PIPEDRIVE_EMULATOR_BURST_WINDOW", limits.burst_window))
        limits.daily_budget = int(env.get("PIPEDRIVE_EMULATOR_DAILY_BUDGET", limits.daily_budget))
        webhook_delivery_from_env(config.webhooks, env, "PIPEDRIVE_EMULATOR_")
        return config
