"""A local HTTP API (API Gateway v2) in front of the very handlers Lambda runs.

Routes come from template.yaml (each function's `Type: HttpApi` events). A real HTTP request becomes
an API Gateway HTTP API payload format 2.0 event, the function's handler runs in a Lambda-like
execution environment (`LambdaRuntime`), and its answer is mapped back as API Gateway does:

- request: header names lower-cased, duplicates comma-joined; `cookie` headers move to `cookies`;
  duplicate query parameters comma-joined; `rawPath`/`rawQueryString` as sent; the body is text when
  the content type is textual (text/*, JSON, XML, JavaScript) and valid UTF-8, otherwise base64 with
  `isBase64Encoded: true` (so form posts and bodies without a content type arrive base64, as on AWS);
  no `body` key when the request has none; bodies over 10 MB get 413.
- response: a dict with `statusCode` gives that status, `headers`, `cookies` (one Set-Cookie each) and
  `body` (base64-decoded when `isBase64Encoded`); any other JSON value is a 200 application/json whose
  body is that value (a string as is, anything else serialised); an unknown route is 404
  {"message":"Not Found"}; a handler error, a malformed answer or a handler that ran past its Timeout
  is 500 {"message":"Internal Server Error"}.

Run on its own: `python -m local.gateway` (needs the AWS resources the handlers use: see local.stack).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import logging
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local import lambdas
from local.template import FunctionSpec, functions, load_template

logger = logging.getLogger(__name__)

DEFAULT_PORT = 3000
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP API payload quota
ACCOUNT_ID = "123456789012"
API_ID = "local"

_TEXT_TYPES = {
    "application/json",
    "application/xml",
    "application/javascript",
    "application/ecmascript",
    "application/graphql",
}


# ----------------------------------------------------------------------------- execution environments


class LambdaTimeoutError(RuntimeError):
    """The handler returned after its function's Timeout: Lambda would have stopped it and failed."""


class LambdaInstances:
    """The execution environments of one function.

    Lambda gives each concurrent invocation its own environment (module globals, Powertools state,
    a BatchProcessor...), and an environment runs one event at a time. Here an environment is a copy
    of the function's module: the first is the one `local.lambdas.invoke` uses; more are loaded when
    invocations overlap, and reused when idle (warm starts).
    """

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._idle: list[int] = []
        self._count = 0
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return self._count

    def invoke(self, event: dict[str, Any]) -> Any:
        number = self._acquire()
        started = time.monotonic()
        try:
            result = self._run(number, event)
        finally:
            self._release(number)
        elapsed = time.monotonic() - started
        if elapsed > self.spec.timeout:
            raise LambdaTimeoutError(
                f"{self.spec.logical_id}: task timed out after {elapsed:.2f} seconds (Timeout {self.spec.timeout})"
            )
        return result

    def _acquire(self) -> int:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self._count += 1
            return self._count - 1

    def _release(self, number: int) -> None:
        with self._lock:
            self._idle.append(number)

    def _run(self, number: int, event: dict[str, Any]) -> Any:
        if number == 0:
            return lambdas.invoke(self.spec, event)
        copy = dataclasses.replace(self.spec, logical_id=f"{self.spec.logical_id}__{number}")
        module = lambdas.load_module(copy)
        handler = getattr(module, self.spec.handler_name)
        context = lambdas.LambdaContext(function_name=self.spec.logical_id, timeout_seconds=self.spec.timeout)
        return handler(event, context)


class LambdaRuntime:
    """Every function's execution environments, shared by the gateway, the pollers and the scheduler."""

    def __init__(self, *, one_at_a_time: bool = False) -> None:
        self._functions: dict[str, LambdaInstances] = {}
        self._lock = threading.Lock()
        # In Lambda every environment is a process of its own; here the functions share one interpreter,
        # and with it the loggers' appended keys. One invocation at a time keeps each log line's keys its own.
        self._serial = threading.RLock() if one_at_a_time else contextlib.nullcontext()

    def instances(self, spec: FunctionSpec) -> LambdaInstances:
        with self._lock:
            found = self._functions.get(spec.logical_id)
            if found is None or found.spec != spec:
                found = self._functions[spec.logical_id] = LambdaInstances(spec)
            return found

    def invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> Any:
        with self._serial:
            return self.instances(spec).invoke(event)


# ----------------------------------------------------------------------------- routes


