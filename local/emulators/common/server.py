"""Run a WSGI app on a background thread (tests) or in the foreground (standalone)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

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
