"""Fixtures for the Xero emulator tests: one server per session, reset before every test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

# `import local...` from the repository root, however pytest was started.
ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from local.emulators.xero import XeroConfig, XeroEmulatorHandle, start_xero_emulator  # noqa: E402

CLIENT_ID = "local-client-id"
CLIENT_SECRET = "local-client-secret"
WEBHOOK_KEY = "local-xero-webhook-key"
REDIRECT_URI = "http://127.0.0.1:3000/oauth/xero/callback"
SCOPES = (
    "openid profile email offline_access accounting.contacts accounting.transactions accounting.settings"
)


@pytest.fixture(scope="session")
def xero_server() -> Iterator[XeroEmulatorHandle]:
    # Explicit defaults: the suite must not depend on the developer's environment.
    handle = start_xero_emulator(port=0, config=XeroConfig(webhook_url=None))
    yield handle
    handle.stop()


@pytest.fixture
def xero(xero_server: XeroEmulatorHandle) -> XeroEmulatorHandle:
    """The emulator, forgotten everything (state, faults, clock, limits, webhook settings)."""
    httpx.post(f"{xero_server.url}/_emulator/reset").raise_for_status()
    return xero_server


@pytest.fixture
def http(xero: XeroEmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=xero.url, timeout=10) as client:
        yield client


class Identity:
    """The OAuth dance, as the bridge's connect flow would do it."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def authorize(self, scope: str = SCOPES, state: str = "st4te") -> httpx.Response:
        return self.http.get("/identity/connect/authorize", params={
            "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
            "scope": scope, "state": state,
        })

    def code(self, scope: str = SCOPES) -> str:
        response = self.authorize(scope)
        assert response.status_code == 302, response.text
        return parse_qs(urlparse(response.headers["location"]).query)["code"][0]

    def exchange(self, code: str, secret: str = CLIENT_SECRET) -> httpx.Response:
        return self.http.post("/connect/token", auth=(CLIENT_ID, secret), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        })

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.http.post("/connect/token", auth=(CLIENT_ID, CLIENT_SECRET), data={
            "grant_type": "refresh_token", "refresh_token": refresh_token,
        })

    def tokens(self, scope: str = SCOPES) -> dict:
        response = self.exchange(self.code(scope))
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def identity(http: httpx.Client) -> Identity:
    return Identity(http)


class Api:
    """Accounting API calls with a bearer token and the tenant header."""

    def __init__(self, http: httpx.Client, handle: XeroEmulatorHandle, access_token: str) -> None:
        self.http = http
        self.handle = handle
        self.tenant_id = handle.tenant_id
        self.access_token = access_token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}", "xero-tenant-id": self.tenant_id,
                "Accept": "application/json", **(extra or {})}

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, f"/api.xro/2.0{path}", headers=self.headers(headers), **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, json=body, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, json=body, **kwargs)

    # conveniences ------------------------------------------------------------------------------
    def contact(self, name: str = "Acme Ltd", **fields: Any) -> dict:
        response = self.put("/Contacts", {"Contacts": [{"Name": name, **fields}]})
        assert response.status_code == 200, response.text
        return response.json()["Contacts"][0]

    def invoice(self, contact_id: str, lines: list[dict] | None = None, **fields: Any) -> dict:
        body = {
            "Type": "ACCREC",
            "Contact": {"ContactID": contact_id},
            "LineAmountTypes": "Exclusive",
            "LineItems": lines or [{"Description": "Consulting", "Quantity": 1, "UnitAmount": 100,
                                    "AccountCode": "200", "TaxType": "OUTPUT2"}],
            **fields,
        }
        response = self.put("/Invoices", {"Invoices": [body]}, params={"summarizeErrors": "false"})
        assert response.status_code == 200, response.text
        element = response.json()["Invoices"][0]
        assert not element.get("HasErrors"), element
        return element


@pytest.fixture
def tokens(identity: Identity) -> dict:
    return identity.tokens()


@pytest.fixture
def api(http: httpx.Client, xero: XeroEmulatorHandle, tokens: dict) -> Api:
    return Api(http, xero, tokens["access_token"])


@pytest.fixture
def new_api(http: httpx.Client, xero: XeroEmulatorHandle, identity: Identity):
    """A fresh connect flow at the emulator's current time (access tokens last 30 emulated minutes)."""

    def make() -> Api:
        return Api(http, xero, identity.tokens()["access_token"])

    return make


def control(handle: XeroEmulatorHandle, path: str, body: Any = None, method: str = "POST") -> Any:
    response = httpx.request(method, f"{handle.url}/_emulator/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def emulator_control(xero: XeroEmulatorHandle):
    def call(path: str, body: Any = None, method: str = "POST") -> Any:
        return control(xero, path, body, method)

    return call


# A tiny webhook receiver -----------------------------------------------------------------------------

class Receiver:
    """Records every POST; answers 200 (empty body) to a valid x-xero-signature and 401 otherwise,
    as the bridge's endpoint must. `fail_next` makes the next N requests answer 500."""

    def __init__(self, key: str = WEBHOOK_KEY) -> None:
        self.key = key
        self.requests: list[dict] = []
        self.fail_next = 0
        self.always_200 = False
        self.event = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                signature = self.headers.get("x-xero-signature", "")
                expected = base64.b64encode(hmac.new(receiver.key.encode(), body, hashlib.sha256).digest()).decode()
                valid = hmac.compare_digest(signature, expected)
                receiver.requests.append({"body": body, "signature": signature, "valid": valid})
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    status = 500
                elif receiver.always_200:
                    status = 200
                else:
                    status = 200 if valid else 401
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.event.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/xero"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()
