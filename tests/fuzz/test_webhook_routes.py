"""Every webhook route under random and mutated requests: bodies (random, mutated samples, truncated,
non-UTF-8, bad base64, oversized), headers (dropped, added, odd case, odd values) and signatures
(none, wrong, right). Whatever arrives: never a 5xx, never an unsigned message enqueued, a 4xx that
says why or the documented empty 2xx.

FUZZ_EXAMPLES sets the examples per test (CI default below; `FUZZ_EXAMPLES=10000 make fuzz` is the
long run).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmbridge.config import get_settings
from crmbridge.webhooks.signatures import basic_auth_header, xero_signature
from local.credentials import credential
from tests.conftest import load_event

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_BODY = 1024 * 1024  # the functions refuse bodies over 1 MB before they read them
ERROR_STATUSES = {400, 401, 404, 413}


def hubspot_v3(event: dict[str, Any], body: bytes) -> dict[str, str]:
    """Signed by the official HubSpot SDK's helper, an oracle independent of our verifier (the helper takes
    text: a body that is not UTF-8 is signed by HubSpot's documented formula over its bytes)."""
    from hubspot.utils.signature import Signature

    timestamp = str(int(time.time() * 1000))
    uri = f"https://{event['headers']['host']}{event['rawPath']}"
    secret = credential("HUBSPOT_CLIENT_SECRET")
    if _is_utf8(body):
        signature = Signature.get_signature(client_secret=secret, request_body=body.decode(), signature_version="v3",
                                            http_uri=uri, http_method="POST", timestamp=timestamp)
    else:
        message = b"POST" + uri.encode() + body + timestamp.encode()
        signature = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return {"x-hubspot-signature-v3": signature, "x-hubspot-request-timestamp": timestamp}


@dataclass(frozen=True)
class Route:
    function: str
    sample_event: str
    provider: str | None  # the CRM the stack must run for this route
    signature_headers: tuple[str, ...]
    sign: Callable[[dict[str, Any], bytes], dict[str, str]]


ROUTES = {
    "pipedrive": Route(
        "CrmWebhookFunction", "crm_webhook_pipedrive_deal_won", "pipedrive", ("authorization",),
        lambda event, body: {"authorization": basic_auth_header(
            credential("PIPEDRIVE_WEBHOOK_USER"), credential("PIPEDRIVE_WEBHOOK_PASSWORD"))},
    ),
    "xero": Route(
        "XeroWebhookFunction", "xero_webhook_invoice_updated", None, ("x-xero-signature",),
        lambda event, body: {"x-xero-signature": xero_signature(body, credential("XERO_WEBHOOK_KEY"))},
    ),
    "hubspot": Route(
        "CrmWebhookFunction", "hubspot_crm_webhook_deal_won", "hubspot",
        ("x-hubspot-signature-v3", "x-hubspot-request-timestamp"), hubspot_v3,
    ),
}


@st.composite
def bodies(draw: st.DrawFn, sample: bytes) -> bytes:
    """Mutations of the route's own sample body, and bodies that have nothing to do with it."""
    kind = draw(st.sampled_from(["sample", "flip", "truncate", "insert", "json", "text", "binary", "empty"]))
    if kind == "sample":
        return sample
    if kind == "flip":
        data = bytearray(sample)
        for index in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            data[index] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "truncate":
        return sample[: draw(st.integers(0, len(sample) - 1))]
    if kind == "insert":
        at = draw(st.integers(0, len(sample)))
        return sample[:at] + draw(st.binary(min_size=1, max_size=64)) + sample[at:]
    if kind == "json":
        leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
        value = draw(st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                                  | st.dictionaries(st.sampled_from(["meta", "data", "events", "previous",
                                                                     "subscriptionType", "objectId", "x"]),
                                                    inner, max_size=4), max_leaves=20))
        return json.dumps(value).encode()
    if kind == "text":
        return draw(st.text(max_size=512)).encode("utf-8", "surrogatepass")
    if kind == "binary":
        return draw(st.binary(max_size=512))
    return b""


