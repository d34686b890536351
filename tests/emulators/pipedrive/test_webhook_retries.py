"""Delivery failures: retries after 3, 30 and 150 s on the moved clock, and the ten-failure ban."""

from __future__ import annotations

import itertools

from local.emulators.common import parse_instant

from .conftest import register_webhook


def _settle(control) -> None:
    assert control.post("/webhooks/wait", json={"timeout": 5}).json() == {"idle": True}


def test_failed_delivery_is_retried_after_3_30_and_150_seconds_of_clock_time(api, control, receiver):
    # Given a webhook whose receiver fails every time, and a frozen clock
    receiver.default_status = 500
    register_webhook(api, receiver.url)
    control.post("/clock", json={"freeze": True})
    deal_id = api.post("/api/v2/deals", json={"title": "Flaky"}).json()["data"]["id"]
    receiver.wait_for(1)
    _settle(control)
    # When the clock is moved just short of each retry, then onto it
    seen = []
    for delay in (3, 30, 150):
        control.post("/clock", json={"advance": delay - 0.5})
        _settle(control)
        seen.append(len(receiver.requests))
        control.post("/clock", json={"advance": 0.5})
        receiver.wait_for(len(seen) + 1)
        _settle(control)
    control.post("/clock", json={"advance": 3600})
    _settle(control)
    # Then there were exactly four attempts, numbered 1..4, spaced 3/30/150 s apart, then none
    assert seen == [1, 2, 3]
    assert [r.body["meta"]["attempt"] for r in receiver.requests] == [1, 2, 3, 4]
    assert len({r.body["meta"]["id"] for r in receiver.requests}) == 1
    assert all(r.body["data"]["id"] == deal_id for r in receiver.requests)
    (delivery,) = control.get("/webhooks").json()["deliveries"]
    times = [parse_instant(a["at"]) for a in delivery["attempts"]]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(times)] == [3, 30, 150]
    assert delivery["state"] == "failed"


def test_retry_stops_once_the_receiver_answers_2xx(api, control, receiver):
    # Given a receiver that fails once then recovers
    receiver.statuses = [503]
    register_webhook(api, receiver.url)
    control.post("/clock", json={"freeze": True})
    api.post("/api/v2/deals", json={"title": "Recovers"})
    receiver.wait_for(1)
    _settle(control)
    # When the first retry is due
    control.post("/clock", json={"advance": 3})
    receiver.wait_for(2)
    control.post("/clock", json={"advance": 1000})
    _settle(control)
    # Then the second attempt succeeded and nothing more was sent
    assert [r.body["meta"]["attempt"] for r in receiver.requests] == [1, 2]
    assert control.get("/webhooks").json()["deliveries"][0]["state"] == "delivered"


def test_retry_schedule_can_be_scaled(api, control, receiver):
    # Given retries scaled down a hundredfold (0.03 / 0.3 / 1.5 s of clock time)
    control.post("/webhooks", json={"retry_scale": 0.01})
    receiver.statuses = [500, 500]
    register_webhook(api, receiver.url)
    # When a delivery fails twice in real time
    api.post("/api/v2/deals", json={"title": "Quick retries"})
    # Then the third attempt comes without moving the clock
    assert [r.body["meta"]["attempt"] for r in receiver.wait_for(3, timeout=3)] == [1, 2, 3]


def test_ten_first_attempt_failures_ban_the_webhook_and_lose_events(api, control, receiver):
    # Given a failing receiver (no retries, to keep the count simple)
    control.post("/webhooks", json={"retry_schedule": []})
    receiver.default_status = 500
    hook = register_webhook(api, receiver.url)
    control.post("/clock", json={"freeze": True})
    # When ten events fail on their first attempt, then an eleventh event happens
    for index in range(10):
        api.post("/api/v2/deals", json={"title": f"Deal {index}"})
    receiver.wait_for(10)
    _settle(control)
    api.post("/api/v2/deals", json={"title": "Lost"})
    _settle(control)
    # Then the webhook is banned for 30 minutes and the eleventh event was lost, not sent
    state = control.get("/webhooks").json()
    (ban,) = state["bans"]
    assert (parse_instant(ban["until"]) - parse_instant(ban["at"])).total_seconds() == 1800
    assert [lost["webhook_id"] for lost in state["lost_events"]] == [hook["id"]]
    assert len(receiver.requests) == 10
    # And after the ban, events flow again
    receiver.default_status = 200
    control.post("/clock", json={"advance": 1800})
    api.post("/api/v2/deals", json={"title": "After the ban"})
    assert receiver.wait_for(11)[-1].body["data"]["title"] == "After the ban"


def test_webhook_without_a_successful_delivery_for_three_days_is_deleted(api, control, receiver):
    # Given a webhook whose receiver always fails (no retries) and a frozen clock
    control.post("/webhooks", json={"retry_schedule": []})
    receiver.default_status = 500
    register_webhook(api, receiver.url)
    control.post("/clock", json={"freeze": True})
    api.post("/api/v2/deals", json={"title": "Day 0"})
    receiver.wait_for(1)
    _settle(control)
    # When three days pass and another delivery fails
    control.post("/clock", json={"advance": 3 * 24 * 3600})
    api.post("/api/v2/deals", json={"title": "Day 3"})
    receiver.wait_for(2)
    _settle(control)
    # Then Pipedrive deletes the webhook
    assert api.get("/v1/webhooks").json()["data"] == []
    (removed,) = control.get("/webhooks").json()["removed_subscriptions"]
    assert removed["reason"] == "no successful delivery for 3 days"
