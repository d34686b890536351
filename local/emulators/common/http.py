"""Small HTTP helpers shared by the emulators: exact-decimal JSON responses and fault effects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, request

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