@st.composite
def requests(draw: st.DrawFn, route: Route) -> tuple[dict[str, Any], str]:
    """An API Gateway event for the route, and how it is signed: none, wrong or right."""
    event = copy.deepcopy(load_event(route.sample_event))
    body = draw(bodies(event["body"].encode()))
    headers = {k: v for k, v in event["headers"].items() if k not in route.signature_headers}
    signing = draw(st.sampled_from(["none", "wrong", "right"]))
    if signing == "right":
        headers.update(route.sign(event, body))
    elif signing == "wrong":
        headers.update({name: draw(st.text(max_size=80)) for name in route.signature_headers})
    for name in draw(st.lists(st.sampled_from(sorted(k for k in headers if k not in route.signature_headers)),
                              max_size=2, unique=True)):
        del headers[name]
    headers.update(draw(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40), max_size=3)))
    if draw(st.booleans()):  # API Gateway lower-cases header names; callers may not
        headers = {k.upper() if draw(st.booleans()) else k: v for k, v in headers.items()}
    encoding = draw(st.sampled_from(["text", "base64", "bad-base64"]))
    if encoding == "base64" or (encoding == "text" and not _is_utf8(body)):
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    elif encoding == "bad-base64":
        event["body"], event["isBase64Encoded"] = draw(st.text(min_size=1, max_size=64)) + "!", True
        signing = "none"  # the bytes the caller signed never arrive
    else:
        event["body"], event["isBase64Encoded"] = body.decode(), False
    event["headers"] = headers
    return event, signing


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


@pytest.fixture
def stack_for(aws_stack, invoke_function, queue_messages, monkeypatch):
    """Runs the route's function on a stack set up for its CRM; takes what it enqueued off the queue."""
    import boto3

    sqs = boto3.client("sqs")

    def run(route: Route, event: dict[str, Any]) -> tuple[dict[str, Any], int]:
        if route.provider:
            monkeypatch.setenv("CRM_PROVIDER", route.provider)
            get_settings.cache_clear()
        response = invoke_function(route.function, event)
        messages = queue_messages()
        for message in messages:
            sqs.delete_message(QueueUrl=aws_stack.queue_urls["SyncQueue"], ReceiptHandle=message["ReceiptHandle"])
        return response, len(messages)

    return run


def assert_answer_is_clear(route: Route, event: dict[str, Any], signing: str,
                           response: dict[str, Any], enqueued: int) -> None:
    status = response["statusCode"]
    assert status < 500
    if signing == "right":
        assert status in {200, 400, 413}, response
    else:
        assert status in {400, 401, 413}, response
        assert enqueued == 0, "an unsigned request reached the queue"
    if status == 200:
        assert response["body"] == ""
    else:
        assert status in ERROR_STATUSES
        error = json.loads(response["body"])
        assert error["error"].startswith("rejected_") and error["message"]
        assert enqueued == 0


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_any_request_gets_a_clear_answer_and_only_signed_ones_are_enqueued(name, stack_for):
    route = ROUTES[name]

    @FUZZ
    @given(requests(route))
    def check(request: tuple[dict[str, Any], str]) -> None:
        event, signing = request
        response, enqueued = stack_for(route, event)
        assert_answer_is_clear(route, event, signing, response, enqueued)

    check()


@pytest.mark.parametrize("name", sorted(ROUTES))
@pytest.mark.parametrize("signing", ["none", "right"])
def test_oversized_body_is_413_and_nothing_is_enqueued(name, signing, stack_for):
    route = ROUTES[name]
    event = copy.deepcopy(load_event(route.sample_event))
    body = event["body"].encode() + b" " * MAX_BODY
    event["headers"] = {k: v for k, v in event["headers"].items() if k not in route.signature_headers}
    if signing == "right":
        event["headers"].update(route.sign(event, body))
    event["body"] = body.decode()

    response, enqueued = stack_for(route, event)

    assert (response["statusCode"], enqueued) == (413, 0)


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_the_signed_sample_is_accepted_so_the_fuzzing_reaches_the_parser(name, stack_for):
    route = ROUTES[name]
    event = copy.deepcopy(load_event(route.sample_event))
    event["headers"] = {k: v for k, v in event["headers"].items() if k not in route.signature_headers}
    event["headers"].update(route.sign(event, event["body"].encode()))

    response, enqueued = stack_for(route, event)

    assert (response["statusCode"], enqueued) == (200, 1)
