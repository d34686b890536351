"""Delivery failures: a failed or slow (> 5 s) answer is retried up to 10 times over 24 hours on the
moved clock, each retry signed afresh and numbered by attemptNumber."""

from __future__ import annotations

import itertools

from hubspot.utils.signature import Signature

from crmbridge.webhooks.signatures import verify_hubspot_v3
from local.emulators.common import parse_instant
from local.emulators.hubspot.config import HUBSPOT_RETRY_SCHEDULE

SECRET = "local-hubspot-secret"


def _clock_ms(control) -> int:
    return int(parse_instant(control.get("/clock").json()["now"]).timestamp() * 1000)


def _fail_once_and_start(control, hooked, seed_deal, settle) -> None:
    control.post("/clock", json={"freeze": True})
    refs = seed_deal()
    control.patch(f"/app/deals/{refs['deals']['deal']}", json={"properties": {"dealstage": "closedwon"}})
    hooked.wait_for(1)
    settle()


def test_failing_receiver_gets_ten_retries_over_24_hours(control, hooked, seed_deal, settle):
    # Given a receiver that always fails, and a frozen clock
    hooked.default_status = 500
    _fail_once_and_start(control, hooked, seed_deal, settle)
    # When the clock is moved just short of each retry, then onto it
    seen = []
    for delay in HUBSPOT_RETRY_SCHEDULE:
        control.post("/clock", json={"advance": delay - 1})
        settle()
        seen.append(len(hooked.requests))
        control.post("/clock", json={"advance": 1})
        hooked.wait_for(len(seen) + 1)
        settle()
    control.post("/clock", json={"advance": 7 * 24 * 3600})
    settle()
    # Then there were 11 attempts (attemptNumber 0..10) of the same event, within 24 hours, then none
    assert seen == list(range(1, 11))
    assert [r.events[0]["attemptNumber"] for r in hooked.requests] == list(range(11))
    assert len({r.events[0]["eventId"] for r in hooked.requests}) == 1
    (delivery,) = control.get("/webhooks").json()["deliveries"]
    times = [parse_instant(a["at"]) for a in delivery["attempts"]]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(times)] == list(HUBSPOT_RETRY_SCHEDULE)
    assert (times[-1] - times[0]).total_seconds() < 24 * 3600
    assert delivery["state"] == "failed"


def test_each_retry_is_signed_with_a_fresh_timestamp(control, hooked, seed_deal, settle):
    # Given a receiver that fails once
    hooked.statuses = [503]
    _fail_once_and_start(control, hooked, seed_deal, settle)
    # When the retry is due, a minute later on the emulator clock
    control.post("/clock", json={"advance": HUBSPOT_RETRY_SCHEDULE[0]})
    first, retry = hooked.wait_for(2)
    # Then the retry carries a new timestamp, and both verifiers accept it at that time
    assert int(retry.header("X-HubSpot-Request-Timestamp")) - int(first.header("X-HubSpot-Request-Timestamp")) == 60_000
    verify_hubspot_v3(method="POST", uri=hooked.url, raw_body=retry.raw,
                      timestamp_ms=retry.header("X-HubSpot-Request-Timestamp"),
                      signature=retry.header("X-HubSpot-Signature-v3"), client_secret=SECRET,
                      now_ms=lambda: _clock_ms(control))
    assert retry.header("X-HubSpot-Signature-v3") == Signature.get_signature(
        SECRET, retry.raw.decode("utf-8"), "v3", hooked.url, "POST", retry.header("X-HubSpot-Request-Timestamp"))
    assert retry.events[0]["attemptNumber"] == 1


def test_retry_stops_once_the_receiver_answers_2xx(control, hooked, seed_deal, settle):
    # Given a receiver that fails once then recovers
    hooked.statuses = [500]
    _fail_once_and_start(control, hooked, seed_deal, settle)
    # When the first retry is due, and much later
    control.post("/clock", json={"advance": HUBSPOT_RETRY_SCHEDULE[0]})
    hooked.wait_for(2)
    control.post("/clock", json={"advance": 2 * 24 * 3600})
    settle()
    # Then exactly two attempts were made and the delivery is done
    assert len(hooked.requests) == 2
    assert control.get("/webhooks").json()["deliveries"][0]["state"] == "delivered"


def test_answer_slower_than_the_timeout_is_retried(control, hooked, seed_deal, settle):
    # Given a 0.3 s timeout (HubSpot's is 5 s) and a receiver that takes 0.6 s, then answers fast
    control.post("/webhooks", json={"timeout": 0.3})
    hooked.delay = 0.6
    _fail_once_and_start(control, hooked, seed_deal, settle)
    hooked.delay = 0
    # When the retry is due
    control.post("/clock", json={"advance": HUBSPOT_RETRY_SCHEDULE[0]})
    hooked.wait_for(2)
    settle()
    # Then the slow 200 counted as a failure and the retry delivered it
    (delivery,) = control.get("/webhooks").json()["deliveries"]
    assert delivery["attempts"][0]["status"] is None and "timed out" in delivery["attempts"][0]["error"]
    assert delivery["state"] == "delivered"


def test_retry_schedule_can_be_scaled_for_real_time_tests(control, hooked, seed_deal):
    # Given retries scaled a thousandfold down (60 ms, 300 ms, ...)
    control.post("/webhooks", json={"retry_scale": 0.001})
    hooked.statuses = [500, 500]
    refs = seed_deal()
    # When a delivery fails twice without moving the clock
    control.patch(f"/app/deals/{refs['deals']['deal']}", json={"properties": {"dealstage": "closedwon"}})
    # Then the third attempt comes on its own
    assert [r.events[0]["attemptNumber"] for r in hooked.wait_for(3, timeout=5)] == [0, 1, 2]
