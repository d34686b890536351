"""Start the HubSpot emulator: in-process on a thread (tests, the local stack) or in the foreground."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Flask

from local.emulators.common import EmulatorCore, ServerHandle, create_app

from .app import HubSpotEmulator
from .config import HubSpotConfig


def create_hubspot_app(config: HubSpotConfig | None = None) -> tuple[Flask, HubSpotEmulator]:
    config = config or HubSpotConfig()
    core = EmulatorCore("hubspot", seed=config.seed)
    emulator = HubSpotEmulator(core, config)
    return create_app(core, emulator), emulator


class HubSpotEmulatorHandle:
    """A running emulator: `.url`, `.port`, `.stop()`, `.state()`, `.seed()`; also a context manager."""

    def __init__(self, config: HubSpotConfig) -> None:
        self.config = config
        self.app, self.emulator = create_hubspot_app(config)
        self.core = self.emulator.core
        self.store = self.emulator.store
        self.webhooks = self.emulator.engine
        self.core.start()
        try:
            self._server = ServerHandle(self.app, host=config.host, port=config.port, on_stop=self.core.stop)
        except BaseException:
            self.core.stop()
            raise

    @property
    def url(self) -> str:
        """HUBSPOT_API_URL for the bridge (the emulator serves the API at its root, as api.hubapi.com does)."""
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def token(self) -> str:
        return self.config.app_token

    @property
    def client_secret(self) -> str:
        return self.config.client_secret

    def stop(self) -> None:
        self._server.stop()

    def wait(self) -> None:
        self._server.wait()

    def state(self) -> dict:
        """The same document as GET /_emulator/state, without HTTP."""
        with self.core.lock:
            return {
                "emulator": self.core.name,
                "clock": self.core.clock.snapshot(),
                "faults": self.core.faults.snapshot(),
                "webhooks": self.webhooks.snapshot(),
                **self.emulator.snapshot(),
            }

    def seed(self, body: dict) -> dict:
        """POST /_emulator/seed without HTTP: returns {"refs": {type: {ref: id}}, "pipelines": {label: id}}."""
        with self.core.lock:
            return self.emulator.seed(body)

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        return self.webhooks.wait_idle(timeout)

    def __enter__(self) -> HubSpotEmulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_hubspot_emulator(port: int = 0, host: str = "127.0.0.1", config: HubSpotConfig | None = None,
                           **overrides: Any) -> HubSpotEmulatorHandle:
    """Run the emulator on a thread (port 0: an ephemeral one).

    Without `config`, settings come from the environment (HubSpotConfig.from_env: the local stack's
    credentials, HUBSPOT_WEBHOOK_URL); pass HubSpotConfig() for hermetic defaults. Overrides: any
    HubSpotConfig field (webhook_url, app_token, client_secret, ...), plus max_per_interval, interval_ms,
    daily (rate limits) and retry_schedule, retry_scale, webhook_timeout, batch_delay (webhook delivery).
    """
    config = replace(config or HubSpotConfig.from_env(), host=host, port=port)
    limits = {k: overrides.pop(k) for k in ("max_per_interval", "interval_ms", "daily") if k in overrides}
    hooks = {k: overrides.pop(k) for k in ("retry_schedule", "retry_scale", "batch_delay") if k in overrides}
    if "webhook_timeout" in overrides:
        hooks["timeout"] = overrides.pop("webhook_timeout")
    config = replace(config, limits=replace(config.limits, **limits), webhooks=replace(config.webhooks, **hooks),
                     **overrides)
    return HubSpotEmulatorHandle(config)
