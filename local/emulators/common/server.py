"""Run a WSGI app on a background thread (tests) or in the foreground (standalone); the handle of a
plugin emulator, and its settings with keyword overrides."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Self

from werkzeug.serving import make_server

logger = logging.getLogger(__name__)


class ServerHandle:
    """A running server: `.url`, `.port`, `.stop()`; also a context manager."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, on_stop: Callable[[], None] | None = None) -> None:
        self.app = app
        self.host = host
        self._server = make_server(host, port, app, threaded=True)
        self.port = self._server.server_port
        self._on_stop = on_stop
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"emulator-{self.port}", daemon=True
        )
        self._thread.start()
        logger.info("emulator listening on %s", self.url)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._on_stop is not None:
            self._on_stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait(self) -> None:
        """Block until the server stops (standalone use)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmulatorHandle:
    """A running plugin emulator (Pipedrive, HubSpot): `.url`, `.port`, `.stop()`, `.wait()`, `.state()`,
    `.seed()`, `.wait_for_webhooks()`; also a context manager.

    `app` and `emulator` come from the emulator's create_*_app(config); the emulator has `.core`,
    `.store`, `.engine` (its webhook engine), `.snapshot()` and `.seed(body)`.
    """

    def __init__(self, config: Any, app: Any, emulator: Any) -> None:
        self.config = config
        self.app, self.emulator = app, emulator
        self.core = emulator.core
        self.store = emulator.store
        self.webhooks = emulator.engine
        self.core.start()
        try:
            self._server = ServerHandle(app, host=config.host, port=config.port, on_stop=self.core.stop)
        except BaseException:
            self.core.stop()
            raise

    @property
    def url(self) -> str:
        """The API's base URL (these emulators serve their API at the root, as the real services do)."""
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

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
                "latency": self.core.faults.latency(),
                "webhooks": self.webhooks.snapshot(),
                **self.emulator.snapshot(),
            }

    def seed(self, body: dict) -> dict:
        """POST /_emulator/seed without HTTP."""
        with self.core.lock:
            return self.emulator.seed(body)

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        return self.webhooks.wait_idle(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def with_overrides[C](config: C, overrides: dict[str, Any], *, host: str, port: int, limits: tuple[str, ...],
                      hooks: tuple[str, ...]) -> C:
    """`config` on host:port with keyword overrides: the names in `limits` go to config.limits, those in
    `hooks` (and webhook_timeout, as timeout) to config.webhooks, the rest to config itself."""
    overrides = dict(overrides)
    limit_values = {k: overrides.pop(k) for k in limits if k in overrides}
    hook_values = {k: overrides.pop(k) for k in hooks if k in overrides}
    if "webhook_timeout" in overrides:
        hook_values["timeout"] = overrides.pop("webhook_timeout")
    return replace(config, host=host, port=port,  # type: ignore[type-var]
                   limits=replace(config.limits, **limit_values),  # type: ignore[attr-defined]
                   webhooks=replace(config.webhooks, **hook_values),  # type: ignore[attr-defined]
                   **overrides)


def run_in_foreground(handle: Any, description: str) -> None:
    """`python -m local.emulators.<name>`: log where it listens, serve until Ctrl-C or SIGTERM, stop."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s")
    logger.info("%s on %s", description, handle.url)
    signal.signal(signal.SIGTERM, lambda *_: handle.stop())
    try:
        handle.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
