"""A tiny HTTP server that records the webhooks an emulator sends: raw bytes and headers of every POST
(signatures need them), answered with queued statuses, optionally after a delay."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    at: float  # time.monotonic() when it arrived

    @cached_property
    def body(self) -> Any:
        return json.loads(self.raw)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The body as a list of events (HubSpot sends arrays)."""
        return self.body

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Receiver:
    """Records every POST; answers with the queued statuses first, then `default_status`, after `delay` s."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    delay: float = 0.0
    cond: threading.Condition = field(default_factory=threading.Condition)

    def next_status(self) -> int:
        with self.cond:
            return self.statuses.pop(0) if self.statuses else self.default_status

    def record(self, item: Received) -> None:
        with self.cond:
            self.requests.append(item)
            self.cond.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} webhook request(s), got {len(self.requests)}")
                self.cond.wait(remaining)
            return list(self.requests)

    def events(self) -> list[dict[str, Any]]:
        return [event for r in self.requests for event in r.events]


@contextmanager
def receiving(path: str) -> Iterator[Receiver]:
    """A Receiver listening on an ephemeral port at `path` until the block ends."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.record(Received("POST", self.path, dict(self.headers), raw, time.monotonic()))
            if state.delay:
                time.sleep(state.delay)
            self.send_response(state.next_status())
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}{path}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
