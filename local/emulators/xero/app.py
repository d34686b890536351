"""The Xero emulator: wiring, Xero-specific control endpoints, and how to start it.

In-process (tests):
    handle = start_xero_emulator(port=0)        # ephemeral port, webhooks off unless webhook_url given
    handle.url, handle.api_url, handle.identity_url, handle.connections_url, handle.stop()

Xero-specific control endpoints (besides the shared ones in common/app.py):
  GET  /_emulator/orgs                          the organisations and whether the app is connected
  POST /_emulator/orgs        {"name", "base_currency"?, "connect"?: true, "tenant_id"?} -> the new org
  POST /_emulator/limits      {"minute"?, "day"?, "concurrent"?, "app_minute"?} -> the limits now
  POST /_emulator/config      {"idempotency_ttl"?, "enforce_scopes"?, "access_token_ttl"?,
                               "refresh_grace"?, "refresh_idle_expiry"?} -> the values now
  POST /_emulator/webhooks/intent-to-receive    {"url"?} -> {"passed", "checks": [...]}
"""

from __future__ import annotations

import copy
import logging
import random
from dataclasses import dataclass, field

from flask import Flask, Response

from local.emulators.common import (
    EmulatorCore,
    ServerHandle,
    WebhookDispatcher,
    create_app,
    json_response,
    request_json,
)

from .accounting import API_PREFIX, AccountingApi
from .config import XeroConfig
from .dates import webhook_event_date
from .identity import IdentityService, register_identity_routes
from .limits import RateLimiter
from .store import XeroStore
from .webhooks import XeroWebhookBatcher, intent_to_receive

logger = logging.getLogger(__name__)

TUNABLE = ("idempotency_ttl", "enforce_scopes", "access_token_ttl", "refresh_grace", "refresh_idle_expiry",
           "auth_code_ttl")


class XeroEmulator:
    """The emulator plugin: state, routes, and webhook publishing."""

    name = "xero"
    self_managed_fault_prefixes = (API_PREFIX,)

    def __init__(self, config: XeroConfig | None = None) -> None:
        self.config = config or XeroConfig.from_env()
        self._initial = copy.deepcopy(self.config)
        self.base_url = f"http://{self.config.host}:{self.config.port}"
        self.core = EmulatorCore("xero", seed=self.config.seed)
        self.store = XeroStore(self.config, self.core.clock)
        self.limiter = RateLimiter(copy.deepcopy(self.config.limits), self.core.clock)
        self.batcher = XeroWebhookBatcher(lambda: self.config.webhook_key, seed=self.config.seed)
        self.core.webhooks = WebhookDispatcher(
            self.core.lock,
            self.core.clock,
            self.batcher.build,
            name="xero-webhooks",
            url=self.config.webhook_url,
            retry_schedule=self.config.webhook_retry_schedule,
            batch_delay=self.config.webhook_batch_delay,
            timeout=self.config.webhook_timeout,
        )
        self.identity = IdentityService(self.store, self.config, self.core.clock, issuer=self.base_url)
        self.accounting = AccountingApi(self)
        self._rng = random.Random(self.config.seed)
        self.app = create_app(self.core, self)

    # plugin interface -----------------------------------------------------------------------------
    def register(self, app: Flask) -> None:
        register_identity_routes(app, self.identity, self.core.lock)
        self.accounting.register(app)
        self._register_control(app)

    def snapshot(self) -> dict:
        return {"xero": self.store.snapshot(), "rate_limits": self.limiter.snapshot()}

    def reset(self) -> None:
        for name in TUNABLE:
            setattr(self.config, name, getattr(self._initial, name))
        self.store.reset()
        self.limiter.limits = copy.deepcopy(self._initial.limits)
        self.limiter.reset()
        self.batcher.reset()
        webhooks = self.core.webhooks
        assert webhooks is not None
        webhooks.configure({
            "url": self._initial.webhook_url,
            "retry_schedule": list(self._initial.webhook_retry_schedule),
            "batch_delay_ms": self._initial.webhook_batch_delay * 1000,
            "timeout": self._initial.webhook_timeout,
            "enabled": True,
        })

    def set_base_url(self, url: str) -> None:
        self.base_url = url.rstrip("/")
        self.identity.issuer = self.base_url

    @property
    def public_api_url(self) -> str:
        return f"{(self.config.public_url or self.base_url)}{API_PREFIX}"

    # events ---------------------------------------------------------------------------------------
    def publish(self, category: str, event_type: str, tenant_id: str, resource_id: str) -> None:
        """Queue a webhook event; only for tenants connected to the app, as Xero only notifies those."""
        if not self.store.connected(tenant_id) or self.core.webhooks is None:
            return
        resource = {"INVOICE": "Invoices", "CONTACT": "Contacts"}[category]
        self.core.webhooks.publish({
            "resourceUrl": f"{self.public_api_url}/{resource}/{resource_id}",
            "resourceId": resource_id,
            "eventDateUtc": webhook_event_date(self.core.clock.now()),
            "eventType": event_type,
            "eventCategory": category,
            "tenantId": tenant_id,
            "tenantType": "ORGANISATION",
        })

    # control --------------------------------------------------------------------------------------
    def _register_control(self, app: Flask) -> None:
        lock = self.core.lock

        @app.get("/_emulator/orgs")
        def xero_orgs() -> Response:
            with lock:
                return json_response([
                    {"tenantId": org.tenant_id, "name": org.name, "baseCurrency": org.base_currency,
                     "connected": self.store.connected(org.tenant_id)}
                    for org in self.store.orgs.values()
                ])

        @app.post("/_emulator/orgs")
        def xero_add_org() -> Response:
            body = request_json({}) or {}
            if not body.get("name"):
                return json_response({"error": "name is required"}, 400)
            with lock:
                org = self.store.add_org(str(body["name"]), str(body.get("base_currency", "GBP")),
                                         connect=bool(body.get("connect", True)), tenant_id=body.get("tenant_id"))
                return json_response({"tenantId": org.tenant_id, "name": org.name,
                                      "connected": self.store.connected(org.tenant_id)}, 201)

        @app.post("/_emulator/limits")
        def xero_limits() -> Response:
            with lock:
                return json_response(self.limiter.configure(request_json({}) or {}))

        @app.post("/_emulator/config")
        def xero_config() -> Response:
            body = request_json({}) or {}
            with lock:
                for name in TUNABLE:
                    if name in body:
                        current = getattr(self.config, name)
                        setattr(self.config, name, type(current)(body[name]))
                return json_response({name: getattr(self.config, name) for name in TUNABLE})

        @app.post("/_emulator/webhooks/intent-to-receive")
        def xero_intent_to_receive() -> Response:
            body = request_json({}) or {}
            url = body.get("url") or (self.core.webhooks.url if self.core.webhooks else None)
            if not url:
                return json_response({"error": "no webhook URL configured"}, 400)
            result = intent_to_receive(url, self.config.webhook_key, self._rng,
                                       timeout=float(body.get("timeout", 5.0)))
            with lock:
                self.store.intent_to_receive_checks.append(result)
            return json_response(result)


