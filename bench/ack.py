"""Warm webhook acknowledgement: the time from sending a webhook to its 2xx, per route.

Two lines, each next to its baseline in the same run:
1. over real HTTP through the local gateway (a separate client process, keep-alive connection), vs a
   function behind the same gateway that does nothing but one SQS SendMessage to the same moto queue
   (the least a webhook function must do: the ratio's baseline); with, for information, a bare
   SendMessage from the client process and the gateway's own floor (a handler that does nothing);
2. the handler invoked in this process without HTTP (the event built as the gateway builds it), vs a
   bare SendMessage from this process.

The queue pollers are stopped while this runs (the worker would otherwise compete for the same two
cores with what is measured); the bench empties the queue itself every few rounds, untimed. Every route's request is a real
one that enqueues a command (a signed Pipedrive "deal won", a signed Xero INVOICE UPDATE).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from bench.sqsutil import EMPTY_EVERY_ROUNDS, empty_queue
from bench.stats import summary_ms
from crmbridge.webhooks.signatures import basic_auth_header, xero_signature
from local import lambdas
from local.credentials import credential
from local.gateway import Gateway, LambdaRuntime, Route
from local.template import FunctionSpec, functions, load_template

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

ROUTES = {  # route name -> (function, sample event whose body is sent)
    "pipedrive": ("CrmWebhookFunction", "crm_webhook_pipedrive_deal_won"),
    "xero": ("XeroWebhookFunction", "xero_webhook_invoice_updated"),
}


def _sample_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def route_requests() -> dict[str, dict[str, Any]]:
    """Per route: the body and the authentic headers a real sender would use (local credentials)."""
    requests = {}
    for route, (_, event_name) in ROUTES.items():
        event = _sample_event(event_name)
        body = event["body"]
        headers = {"content-type": "application/json"}
        if route == "pipedrive":
            headers["authorization"] = basic_auth_header(credential("PIPEDRIVE_WEBHOOK_USER"),
                                                         credential("PIPEDRIVE_WEBHOOK_PASSWORD"))
        else:
            headers["x-xero-signature"] = xero_signature(body.encode("utf-8"), credential("XERO_WEBHOOK_KEY"))
        requests[route] = {"path": event["rawPath"], "headers": headers, "body": body, "event": event}
    return requests


def _baseline_gateway(queue_url: str) -> Gateway:
    """A gateway like the stack's with two baseline routes: /noop (the gateway's own cost) and /send (a
    function that only sends the body to the sync queue)."""
    os.environ["BENCH_QUEUE_URL"] = queue_url
    noop = FunctionSpec(logical_id="BenchNoopFunction", code_uri="bench", handler="noop_app.lambda_handler",
                        timeout=10, environment={}, events={})
    send = FunctionSpec(logical_id="BenchSqsOnlyFunction", code_uri="bench", handler="sqs_only_app.lambda_handler",
                        timeout=10, environment={}, events={})
    return Gateway([Route("POST", "/noop", noop), Route("POST", "/send", send)], port=0,
                   runtime=LambdaRuntime()).start()


def _baseline_message() -> str:
    return json.dumps({"command": {"kind": "deal_won", "crm": "pipedrive", "deal_id": "101",
                                   "won_time": "2026-11-24T10:00:00Z", "source_event_id": "bench"},
                       "not_before": None, "attempt": 0})


def over_http(stack: Any, *, n: int, warmup: int) -> dict[str, Any]:
    requests = route_requests()
    floor = _baseline_gateway(stack.queue_url("SyncQueue"))
    try:
        targets = {
            route: {"url": f"{stack.gateway_url}{req['path']}", "headers": req["headers"], "body": req["body"]}
            for route, req in requests.items()
        }
        for name, path in (("gateway_floor", "/noop"), ("gateway_sqs_only", "/send")):
            targets[name] = {"url": f"{floor.url}{path}", "headers": {"content-type": "application/json"},
                             "body": requests["pipedrive"]["body"]}
        spec = {"n": n, "warmup": warmup, "targets": targets,
                "sqs": {"queue_url": stack.queue_url("SyncQueue"), "body": _baseline_message()}}
        done = subprocess.run([sys.executable, "-m", "bench.ack_client"], input=json.dumps(spec),
                              capture_output=True, text=True, cwd=ROOT, env=dict(os.environ), timeout=600,
                              check=False)
    finally:
        floor.stop()
    if done.returncode != 0:
        raise RuntimeError(f"ack client failed: {done.stderr[-3000:]}")
    out = json.loads(done.stdout)
    return {
        "summary": {name: summary_ms(values) for name, values in out["samples"].items()},
        "errors": out["errors"],
        "last_error": out["last_error"],
    }


def in_process(stack: Any, *, n: int, warmup: int) -> dict[str, Any]:
    specs = functions(load_template())
    requests = route_requests()
    events = {}
    for route, req in requests.items():
        event = json.loads(json.dumps(req["event"]))
        event["headers"] = {**{k: v for k, v in event["headers"].items()
                               if k not in ("authorization", "x-xero-signature")}, **req["headers"]}
        event["body"], event["isBase64Encoded"] = req["body"], False
        events[route] = event
    sqs = boto3.client("sqs")
    queue_url, message = stack.queue_url("SyncQueue"), _baseline_message()
    samples: dict[str, list[float]] = {name: [] for name in [*events, "sqs_send_message"]}
    errors = dict.fromkeys(samples, 0)
    for round_number in range(warmup + n):
        if round_number % EMPTY_EVERY_ROUNDS == 0:
            empty_queue(sqs, queue_url)
        keep = round_number >= warmup
        for route, event in events.items():
            spec = specs[ROUTES[route][0]]
            started = time.perf_counter()
            result = lambdas.invoke(spec, event)
            elapsed = time.perf_counter() - started
            if result.get("statusCode") != 200 or result.get("body"):
                errors[route] += 1
            elif keep:
                samples[route].append(elapsed)
        started = time.perf_counter()
        sqs.send_message(QueueUrl=queue_url, MessageBody=message)
        elapsed = time.perf_counter() - started
        if keep:
            samples["sqs_send_message"].append(elapsed)
    return {"summary": {name: summary_ms(values) for name, values in samples.items()}, "errors": errors}


def run(stack: Any, *, n: int = 500, warmup: int = 50) -> dict[str, Any]:
    assert stack.pollers is not None
    stack.pollers.stop()
    sqs = boto3.client("sqs")
    try:
        http = over_http(stack, n=n, warmup=warmup)
        local = in_process(stack, n=n, warmup=warmup)
    finally:
        empty_queue(sqs, stack.queue_url("SyncQueue"), max_batches=1000)
        stack.pollers.start()
    return {"http": http, "in_process": local, "n": n, "warmup": warmup}
