"""What every emulator shares: one lock, the movable clock, the fault injector, the webhook worker.

An emulator is an `EmulatorPlugin`: it registers its routes on the Flask app, and says how to dump
and reset its own state. `create_app` (app.py) adds the control endpoints around it.
"""

from __future__ import annotations

import threading
from typing import Protocol

from flask import Flask

from .clock import Clock
from .faults import FaultInjector
from .webhooks import WebhookDispatcher


class EmulatorCore:
    def __init__(self, name: str, seed: int = 0) -> None:
        self.name = name
        # One re-entrant lock guards every piece of state, so a request sees a consistent world.
        self.lock = threading.RLock()
        self.clock = Clock(self.lock)
        self.faults = FaultInjector(self.lock, seed)
        self.webhooks: WebhookDispatcher | None = None

    def start(self) -> None:
        if self.webhooks is not None:
            self.webhooks.start()

    def stop(self) -> None:
        self.faults.release_sleepers()
        if self.webhooks is not None:
            self.webhooks.stop()


class EmulatorPlugin(Protocol):
    """The part of an emulator that is specific to the service it imitates."""

    name: str
    # Paths under which the plugin applies faults itself (e.g. after auth and rate limiting),
    # so the generic before/after hooks leave them alone.
    self_managed_fault_prefixes: tuple[str, ...]

    def register(self, app: Flask) -> None: ...

    def snapshot(self) -> dict: ...

    def reset(self) -> None: ...
