"""Rate limits per tenant and per app, on the emulator clock."""

from __future__ import annotations

import threading
import time

import httpx


def test_every_api_response_carries_the_remaining_limits(api):
    # Given a fresh minute
    # When one call is made
    response = api.get("/Contacts")
    # Then the three remaining counters come back
    assert response.headers["X-MinLimit-Remaining"] == "59"
    assert response.headers["X-DayLimit-Remaining"] == "4999"
    assert response.headers["X-AppMinLimit-Remaining"] == "9999"


def test_61st_call_in_a_minute_is_429_with_retry_after(api, emulator_control):
    # Given 60 calls within one minute of emulator time
    for _ in range(60):
        assert api.get("/TaxRates").status_code == 200
    emulator_control("clock", {"advance": 20})
    # When the 61st is made 20 seconds into the window
    response = api.get("/TaxRates")
    # Then Xero's minute limit answers, with the seconds left in the window
    assert response.status_code == 429
    assert response.headers["X-Rate-Limit-Problem"] == "minute"
    assert 39 <= int(response.headers["Retry-After"]) <= 40
    assert response.headers["X-MinLimit-Remaining"] == "0"


def test_minute_window_resets_after_retry_after(api, emulator_control):
    # Given the minute limit reached
    emulator_control("limits", {"minute": 3})
    for _ in range(3):
        api.get("/TaxRates")
    refused = api.get("/TaxRates")
    assert refused.status_code == 429
    # When the clock moves by Retry-After
    emulator_control("clock", {"advance": int(refused.headers["Retry-After"])})
    # Then calls are accepted again
    assert api.get("/TaxRates").status_code == 200


def test_daily_limit_is_reported_as_day_with_retry_after(api, emulator_control):
    # Given a day limit of 3 (lowered for the test), used up
    emulator_control("limits", {"day": 3})
    for _ in range(3):
        api.get("/TaxRates")
    # When one more call is made
    response = api.get("/TaxRates")
    # Then the problem is the day, and Retry-After points to the end of the 24-hour window
    assert response.status_code == 429
    assert response.headers["X-Rate-Limit-Problem"] == "day"
    assert int(response.headers["Retry-After"]) > 23 * 3600


def test_app_wide_minute_limit_spans_tenants(api, emulator_control):
    # Given a second connected organisation and an app-wide limit of 2 per minute
    other = emulator_control("orgs", {"name": "Second Org Ltd"})
    emulator_control("limits", {"app_minute": 2})
    api.get("/TaxRates")
    api.get("/TaxRates", headers={"xero-tenant-id": other["tenantId"]})
    # When a third call is made, for either tenant
    response = api.get("/TaxRates")
    # Then the app-wide minute limit answers (no Retry-After for this one)
    assert response.status_code == 429
    assert response.headers["X-Rate-Limit-Problem"] == "appminute"
    assert "Retry-After" not in response.headers


def test_limits_are_per_tenant(api, emulator_control):
    # Given the demo tenant at its minute limit
    other = emulator_control("orgs", {"name": "Second Org Ltd"})
    emulator_control("limits", {"minute": 2})
    api.get("/TaxRates")
    api.get("/TaxRates")
    assert api.get("/TaxRates").status_code == 429
    # When another tenant calls
    response = api.get("/TaxRates", headers={"xero-tenant-id": other["tenantId"]})
    # Then it has its own budget
    assert response.status_code == 200


def test_sixth_concurrent_call_is_refused_as_concurrent(api, xero, emulator_control):
    # Given five calls held in flight (each slowed by an injected 10 s delay)
    emulator_control("faults", {"kind": "timeout", "seconds": 10, "count": 5, "path_prefix": "/api.xro/2.0/Contacts"})
    headers = api.headers()
    threads = [threading.Thread(target=lambda: httpx.get(f"{xero.api_url}/Contacts", headers=headers, timeout=15))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        tenants = emulator_control("state", method="GET")["rate_limits"]["tenants"]
        if tenants.get(xero.tenant_id, {}).get("in_flight") == 5:
            break
        time.sleep(0.02)
    # When a sixth call arrives
    response = api.get("/TaxRates")
    # Then it is refused as concurrent, without Retry-After
    emulator_control("faults", method="DELETE")  # releases the held calls
    for thread in threads:
        thread.join()
    assert response.status_code == 429
    assert response.headers["X-Rate-Limit-Problem"] == "concurrent"
    assert "Retry-After" not in response.headers
