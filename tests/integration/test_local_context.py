"""The local stack's Lambda context counts down from the function's Timeout in template.yaml, so the
worker's time budget behaves locally as on Lambda."""

from __future__ import annotations

import dataclasses

from local.gateway import LambdaRuntime
from local.template import FunctionSpec, functions, load_template


def context_probe(timeout: int) -> FunctionSpec:
    """The template's worker spec (its Timeout), running a handler that reports its context."""
    worker = functions(load_template())["SyncWorkerFunction"]
    return dataclasses.replace(worker, logical_id=f"ContextProbe{timeout}", code_uri="tests/integration/fixtures/context_app",
                               handler="app.lambda_handler", timeout=timeout, events={})


def test_the_invoked_handler_has_the_worker_timeout_from_the_template_left():
    """Given the worker's Timeout from template.yaml, when the local runtime invokes it, then its context
    reports about that much time left (the poller invokes through the same runtime)."""
    timeout = functions(load_template())["SyncWorkerFunction"].timeout

    answer = LambdaRuntime().invoke(context_probe(timeout), {"Records": []})

    assert timeout * 1000 - 2000 < answer["remaining_ms"] <= timeout * 1000


def test_a_shorter_timeout_leaves_less_time():
    """Given two Timeouts, when each is invoked, then each context counts down from its own."""
    short, long_ = (LambdaRuntime().invoke(context_probe(t), {})["remaining_ms"] for t in (5, 60))
    assert short <= 5000 < 58_000 < long_