@dataclasses.dataclass(frozen=True)
class Route:
    method: str  # POST, GET, ... or ANY
    path: str  # /webhooks/xero, /items/{id}, /files/{proxy+}
    function: FunctionSpec

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def _pattern(self) -> re.Pattern[str]:
        parts = []
        for segment in self.path.strip("/").split("/"):
            greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
            param = re.fullmatch(r"\{(\w+)\}", segment)
            if greedy:
                parts.append(f"(?P<{greedy.group(1)}>.+)")
            elif param:
                parts.append(f"(?P<{param.group(1)}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        return re.compile("/" + "/".join(parts))

    @property
    def _specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers the most specific match: literal paths, then parameters, then greedy."""
        return ("+}" in self.path, self.path.count("{"), self.method == "ANY")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method.upper()):
            return None
        found = self._pattern.fullmatch(path)
        return None if found is None else found.groupdict()


def routes_from_template(template: dict[str, Any] | None = None) -> list[Route]:
    """Every `Type: HttpApi` event of every function in the template."""
    template = template or load_template()
    routes = []
    for spec in functions(template).values():
        for event in spec.events.values():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            method = str(props.get("Method", "ANY")).upper()
            if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
                method = "ANY"
            routes.append(Route(method=method, path=str(props.get("Path", "/{proxy+}")), function=spec))
    return routes


def find_route(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in sorted(routes, key=lambda r: r._specificity):
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


# ----------------------------------------------------------------------------- request -> event


def is_text_content(content_type: str | None) -> bool:
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return (
        mime.startswith("text/")
        or mime in _TEXT_TYPES
        or mime.endswith("+json")
        or mime.endswith("+xml")
    )


def encode_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """(body, isBase64Encoded) as HTTP API passes a request body to Lambda."""
    if is_text_content(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _request_id() -> str:
    # HTTP API request ids look like "JKJaXmPLvHcESHA=".
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii")


def build_event(request: Request, route: Route, path_parameters: dict[str, str], body: bytes) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway would send for this request."""
    environ = request.environ
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path
    raw_path, _, raw_query = raw_uri.partition("?")
    raw_path = raw_path or "/"

    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers.items():
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in re.split(r"[;,]", value) if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    client_ip = request.remote_addr or "127.0.0.1"
    headers.setdefault("x-forwarded-for", client_ip)
    headers.setdefault("x-forwarded-proto", request.scheme)
    headers.setdefault("x-forwarded-port", str(environ.get("SERVER_PORT", "")))
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}")
    if body:
        headers.setdefault("content-length", str(len(body)))

    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value

    now = datetime.now(UTC)
    host = headers.get("host", f"{API_ID}.execute-api.localhost")
    request_id = _request_id()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "http": {
            "method": request.method.upper(),
            "path": raw_path,
            "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": client_ip,
            "userAgent": request.headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        event["body"], event["isBase64Encoded"] = encode_body(body, request.headers.get("content-type"))
    else:
        event["isBase64Encoded"] = False
    return event


# ----------------------------------------------------------------------------- result -> response


class MalformedResponseError(ValueError):
    """The handler's answer is not a valid payload 2.0 response."""


def _json_message(status: int, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=status, content_type="application/json")


def to_response(result: Any) -> Response:
    """Map a handler's return value to the HTTP response API Gateway would send."""
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return Response(body, status=200, content_type="application/json")
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError) as exc:
        raise MalformedResponseError(f"statusCode {result['statusCode']!r} is not a number") from exc
    if not 100 <= status <= 599:
        raise MalformedResponseError(f"statusCode {status} is not an HTTP status")
    raw_body = result.get("body")
    if raw_body is None:
        raw_body = ""
    if not isinstance(raw_body, str):
        raise MalformedResponseError(f"body is a {type(raw_body).__name__}, not a string")
    if result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw_body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResponseError("isBase64Encoded but the body is not base64") from exc
    else:
        data = raw_body.encode("utf-8")
    response = Response(data, status=status)
    response.headers.remove("content-type")  # only what the handler says
    for name, value in (result.get("headers") or {}).items():
        response.headers[str(name)] = str(value)
    for cookie in result.get("cookies") or []:
        response.headers.add("set-cookie", str(cookie))
    return response


# ----------------------------------------------------------------------------- server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug('"%s" %s %s', self.requestline, code, size)


class Gateway:
    """The HTTP API on 127.0.0.1: `.url`, `.port`, `.start()`, `.stop()`; also a context manager.

    The socket is bound on construction (so `.url` is known before `.start()`), port from the
    argument, else GATEWAY_PORT, else 3000; 0 picks a free port.
    """

    def __init__(self, routes: list[Route] | None = None, *, host: str = "127.0.0.1", port: int | None = None,
                 runtime: LambdaRuntime | None = None) -> None:
        self.routes = routes if routes is not None else routes_from_template()
        self.runtime = runtime or LambdaRuntime()
        self.host = host
        if port is None:
            port = int(os.environ.get("GATEWAY_PORT", DEFAULT_PORT))
        self._server = make_server(host, port, self.wsgi_app, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Gateway:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"gateway-{self.port}", daemon=True
            )
            self._thread.start()
            logger.info("gateway listening on %s (%d routes)", self.url, len(self.routes))
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        raw_path = (request.environ.get("RAW_URI") or request.path).partition("?")[0]
        found = find_route(self.routes, request.method, request.path)
        if found is None:
            return _json_message(404, "Not Found")
        route, params = found
        request.max_content_length = MAX_PAYLOAD_BYTES
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _json_message(413, "Request Entity Too Large")
        event = build_event(request, route, params, body)
        try:
            result = self.runtime.invoke(route.function, event)
            return to_response(result)
        except Exception:
            logger.exception("%s failed on %s %s", route.function.logical_id, request.method, raw_path)
            return _json_message(500, "Internal Server Error")


def main() -> None:  # pragma: no cover - manual use
    logging.basicConfig(level=logging.INFO)
    with Gateway() as gateway:
        print(f"gateway on {gateway.url}; Ctrl-C to stop")  # noqa: T201
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
