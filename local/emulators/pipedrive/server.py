"""Start the Pipedrive emulator: in-process on a thread (tests) or in the foreground (standalone)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Flask

from local.emulators.common import EmulatorCore, ServerHandle, create_app

from .app import PipedriveEmulator
from .config import PipedriveConfig


def create_pipedrive_app(config: PipedriveConfig | None = None) -> tuple[Flask, PipedriveEmulator]:
    config = config or PipedriveConfig()
    core = EmulatorCore("pipedrive", seed=config.seed)
    emulator = PipedriveEmulator(core, config)
    return create_app(core, emulator), emulator


class PipedriveEmulatorHandle:
    """A running emulator: `.url`, `.port`, `.stop()`, `.state()`, `.seed()`; also a context manager."""

    def __init__(self, config: PipedriveConfig) -> None:
        self.config = config
        self.app, self.emulator = create_pipedrive_app(config)
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
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def token(self) -> str:
        return self.config.api_token

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
        with self.core.lock:
            return self.emulator.seed(body)

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        return self.webhooks.wait_idle(timeout)

    def __enter__(self) -> PipedriveEmulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_pipedrive_emulator(port: int = 0, host: str = "127.0.0.1", config: PipedriveConfig | None = None,
                             **overrides: Any) -> PipedriveEmulatorHandle:
    """Run the emulator on a thread (port 0: an ephemeral one).

    Without `config`, settings come from the environment (PipedriveConfig.from_env: the local stack's
    credentials and PIPEDRIVE_WEBHOOK_URL); pass PipedriveConfig() for hermetic defaults. Overrides: any
    PipedriveConfig field (webhook_url, api_token, ...), plus burst_limit, burst_window, daily_budget
    (rate limits) and retry_schedule, retry_scale, webhook_timeout (webhook delivery)."""
    config = replace(config or PipedriveConfig.from_env(), host=host, port=port)
    limits = {k: overrides.pop(k) for k in ("burst_limit", "burst_window", "daily_budget") if k in overrides}
    hooks = {k: overrides.pop(k) for k in ("retry_schedule", "retry_scale") if k in overrides}
    if "webhook_timeout" in overrides:
        hooks["timeout"] = overrides.pop("webhook_timeout")
    config = replace(config, limits=replace(config.limits, **limits), webhooks=replace(config.webhooks, **hooks),
                     **overrides)
    return PipedriveEmulatorHandle(config)
