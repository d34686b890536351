"""bridgectl against the local stack: what an operator sees and does, over the same moto, emulators and
worker the bridge runs on.

The CLI runs in-process (crmbridge.ops.cli.run_cli, with its own output streams) with AWS_ENDPOINT_URL pointing at this module's moto, so
`--local` (the default without BRIDGE_STACK) finds the stack on its ephemeral ports; one test runs the
installed console script in a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import httpx
import pytest

from crmbridge.commands import DealWon, QueueMessage
from crmbridge.ops.cli import run_cli
from local.credentials import credential
from local.demo import Pipedrive, Report, Urls, Xero, connect_xero, wait_for
from local.stack import LocalStack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bridge() -> Iterator[dict[str, Any]]:
    with LocalStack.ephemeral(visibility_timeout=2, schedule_speedup=0) as stack:
        urls = Urls(gateway=stack.urls["gateway"], xero=stack.urls["xero"], pipedrive=stack.urls["pipedrive"])
        connect_xero(urls, Report(out=open("/dev/null", "w")))  # noqa: SIM115 - the report is discarded
        xero = Xero(urls.xero)
        xero.sign_in()
        httpx.post(f"{urls.pipedrive}/_emulator/ratelimit", json={"burst_limit": 100000}, timeout=5)
        httpx.post(f"{urls.xero}/_emulator/limits", json={"minute": 100000}, timeout=5)
        yield {"stack": stack, "urls": urls, "pipedrive": Pipedrive(urls.pipedrive), "xero": xero,
               "sqs": boto3.client("sqs", endpoint_url=stack.urls["moto"])}


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


def bridgectl(bridge: dict[str, Any], *args: str, code: int = 0) -> Ran:
    """Run the CLI in-process against this module's stack (its own output streams: the stack's
    functions log to sys.stdout from other threads); asserts the exit code."""
    env = {"AWS_ENDPOINT_URL": bridge["stack"].urls["moto"], "COLUMNS": "200"}
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env):
        os.environ.pop("BRIDGE_STACK", None)
        result = Ran(run_cli(list(args), stdout=out, stderr=err), out.getvalue(), err.getvalue())
    assert result.code == code, f"bridgectl {' '.join(args)} -> {result.code}\n{result.stdout}\n{result.stderr}"
    return result


def as_json(bridge: dict[str, Any], *args: str, code: int = 0) -> Any:
    return json.loads(bridgectl(bridge, *args, "--json", code=code).stdout)


def seed_deal(pipedrive: Pipedrive, *, with_org: bool, status: str = "open") -> int:
    ref = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {"deals": [{"ref": "d", "title": f"Deal {ref}", "currency": "GBP", "value": 0,
                                       "status": status, "products": [{"product_ref": "p", "item_price": 5.0,
                                                                       "quantity": 1, "tax": 20,
                                                                       "tax_method": "exclusive"}]}],
                            "products": [{"ref": "p", "name": "Service", "code": None}]}
    if with_org:
        body["organizations"] = [{"ref": "o", "name": f"Ops {ref} Ltd"}]
        body["deals"][0]["org_ref"] = "o"
    return pipedrive.seed(body)["refs"]["deals"]["d"]


def invoices(bridge: dict[str, Any], deal_id: int) -> list[dict[str, Any]]:
    return bridge["xero"].invoices(str(deal_id))


def one_invoice(bridge: dict[str, Any], deal_id: int) -> dict[str, Any]:
    wait_for(f"deal {deal_id}'s invoice", lambda: invoices(bridge, deal_id), timeout=30)
    bridge["stack"].drain(timeout=30)
    found = invoices(bridge, deal_id)
    assert len(found) == 1, found
    return found[0]


def dlq_depth(bridge: dict[str, Any]) -> int:
    attributes = bridge["sqs"].get_queue_attributes(
        QueueUrl=bridge["stack"].queue_url("SyncDeadLetterQueue"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_a_permanent_failure_is_shown_then_resynced_into_exactly_one_invoice(bridge):
    deal_id = seed_deal(bridge["pipedrive"], with_org=False)
    bridge["pipedrive"].app_update_deal(deal_id, {"status": "won"})
    subject = f"deal#pipedrive#{deal_id}"

    status = wait_for("the failure in status", lambda: next(
        (f for f in as_json(bridge, "status")["failures"] if f["subject"] == subject), None), timeout=30)
    assert status["reason"] == "no_organisation"
    assert "organisation" in status["message"]
    report = as_json(bridge, "status")
    # The webhook functions note a source at most once a minute per process: present, maybe not yet set.
    assert [w["source"] for w in report["webhooks"]][:1] == ["pipedrive"]
    assert "xero" in [w["source"] for w in report["webhooks"]]
    activity = {a["direction"]: a for a in as_json(bridge, "status", "--activity")["activity"]}
    assert activity["crm_to_xero"]["last_at"] is not None and activity["crm_to_xero"]["entries"] >= 1
    table = bridgectl(bridge, "status").stdout
    assert "Last webhook received" in table
    assert "no_organisation" in table and f"deal {deal_id} (pipedrive)" in table
    assert "CONNECTED" in table and "SyncDeadLetterQueue" in table

    history = as_json(bridge, "history", "deal", str(deal_id))
    assert history["record"]["status"] == "FAILED"
    assert [(e["direction"], e["outcome"], e["reason"]) for e in history["entries"]] == [
        ("crm_to_xero", "failed", "no_organisation")]
    assert "no_organisation" in bridgectl(bridge, "history", "deal", str(deal_id)).stdout

    # Sales gives the deal its organisation; ops re-runs it.
    org_id = bridge["pipedrive"].seed({"organizations": [{"ref": "o", "name": f"Fixed {uuid.uuid4().hex[:6]} Ltd"}]})[
        "refs"]["organizations"]["o"]
    bridge["pipedrive"].app_update_deal(deal_id, {"org_id": org_id})
    failed_command = DealWon.model_validate_json(status["command"])
    enqueued = as_json(bridge, "resync", "deal", str(deal_id))
    assert enqueued["command"] | {"source_event_id": None} == {
        "kind": "deal_won", "crm": "pipedrive", "deal_id": str(deal_id), "won_time": failed_command.won_time,
        "source_event_id": None, "resync": True, "reinvoice": False}

    invoice = one_invoice(bridge, deal_id)
    history = as_json(bridge, "history", "deal", str(deal_id))
    assert history["record"]["status"] == "OK"
    assert [e["outcome"] for e in history["entries"]] == ["failed", "done"]
    assert history["links"]["invoice_id"] == invoice["InvoiceID"]

    # A second resync finds the invoice: still exactly one.
    bridgectl(bridge, "resync", "deal", str(deal_id))
    bridge["stack"].drain(timeout=30)
    assert len(invoices(bridge, deal_id)) == 1
    assert subject not in {f["subject"] for f in as_json(bridge, "status")["failures"]}

    # The invoice's Xero state is pushed to the CRM on request (the only tenant is the default).
    resynced = as_json(bridge, "resync", "invoice", invoice["InvoiceID"])
    assert resynced["command"]["kind"] == "xero_changed" and resynced["command"]["category"] == "INVOICE"
    bridge["stack"].drain(timeout=30)
    invoice_history = as_json(bridge, "history", "invoice", invoice["InvoiceID"])
    assert invoice_history["links"]["deal_id"] == str(deal_id)
    assert [(e["direction"], e["outcome"]) for e in invoice_history["entries"]][-1] == ("xero_to_crm", "done")


def test_dead_letters_are_listed_shown_and_redriven_one_then_all(bridge):
    deals = [seed_deal(bridge["pipedrive"], with_org=True, status="won") for _ in range(3)]
    dlq_url = bridge["stack"].queue_url("SyncDeadLetterQueue")
    ids = {}
    for deal_id in deals:
        body = QueueMessage(command=DealWon(crm="pipedrive", deal_id=str(deal_id))).model_dump_json()
        ids[deal_id] = bridge["sqs"].send_message(QueueUrl=dlq_url, MessageBody=body)["MessageId"]

    listing = as_json(bridge, "dlq", "list")
    listed = {m["message_id"]: m for m in listing["messages"]}
    assert set(ids.values()) <= set(listed)
    first = listed[ids[deals[0]]]
    assert first["command"]["deal_id"] == str(deals[0]) and first["label"].startswith(f"deal {deals[0]} ")
    assert first["reason"]["reason"] == "unknown: see logs"
    assert first["receive_count"] >= 1 and first["age_seconds"] >= 0
    assert dlq_depth(bridge) == 3  # listing consumed nothing
    table = bridgectl(bridge, "dlq", "list").stdout
    assert all(message_id in table for message_id in ids.values()) and "unknown: see logs" in table

    shown = as_json(bridge, "dlq", "show", ids[deals[0]])
    assert shown["message"]["command"]["deal_id"] == str(deals[0])
    assert json.loads(shown["body"])["command"]["deal_id"] == str(deals[0])
    assert "unknown: see logs" in bridgectl(bridge, "dlq", "show", ids[deals[0]]).stdout

    # Dry runs change nothing.
    dry_one = as_json(bridge, "dlq", "redrive", ids[deals[0]], "--dry-run")
    dry_all = as_json(bridge, "dlq", "redrive", "--all", "--dry-run")
    assert [m["message_id"] for m in dry_one["moved"]] == [ids[deals[0]]]
    assert {m["message_id"] for m in dry_all["moved"]} == set(ids.values())
    assert "dry run" in bridgectl(bridge, "dlq", "redrive", "--all", "--dry-run").stdout
    bridge["stack"].drain(timeout=30)
    assert dlq_depth(bridge) == 3
    assert all(invoices(bridge, d) == [] for d in deals)

    moved = as_json(bridge, "dlq", "redrive", ids[deals[0]])
    assert [m["message_id"] for m in moved["moved"]] == [ids[deals[0]]]
    one_invoice(bridge, deals[0])
    assert dlq_depth(bridge) == 2
    assert invoices(bridge, deals[1]) == [] and invoices(bridge, deals[2]) == []

    moved = as_json(bridge, "dlq", "redrive", "--all")
    assert {m["message_id"] for m in moved["moved"]} == {ids[deals[1]], ids[deals[2]]}
    for deal_id in deals:
        one_invoice(bridge, deal_id)
    assert dlq_depth(bridge) == 0
    assert as_json(bridge, "dlq", "list")["messages"] == []
    assert "not in the dead-letter queue" in bridgectl(bridge, "dlq", "show", ids[deals[0]], code=1).stderr


def test_connect_prints_a_url_that_connects_through_the_callback(bridge):
    urls = bridge["urls"]
    link = as_json(bridge, "connect", "--authorize-url", f"{urls.xero}/identity/connect/authorize",
                   "--redirect-uri", f"{urls.gateway}/oauth/xero/callback")
    assert link["client_id"] == credential("XERO_CLIENT_ID")
    assert credential("XERO_CLIENT_SECRET") not in json.dumps(link)

    consent = httpx.get(link["url"], timeout=10)
    assert consent.status_code in (302, 303)
    landing = httpx.get(consent.headers["location"], timeout=20)
    assert landing.status_code == 200 and "connected" in landing.text.lower()
    [connection] = as_json(bridge, "status")["connections"]
    assert connection["status"] == "CONNECTED" and connection["access_token_valid"]
    assert "access_token" not in connection and "refresh_token" not in connection


def test_the_console_script_finds_the_local_stack_from_the_environment(bridge):
    script = Path(sys.executable).with_name("bridgectl")
    env = {**os.environ, "AWS_ENDPOINT_URL": bridge["stack"].urls["moto"]}
    env.pop("BRIDGE_STACK", None)
    done = subprocess.run([str(script), "--local", "status", "--json"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [q["queue"] for q in report["queues"]] == ["SyncQueue", "SyncDeadLetterQueue"]
    assert report["target"] == f"local stack at {bridge['stack'].urls['moto']}"
