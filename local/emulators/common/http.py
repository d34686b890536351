"""Small HTTP helpers shared by the emulators: exact-decimal JSON responses and fault effects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from . import jsonutil
from .core import EmulatorCore
from .faults import FaultRule, abort_connection

# (rule) -> (status, body, headers) for a rate_limit fault, so each emulator answers 429 its own way.
RateLimitShape = Callable[[FaultRule], tuple[int, Any, dict[str, str]]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(jsonutil.dumps_bytes(body), status=status, mimetype="application/json")
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def request_json(default: Any = None) -> Any:
    data = request.get_data(cache=True)
    if not data:
        return default
    return jsonutil.loads(data)


def _body_response(status: int, body: Any, headers: dict[str, str]) -> Response:
    if body is None or isinstance(body, str):
        response = Response(body or "", status=status, mimetype="text/plain")
    else:
        response = json_response(body, status)
    for key, value in headers.items():
        response.headers[key] = value
    return response


def fault_before(core: EmulatorCore, rule: FaultRule, rate_limit_shape: RateLimitShape | None = None) -> Response | None:
    """Apply the part of a fault that happens before processing; a Response means stop here."""
    if rule.phase != "before" and rule.kind in ("timeout", "drop"):
        return None
    if rule.kind == "rate_limit":
        if rate_limit_shape is not None:
            status, body, headers = rate_limit_shape(rule)
        else:
            status, body, headers = 429, rule.body, {"Retry-After": str(rule.retry_after or 1)}
        return _body_response(status, body if rule.body is None else rule.body, {**headers, **rule.headers})
    if rule.kind == "error":
        status = rule.status or 500
        body = rule.body if rule.body is not None else f"Injected fault: HTTP {status}"
        return _body_response(status, body, rule.headers)
    if rule.kind == "timeout":
        core.faults.sleep(rule.seconds)
        return None
    if rule.kind == "drop":
        abort_connection(request.environ)
        return Response("", status=502)  # never reaches the client: the socket is already cut
    return None


def fault_after(core: EmulatorCore, rule: FaultRule | None, response: Response) -> Response:
    """Apply the part of a fault that happens after the write was committed."""
    if rule is None or rule.phase != "after":
        return response
    if rule.kind == "timeout":
        core.faults.sleep(rule.seconds)
    elif rule.kind == "drop":
        # Make the body concrete first so nothing lazily touches the store after we cut the socket.
        response.get_data()
        abort_connection(request.environ)
    return response


# () -> (a Response refusing the request or None, headers for the answer): auth and rate limits.
Admission = Callable[[], tuple[Response | None, dict[str, str]]]


def api_headers() -> dict[str, str]:
    """The headers the admission gave this request (rate-limit headers), for a 429 fault to carry too."""
    return dict(g.get("api_headers") or {})


def install_api_gate(app: Flask, core: EmulatorCore, *, prefixes: tuple[str, ...], admit: Admission,
                     rate_limit_shape: RateLimitShape) -> None:
    """Every request under `prefixes` passes, in order: `admit` (auth, then rate limits), the injected
    faults, then its handler; the admission's headers go on every answer, and an "after" fault last."""

    @app.before_request
    def _api_gate() -> Response | None:
        if not request.path.startswith(prefixes):
            return None
        refused, headers = admit()
        g.api_headers = headers
        if refused is not None:
            return refused
        rule = core.faults.pick(request.method, request.path, core.clock.now().isoformat())
        if rule is not None:
            g.api_fault = rule
            return fault_before(core, rule, rate_limit_shape)
        return None

    @app.after_request
    def _api_headers(response: Response) -> Response:
        for key, value in api_headers().items():
            response.headers[key] = value
        return fault_after(core, g.pop("api_fault", None), response)


def install_api_errors(app: Flask, *, prefixes: tuple[str, ...], error_type: type[Exception],
                       from_http: Callable[[HTTPException], Any]) -> None:
    """Errors of `error_type` (with .body() and .status) answer in the service's own shape; a 404 or 405
    under `prefixes` too, as `from_http(exc)` makes it; elsewhere (control endpoints) {"error", "message"}."""

    def _api_error(exc: Any) -> Response:
        return json_response(exc.body(), exc.status)

    def _http_error(exc: HTTPException) -> Response:
        if request.path.startswith(prefixes):
            return _api_error(from_http(exc))
        return json_response({"error": exc.name, "message": exc.description}, exc.code or 500)

    app.register_error_handler(error_type, _api_error)
    app.register_error_handler(404, _http_error)
    app.register_error_handler(405, _http_error)


def locked_route(app: Flask, core: EmulatorCore) -> Callable[[str, str, list[str]], Callable]:
    """`@route(rule, endpoint, methods)`: a view that runs holding the emulator lock (it may be stacked)."""

    def route(rule: str, endpoint: str, methods: list[str]) -> Callable:
        def decorator(fn: Callable) -> Callable:
            def view(**kwargs: Any) -> Response:
                with core.lock:
                    return fn(**kwargs)

            app.add_url_rule(rule, endpoint, view, methods=methods)
            return fn

        return decorator

    return route


def install_seed_and_rate_limit_control(route: Callable, *, seed: Callable[[dict], dict], limiter: Any,
                                        body: Callable[[], dict]) -> None:
    """POST /_emulator/seed, and GET / POST /_emulator/ratelimit (the limiter's snapshot() / configure())."""

    @route("/_emulator/seed", "control_seed", ["POST"])
    def control_seed() -> Response:
        return json_response(seed(body()))

    @route("/_emulator/ratelimit", "control_ratelimit_get", ["GET"])
    def control_ratelimit_get() -> Response:
        return json_response(limiter.snapshot())

    @route("/_emulator/ratelimit", "control_ratelimit_post", ["POST"])
    def control_ratelimit_post() -> Response:
        return json_response(limiter.configure(body()))
