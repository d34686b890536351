"""The local HTTP API: real HTTP requests in, payload 2.0 events to the handlers, their answers back out."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator

import httpx
import pytest

from local.gateway import Gateway, Route, routes_from_template
from local.template import FunctionSpec

HTTP_APP = FunctionSpec(
    logical_id="GatewayTestFunction",
    code_uri="tests/integration/fixtures/http_app",
    handler="app.lambda_handler",
    timeout=5,
    environment={},
    events={},
)
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"


@pytest.fixture
def gateway() -> Iterator[httpx.Client]:
    routes = [
        Route("POST", "/echo", HTTP_APP),
        Route("GET", "/echo", HTTP_APP),
        Route("GET", "/items/{item_id}", HTTP_APP),
        Route("ANY", "/{proxy+}", HTTP_APP),
    ]
    with Gateway(routes, port=0) as gw, httpx.Client(base_url=gw.url, timeout=10) as client:
        yield client


def echoed(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


# ----------------------------------------------------------------------------- request -> event


def test_request_line_becomes_route_key_method_and_path(gateway):
    event = echoed(gateway.post("/echo", json={}))

    assert (event["version"], event["routeKey"], event["rawPath"]) == ("2.0", "POST /echo", "/echo")
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["path"] == "/echo"
    assert event["requestContext"]["routeKey"] == "POST /echo"


def test_query_string_is_kept_raw_and_parsed_with_duplicates_comma_joined(gateway):
    event = echoed(gateway.get("/echo?b=2&a=x%20y&b=3"))

    assert event["rawQueryString"] == "b=2&a=x%20y&b=3"
    assert event["queryStringParameters"] == {"a": "x y", "b": "2,3"}


def test_request_without_query_string_has_no_query_parameters(gateway):
    event = echoed(gateway.get("/echo"))

    assert event["rawQueryString"] == ""
    assert "queryStringParameters" not in event


def test_header_names_are_lower_cased_and_duplicates_comma_joined(gateway):
    event = echoed(gateway.get("/echo", headers=[("X-Xero-Signature", "abc="), ("X-Multi", "one"), ("X-Multi", "two")]))

    assert event["headers"]["x-xero-signature"] == "abc="
    assert event["headers"]["x-multi"] == "one,two"
    assert all(name == name.lower() for name in event["headers"])


def test_cookie_header_becomes_the_cookies_list(gateway):
    event = echoed(gateway.get("/echo", headers={"Cookie": "session=abc; theme=dark"}))

    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]


def test_request_context_describes_the_call_as_api_gateway_does(gateway):
    event = echoed(gateway.get("/echo", headers={"User-Agent": "pipedrive-webhooks/2.0"}))

    context = event["requestContext"]
    assert context["stage"] == "$default"
    assert context["accountId"] == "123456789012"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["http"]["userAgent"] == "pipedrive-webhooks/2.0"
    assert context["http"]["protocol"] == "HTTP/1.1"
    assert context["requestId"] and context["domainName"].startswith("127.0.0.1")
    assert isinstance(context["timeEpoch"], int) and context["time"].endswith("+0000")


def test_json_body_arrives_as_text(gateway):
    raw = b'{"events":[],"firstEventSequence":0}'

    event = echoed(gateway.post("/echo", content=raw, headers={"content-type": "application/json"}))

    assert event["isBase64Encoded"] is False
    assert event["body"] == raw.decode()


def test_binary_body_arrives_base64_encoded(gateway):
    event = echoed(gateway.post("/echo", content=PNG_BYTES, headers={"content-type": "image/png"}))

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == PNG_BYTES


def test_text_content_type_with_invalid_utf8_arrives_base64_encoded(gateway):
    event = echoed(gateway.post("/echo", content=b"caf\xe9", headers={"content-type": "text/plain"}))

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"caf\xe9"


def test_request_without_body_has_no_body_key(gateway):
    event = echoed(gateway.get("/echo"))

    assert "body" not in event
    assert event["isBase64Encoded"] is False


def test_binary_body_round_trips_byte_for_byte(gateway):
    response = gateway.post("/mirror", content=PNG_BYTES, headers={"content-type": "application/octet-stream"})

    assert response.status_code == 201
    assert response.content == PNG_BYTES


def test_route_with_a_parameter_passes_it_as_path_parameters(gateway):
    event = echoed(gateway.get("/items/42"))

    assert event["routeKey"] == "GET /items/{item_id}"
    assert event["pathParameters"] == {"item_id": "42"}


def test_literal_route_wins_over_a_greedy_one(gateway):
    event = echoed(gateway.post("/echo", json={}))

    assert event["routeKey"] == "POST /echo"
    assert "pathParameters" not in event


# ----------------------------------------------------------------------------- errors


def test_unknown_route_is_404_not_found():
    with Gateway([Route("POST", "/echo", HTTP_APP)], port=0) as gw:
        response = httpx.get(f"{gw.url}/nowhere")

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_wrong_method_for_a_route_is_404():
    with Gateway([Route("POST", "/echo", HTTP_APP)], port=0) as gw:
        response = httpx.get(f"{gw.url}/echo")

    assert response.status_code == 404


def test_handler_exception_is_500_internal_server_error(gateway):
    response = gateway.get("/boom")

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_handler_running_past_its_timeout_is_500():
    quick = dataclasses.replace(HTTP_APP, timeout=1)
    with Gateway([Route("GET", "/slow", quick)], port=0) as gw:
        response = httpx.get(f"{gw.url}/slow", timeout=10)

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_malformed_handler_response_is_500(gateway):
    response = gateway.get("/malformed")

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_body_over_10_mb_is_413(gateway):
    response = gateway.post("/echo", content=b"x" * (10 * 1024 * 1024 + 1), headers={"content-type": "text/plain"})

    assert response.status_code == 413


# ----------------------------------------------------------------------------- response mapping


def test_base64_response_is_decoded_to_bytes(gateway):
    response = gateway.get("/image")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == PNG_BYTES


def test_response_cookies_become_set_cookie_headers_next_to_the_handler_headers(gateway):
    response = gateway.get("/cookies")

    assert response.status_code == 204
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    assert response.headers["x-custom"] == "yes"


def test_dict_without_status_code_is_serialised_as_json_200(gateway):
    response = gateway.get("/bare")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"deal": 101, "status": "won"}


# ----------------------------------------------------------------------------- the real webhook function


@pytest.fixture
def template_gateway(aws_stack) -> Iterator[str]:
    with Gateway(routes_from_template(), port=0) as gw:
        yield gw.url


def test_template_routes_are_the_design_webhook_routes():
    keys = {route.route_key for route in routes_from_template()}

    assert {"POST /webhooks/pipedrive", "POST /webhooks/hubspot", "POST /webhooks/xero"} <= keys


def test_pipedrive_deal_won_over_http_is_200_and_enqueued(template_gateway, event, queue_messages):
    body = event("crm_webhook_pipedrive_deal_won")["body"]

    response = httpx.post(
        f"{template_gateway}/webhooks/pipedrive",
        content=body,
        headers={"content-type": "application/json"},
        auth=("bridge", "local-webhook-password"),
    )

    assert (response.status_code, response.content) == (200, b"")
    [message] = queue_messages()
    assert json.loads(message["Body"])["command"]["deal_id"] == "101"


def test_pipedrive_webhook_with_wrong_password_is_401_and_enqueues_nothing(template_gateway, event, queue_messages):
    body = event("crm_webhook_pipedrive_deal_won")["body"]

    response = httpx.post(
        f"{template_gateway}/webhooks/pipedrive",
        content=body,
        headers={"content-type": "application/json"},
        auth=("bridge", "not-the-password"),
    )

    assert response.status_code == 401
    assert queue_messages() == []
