"""Settings of the HubSpot emulator, from the environment with the design's local defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from local.emulators.common.config import id_pairs, optional_url, webhook_delivery_from_env
from local.emulators.common.webhooks import DeliveryConfig

DEFAULT_PORT = 4030
DEFAULT_APP_TOKEN = "local-hubspot-token"
DEFAULT_CLIENT_SECRET = "local-hubspot-secret"
# Another integration installed in the same account (e.g. a quoting tool): its writes are changeSource
# INTEGRATION too, but with its own app id, so the bridge must not mistake them for its own.
DEFAULT_OTHER_APP_TOKEN = "local-hubspot-other-app-token"

PORTAL_ID = 46_000_123
APP_ID = 3_100_456
OTHER_APP_ID = 3_100_789
SALES_USER_ID = 71_000_001
SALES_OWNER_ID = "81000001"

# "Up to 10 retries over 24 hours", spread out with growing delays (HubSpot publishes no exact table;
# these add up to 23 h 51 min). Retries are measured on the emulator clock.
HUBSPOT_RETRY_SCHEDULE: tuple[float, ...] = (
    60, 300, 900, 1800, 3600, 7200, 10800, 14400, 21600, 25200,
)


@dataclass
class RateLimitConfig:
    # A private app on Professional: 190 requests per rolling 10 s, 625,000 a day per account.
    max_per_interval: int = 190
    interval_ms: int = 10_000
    daily: int = 625_000


@dataclass
class WebhookConfig(DeliveryConfig):
    retry_schedule: tuple[float, ...] = HUBSPOT_RETRY_SCHEDULE
    # An answer slower than this counts as a failure and is retried.
    timeout: float = 5.0
    max_events_per_request: int = 100
    # Events raised within this real-time window go out in one request.
    batch_delay: float = 0.01
    senders: int = 4


@dataclass
class HubSpotConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    app_token: str = DEFAULT_APP_TOKEN
    client_secret: str = DEFAULT_CLIENT_SECRET
    # token -> app id of the other integrations (each has its own rolling window, as HubSpot counts per app).
    other_tokens: dict[str, int] = field(default_factory=lambda: {DEFAULT_OTHER_APP_TOKEN: OTHER_APP_ID})
    portal_id: int = PORTAL_ID
    app_id: int = APP_ID
    company_currency: str = "GBP"
    time_zone: str = "Europe/London"
    # Where webhooks go (None: nowhere until POST /_emulator/webhooks {"url": ...}).
    webhook_url: str | None = None
    limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    seed: int = 0

    @property
    def tokens(self) -> dict[str, int]:
        """Every accepted token and the app it belongs to (the bridge's own last, so it wins)."""
        return {**self.other_tokens, self.app_token: self.app_id}

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> HubSpotConfig:
        env = dict(os.environ if env is None else env)
        config = cls()
        config.port = int(env.get("HUBSPOT_EMULATOR_PORT", DEFAULT_PORT))
        config.app_token = env.get("HUBSPOT_APP_TOKEN") or config.app_token
        config.client_secret = env.get("HUBSPOT_CLIENT_SECRET") or config.client_secret
        config.other_tokens.update(id_pairs(env.get("HUBSPOT_EMULATOR_OTHER_TOKENS")))
        config.webhook_url = optional_url(env.get("HUBSPOT_WEBHOOK_URL"))
        limits = config.limits
        limits.max_per_interval = int(env.get("HUBSPOT_EMULATOR_RATE_LIMIT", limits.max_per_interval))
        limits.daily = int(env.get("HUBSPOT_EMULATOR_DAILY_LIMIT", limits.daily))
        webhook_delivery_from_env(config.webhooks, env, "HUBSPOT_EMULATOR_")
        return config
