"""Fixtures: a Pipedrive emulator on an ephemeral port, an API client, and a tiny webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from local.emulators.pipedrive import PipedriveConfig, PipedriveEmulatorHandle, start_pipedrive_emulator


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


@dataclass
class Receiver:
    """Records every POST; answers with the queued statuses first, then `default_status`."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
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
                    raise AssertionError(f"expected {count} webhook(s), got {len(self.requests)}")
                self.cond.wait(remaining)
            return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            state.record(Received(self.path, dict(self.headers), json.loads(raw), time.monotonic()))
            status = state.next_status()
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/webhooks/pipedrive"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def _running() -> Iterator[PipedriveEmulatorHandle]:
    # One server for the suite (stopping one costs the 0.5 s poll of serve_forever); reset per test.
    with start_pipedrive_emulator(config=PipedriveConfig()) as handle:
        yield handle


@pytest.fixture
def pd(_running: PipedriveEmulatorHandle) -> PipedriveEmulatorHandle:
    """A freshly reset emulator: no data, real time, default limits, no webhooks."""
    response = httpx.post(f"{_running.url}/_emulator/reset", json={})
    assert response.json() == {"reset": True}
    return _running


@pytest.fixture
def api(pd: PipedriveEmulatorHandle) -> Iterator[httpx.Client]:
    """The bridge's view: the integration user's API token."""
    with httpx.Client(base_url=pd.url, headers={"x-api-token": pd.token}, timeout=5) as client:
        yield client


@pytest.fixture
def control(pd: PipedriveEmulatorHandle) -> Iterator[httpx.Client]:
    """Control endpoints and the salesperson's "app" actions."""
    with httpx.Client(base_url=f"{pd.url}/_emulator", timeout=5) as client:
        yield client


def register_webhook(api: httpx.Client, url: str, **extra: Any) -> dict:
    body = {"subscription_url": url, "event_action": "*", "event_object": "deal", "name": "bridge",
            "http_auth_user": "bridge", "http_auth_password": "s3cret-webhook", "version": "2.0", **extra}
    response = api.post("/v1/webhooks", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]
