"""Xero's daily limit reached mid-run: the rest is parked, not failed, raises the alarm metric, never
reaches the DLQ, and finishes once Xero's day resets (both clocks moved, nothing waited)."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import boto3
import httpx
import pytest

from crmbridge.sync import processor
from local.demo import wait_for
from tests.e2e.flow import line, running_flow, seed_deal, win
from tests.function_logs import function_logs_to

pytestmark = pytest.mark.e2e

DEALS = 10


def invoiced(flow, deals) -> int:
    table = boto3.resource("dynamodb").Table(flow["stack"].table_name("LinksTable"))
    return sum(bool((table.get_item(Key={"pk": f"deal#pipedrive#{d}", "sk": "invoice"}).get("Item") or {})
                    .get("written_back")) for d in deals)


def test_work_beyond_the_daily_limit_is_parked_and_finishes_after_the_reset():
    mp = pytest.MonkeyPatch()
    mp.setenv("PARK_RECHECK_SECONDS", "1")  # parked work is looked at every second, not every 15 minutes
    logs = io.StringIO()
    try:
        with function_logs_to(logs), running_flow() as flow:
            urls = flow["urls"]
            httpx.post(f"{urls.xero}/_emulator/limits", json={"day": 15}, timeout=5)
            deals = [seed_deal(flow["pipedrive"], org={"name": f"Daily {i} {uuid.uuid4().hex[:6]} Ltd"},
                               lines=[line("10.00")])[0] for i in range(DEALS)]
            for deal_id in deals:
                win(flow, deal_id)

            wait_for("the daily limit", lambda: "XeroDailyLimitReached" in logs.getvalue(), timeout=60)
            before_reset = invoiced(flow, deals)
            assert before_reset < DEALS

            # A day later, for Xero and for the bridge, with a full day's budget again.
            httpx.post(f"{urls.xero}/_emulator/clock", json={"advance": 86400 + 60}, timeout=5)
            httpx.post(f"{urls.xero}/_emulator/limits", json={"day": 5000}, timeout=5)
            real_now = processor.utcnow
            mp.setattr(processor, "utcnow", lambda: real_now() + timedelta(seconds=86400 + 60))
            wait_for("every deal invoiced after the reset", lambda: invoiced(flow, deals) == DEALS, timeout=120)
            dlq = boto3.client("sqs").get_queue_attributes(
                QueueUrl=flow["stack"].queue_url("SyncDeadLetterQueue"),
                AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]
    finally:
        mp.undo()

    assert int(dlq) == 0
    assert '"XeroDayLimitRemaining"' in logs.getvalue()