@dataclass
class XeroEmulatorHandle:
    """A running emulator. `url` is the base (identity and connections); `api_url` the Accounting API."""

    emulator: XeroEmulator
    server: ServerHandle
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def identity_url(self) -> str:
        return self.server.url

    @property
    def api_url(self) -> str:
        return f"{self.server.url}{API_PREFIX}"

    @property
    def connections_url(self) -> str:
        return f"{self.server.url}/connections"

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def tenant_id(self) -> str:
        return self.emulator.store.demo_tenant_id

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> XeroEmulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_xero_emulator(port: int = 0, host: str = "127.0.0.1", config: XeroConfig | None = None,
                        **overrides: object) -> XeroEmulatorHandle:
    """Start the emulator on a background thread and return its handle.

    Without a config, settings come from the environment (XeroConfig.from_env) except webhooks, which
    stay off unless `webhook_url=...` is given, so a test never posts to whatever listens on :3000.
    Any XeroConfig field can be overridden by keyword (e.g. limits=RateLimits(minute=5))."""
    if config is None:
        config = XeroConfig.from_env()
        config.webhook_url = None
    for key, value in overrides.items():
        if not hasattr(config, key):
            raise TypeError(f"unknown XeroConfig field {key!r}")
        setattr(config, key, value)
    config.host, config.port = host, port
    emulator = XeroEmulator(config)
    emulator._initial = copy.deepcopy(config)
    server = ServerHandle(emulator.app, host, port, on_stop=emulator.core.stop)
    emulator.set_base_url(server.url)
    emulator.core.start()
    env = {
        "XERO_API_URL": f"{server.url}{API_PREFIX}",
        "XERO_IDENTITY_URL": server.url,
        "XERO_CONNECTIONS_URL": f"{server.url}/connections",
        "XERO_CLIENT_ID": config.client_id,
        "XERO_CLIENT_SECRET": config.client_secret,
        "XERO_WEBHOOK_KEY": config.webhook_key,
    }
    return XeroEmulatorHandle(emulator, server, env)

