"""Build an emulator's Flask app: the plugin's routes plus the shared control endpoints.

Control endpoints (every emulator):
  GET  /_emulator/state     everything held, as JSON (clock, faults, webhooks, then the plugin's own)
  POST /_emulator/reset     forget everything; the clock goes back to real time unless {"keep_clock": true}
  GET  /_emulator/faults    the fault rules and the log of injected faults
  POST /_emulator/faults    add rules: a rule, a list, or {"rules": [...], "replace": bool, "seed": n, "clear": bool}
  DELETE /_emulator/faults  remove every rule
  GET  /_emulator/latency   {"latency_ms", "jitter_ms"} added in front of every API request
  POST /_emulator/latency   {"latency_ms": 20, "jitter_ms": 10}; zeros (or a reset) switch it off
  GET  /_emulator/clock     {"now", "offset_seconds", "frozen"}
  POST /_emulator/clock     {"advance": seconds} | {"set": "2026-01-01T00:00:00Z"} | {"freeze": bool}
  GET  /_emulator/webhooks  webhook settings and every delivery with its attempts
  POST /_emulator/webhooks  {"url", "retry_schedule": [s, ...], "batch_delay_ms", "timeout", "enabled"}
  POST /_emulator/webhooks/wait   {"timeout": s}: returns once nothing is due (for tests)
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from .core import EmulatorCore, EmulatorPlugin
from .http import RateLimitShape, fault_after, fault_before, json_response, request_json

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_emulator"


def create_app(core: EmulatorCore, plugin: EmulatorPlugin, rate_limit_shape: RateLimitShape | None = None) -> Flask:
    app = Flask(f"{core.name}-emulator")
    app.config["MAX_CONTENT_LENGTH"] = 8 * 1024 * 1024

    _install_fault_hooks(app, core, plugin, rate_limit_shape)
    _install_control_routes(app, core, plugin)
    plugin.register(app)

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return json_response({"error": exc.name, "message": exc.description}, exc.code or 500)
        logger.exception("unhandled error in the %s emulator", core.name)
        return json_response({"error": "emulator_error", "message": f"{type(exc).__name__}: {exc}"}, 500)

    return app


def _install_fault_hooks(app: Flask, core: EmulatorCore, plugin: EmulatorPlugin, shape: RateLimitShape | None) -> None:
    def managed_elsewhere(path: str) -> bool:
        lowered = path.lower()
        return lowered.startswith(CONTROL_PREFIX) or any(
            lowered.startswith(prefix.lower()) for prefix in plugin.self_managed_fault_prefixes
        )

    @app.before_request
    def _fault_before() -> Response | None:
        if not request.path.lower().startswith(CONTROL_PREFIX):
            core.faults.delay()  # every API request, whoever applies its faults
        if managed_elsewhere(request.path):
            return None
        rule = core.faults.pick(request.method, request.path, core.clock.now().isoformat())
        if rule is None:
            return None
        g.fault_rule = rule
        return fault_before(core, rule, shape)

    @app.after_request
    def _fault_after(response: Response) -> Response:
        return fault_after(core, g.pop("fault_rule", None), response)


def _install_control_routes(app: Flask, core: EmulatorCore, plugin: EmulatorPlugin) -> None:
    @app.get(f"{CONTROL_PREFIX}/state")
    def _state() -> Response:
        with core.lock:
            state = {
                "emulator": core.name,
                "clock": core.clock.snapshot(),
                "faults": core.faults.snapshot(),
                "latency": core.faults.latency(),
                "webhooks": core.webhooks.snapshot() if core.webhooks else None,
            }
            state.update(plugin.snapshot())
        return json_response(state)

    @app.post(f"{CONTROL_PREFIX}/reset")
    def _reset() -> Response:
        body = request_json({}) or {}
        with core.lock:
            core.faults.clear()
            core.faults.set_latency({})
            if core.webhooks:
                core.webhooks.reset()
            if not body.get("keep_clock"):
                core.clock.reset()
            plugin.reset()
        return json_response({"reset": True})

    @app.get(f"{CONTROL_PREFIX}/faults")
    def _faults_get() -> Response:
        return json_response(core.faults.snapshot())

    @app.post(f"{CONTROL_PREFIX}/faults")
    def _faults_post() -> Response:
        try:
            return json_response(core.faults.configure(request_json({}) or {}))
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)

    @app.delete(f"{CONTROL_PREFIX}/faults")
    def _faults_delete() -> Response:
        core.faults.clear()
        return json_response(core.faults.snapshot())

    @app.get(f"{CONTROL_PREFIX}/latency")
    def _latency_get() -> Response:
        return json_response(core.faults.latency())

    @app.post(f"{CONTROL_PREFIX}/latency")
    def _latency_post() -> Response:
        try:
            return json_response(core.faults.set_latency(request_json({}) or {}))
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)

    @app.get(f"{CONTROL_PREFIX}/clock")
    def _clock_get() -> Response:
        return json_response(core.clock.snapshot())

    @app.post(f"{CONTROL_PREFIX}/clock")
    def _clock_post() -> Response:
        try:
            return json_response(core.clock.apply(request_json({}) or {}))
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)

    @app.get(f"{CONTROL_PREFIX}/webhooks")
    def _webhooks_get() -> Response:
        if core.webhooks is None:
            return json_response({"error": "this emulator sends no webhooks"}, 404)
        return json_response(core.webhooks.snapshot())

    @app.post(f"{CONTROL_PREFIX}/webhooks")
    def _webhooks_post() -> Response:
        if core.webhooks is None:
            return json_response({"error": "this emulator sends no webhooks"}, 404)
        try:
            return json_response(core.webhooks.configure(request_json({}) or {}))
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)

    @app.post(f"{CONTROL_PREFIX}/webhooks/wait")
    def _webhooks_wait() -> Response:
        if core.webhooks is None:
            return json_response({"idle": True})
        timeout = float((request_json({}) or {}).get("timeout", 5))
        return json_response({"idle": core.webhooks.wait_idle(timeout)})
