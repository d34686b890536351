"""Unit tests of the pieces: exact JSON, the clock, fault rules, the where parser, Xero dates."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from local.emulators.common import Clock, FaultInjector, jsonutil
from local.emulators.xero.dates import ms_date, parse_date, parse_timestamp, webhook_event_date
from local.emulators.xero.where import WhereError, compile_where


def test_json_writes_decimals_with_their_exact_digits():
    # Given money as Decimal
    # When written
    text = jsonutil.dumps({"Total": Decimal("40.00"), "Rate": Decimal("1.000000"), "n": 3, "ok": True})
    # Then the digits are kept as JSON numbers
    assert text == '{"Total":40.00,"Rate":1.000000,"n":3,"ok":true}'


def test_json_reads_numbers_as_decimals():
    # Given a float-looking number
    # When read
    value = jsonutil.loads('{"UnitAmount": 19.99}')["UnitAmount"]
    # Then it is an exact Decimal
    assert value == Decimal("19.99") and isinstance(value, Decimal)


def test_clock_advance_moves_time_forward():
    # Given a clock
    clock = Clock()
    before = clock.now()
    # When advanced by an hour
    clock.advance(3600)
    # Then it reads an hour later
    assert 3600 <= (clock.now() - before).total_seconds() < 3601


def test_clock_listeners_hear_every_move():
    # Given a listener
    clock = Clock()
    heard = []
    clock.on_change(lambda: heard.append(1))
    # When the clock is moved twice
    clock.advance(1)
    clock.set(datetime(2030, 1, 1, tzinfo=UTC))
    # Then it was told twice
    assert len(heard) == 2


def test_fault_count_rule_fires_exactly_n_times():
    # Given a rule for the next 2 calls
    faults = FaultInjector(threading.RLock())
    faults.configure({"kind": "500", "count": 2})
    # When 3 calls come in
    fired = [faults.pick("GET", "/x") is not None for _ in range(3)]
    # Then the first two are hit
    assert fired == [True, True, False]


def test_fault_rule_filters_by_method_and_prefix():
    # Given a rule on POST /api only
    faults = FaultInjector(threading.RLock())
    faults.configure({"kind": "drop", "method": "post", "path_prefix": "/api"})
    # When other calls come in
    # Then they are not hit
    assert faults.pick("GET", "/api/x") is None
    assert faults.pick("POST", "/other") is None
    assert faults.pick("POST", "/api/x").kind == "drop"


def test_fault_rate_must_be_between_0_and_1():
    # Given a rate of 2
    # When configured
    # Then it is refused
    with pytest.raises(ValueError):
        FaultInjector(threading.RLock()).configure({"kind": "500", "rate": 2})


@pytest.mark.parametrize("clause, expected", [
    ('Status=="AUTHORISED" OR Status=="PAID"', ["a", "b"]),
    ('NOT (Status=="PAID")', ["a", "c"]),
    ('Name.Contains("cme")', ["a"]),
    ('Name.StartsWith("Glo") && AmountDue > 5', ["b"]),
    ("Date >= DateTime(2026, 02, 01)", ["b", "c"]),
    ('Name.ToLower()=="acme"', ["a"]),
    ("IsCustomer", ["a"]),
    ('Reference==null', ["c"]),
])
def test_where_expressions(clause, expected):
    # Given three records
    records = [
        {"id": "a", "Name": "Acme", "Status": "AUTHORISED", "AmountDue": Decimal("5"), "Date": date(2026, 1, 15),
         "IsCustomer": True, "Reference": "r1"},
        {"id": "b", "Name": "Globex", "Status": "PAID", "AmountDue": Decimal("10"), "Date": date(2026, 2, 1),
         "IsCustomer": False, "Reference": "r2"},
        {"id": "c", "Name": "Initech", "Status": "DRAFT", "AmountDue": Decimal("0"), "Date": date(2026, 3, 1),
         "IsCustomer": False, "Reference": None},
    ]
    fields = {"name", "status", "amountdue", "date", "iscustomer", "reference"}
    # When filtered
    predicate = compile_where(clause, "Invoice", fields=fields)
    # Then the expected records match
    assert [r["id"] for r in records if predicate(r)] == expected


def test_where_syntax_error_is_reported():
    # Given an unterminated clause
    # When compiled
    # Then it is a parse error
    with pytest.raises(WhereError):
        compile_where('Status=="AUTHORISED" AND', "Invoice")


def test_xero_dates_round_trip():
    # Given the SDK's /Date(ms)/ and a plain ISO date
    # When parsed and written back
    # Then both give the same calendar day in Xero's format
    assert parse_date("/Date(1539993600000)/") == date(2018, 10, 20)
    assert parse_date("2018-10-20") == date(2018, 10, 20)
    assert ms_date(date(2018, 10, 20)) == "/Date(1539993600000+0000)/"


def test_if_modified_since_accepts_iso_and_http_dates():
    # Given the two header styles clients send
    # When parsed
    # Then both are the same UTC instant
    assert parse_timestamp("2026-09-27T08:05:09") == parse_timestamp("Sun, 27 Sep 2026 08:05:09 GMT")


def test_webhook_event_dates_look_like_xeros():
    # Given an instant
    # When written for eventDateUtc
    # Then it has milliseconds and no zone, as in Xero's examples
    assert webhook_event_date(datetime(2024, 6, 21, 1, 15, 39, 902000, tzinfo=UTC)) == "2024-06-21T01:15:39.902"
