"""Start the Pipedrive emulator: in-process on a thread (tests) or in the foreground (standalone)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from local.emulators.common import EmulatorCore, create_app
from local.emulators.common.server import EmulatorHandle, with_overrides

from .app import PipedriveEmulator
from .config import PipedriveConfig


def create_pipedrive_app(config: PipedriveConfig | None = None) -> tuple[Flask, PipedriveEmulator]:
    config = config or PipedriveConfig()
    core = EmulatorCore("pipedrive", seed=config.seed)
    emulator = PipedriveEmulator(core, config)
    return create_app(core, emulator), emulator


class PipedriveEmulatorHandle(EmulatorHandle):
    """A running emulator (see EmulatorHandle); `.url` is PIPEDRIVE_API_URL for the bridge."""

    config: PipedriveConfig

    def __init__(self, config: PipedriveConfig) -> None:
        super().__init__(config, *create_pipedrive_app(config))

    @property
    def token(self) -> str:
        return self.config.api_token


def start_pipedrive_emulator(port: int = 0, host: str = "127.0.0.1", config: PipedriveConfig | None = None,
                             **overrides: Any) -> PipedriveEmulatorHandle:
    """Run the emulator on a thread (port 0: an ephemeral one).

    Without `config`, settings come from the environment (PipedriveConfig.from_env: the local stack's
    credentials and PIPEDRIVE_WEBHOOK_URL); pass PipedriveConfig() for hermetic defaults. Overrides: any
    PipedriveConfig field (webhook_url, api_token, ...), plus burst_limit, burst_window, daily_budget
    (rate limits) and retry_schedule, retry_scale, webhook_timeout (webhook delivery)."""
    return PipedriveEmulatorHandle(with_overrides(
        config or PipedriveConfig.from_env(), overrides, host=host, port=port,
        limits=("burst_limit", "burst_window", "daily_budget"), hooks=("retry_schedule", "retry_scale")))
