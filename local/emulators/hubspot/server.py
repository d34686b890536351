"""Start the HubSpot emulator: in-process on a thread (tests, the local stack) or in the foreground."""

from __future__ import annotations

from typing import Any

from flask import Flask

from local.emulators.common import EmulatorCore, create_app
from local.emulators.common.server import EmulatorHandle, with_overrides

from .app import HubSpotEmulator
from .config import HubSpotConfig


def create_hubspot_app(config: HubSpotConfig | None = None) -> tuple[Flask, HubSpotEmulator]:
    config = config or HubSpotConfig()
    core = EmulatorCore("hubspot", seed=config.seed)
    emulator = HubSpotEmulator(core, config)
    return create_app(core, emulator), emulator


class HubSpotEmulatorHandle(EmulatorHandle):
    """A running emulator (see EmulatorHandle); `.url` is HUBSPOT_API_URL for the bridge, and `.seed()`
    returns {"refs": {type: {ref: id}}, "pipelines": {label: id}}."""

    config: HubSpotConfig

    def __init__(self, config: HubSpotConfig) -> None:
        super().__init__(config, *create_hubspot_app(config))

    @property
    def token(self) -> str:
        return self.config.app_token

    @property
    def client_secret(self) -> str:
        return self.config.client_secret


def start_hubspot_emulator(port: int = 0, host: str = "127.0.0.1", config: HubSpotConfig | None = None,
                           **overrides: Any) -> HubSpotEmulatorHandle:
    """Run the emulator on a thread (port 0: an ephemeral one).

    Without `config`, settings come from the environment (HubSpotConfig.from_env: the local stack's
    credentials, HUBSPOT_WEBHOOK_URL); pass HubSpotConfig() for hermetic defaults. Overrides: any
    HubSpotConfig field (webhook_url, app_token, client_secret, ...), plus max_per_interval, interval_ms,
    daily (rate limits) and retry_schedule, retry_scale, webhook_timeout, batch_delay (webhook delivery).
    """
    return HubSpotEmulatorHandle(with_overrides(
        config or HubSpotConfig.from_env(), overrides, host=host, port=port,
        limits=("max_per_interval", "interval_ms", "daily"), hooks=("retry_schedule", "retry_scale", "batch_delay")))
