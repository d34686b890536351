"""Backfill decisions: batching, pacing to Xero's counters, and resuming without creating twice.

The links table is moto's DynamoDB (the claim's conditions are the guard under test); the CRM and Xero
are in-memory fakes that keep every invoice they were asked to create.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from moto import mock_aws

from crmbridge.config import Settings
from crmbridge.crm.models import CrmDeal, CrmOrganisation
from crmbridge.errors import RateLimitedError
from crmbridge.mapping.config import MappingConfig
from crmbridge.ops.backfill import Backfill, backfill_owner, batch_idempotency_key, chunks
from crmbridge.ops.golive import GoLive
from crmbridge.ops.throttle import DailyBudgetReached, Throttle
from crmbridge.sync.contacts import ContactIndex, resolve_contact_with
from crmbridge.sync.links import Links
from crmbridge.xero.models import Contact, ContactRef, NewContact, NewInvoice
from tests.unit.test_ops_fakes import TENANT, WON, FakeCrm, FakeXero, links_table


@pytest.fixture
def links() -> Iterator[Links]:
    with mock_aws():
        yield Links(links_table())


def backfill(crm: FakeCrm, xero: FakeXero, links: Links, **options: Any) -> Backfill:
    golive = GoLive(target=None, settings=Settings(), crm=crm, xero=xero, links=links,  # type: ignore[arg-type]
                    mapping=MappingConfig(default_account_code="200"), tenant_id=TENANT)
    return Backfill(golive, Throttle(sleep=lambda s: None), **options)


# ----------------------------------------------------------------------------- batching


def test_deals_go_to_xero_fifty_per_request():
    # Given 120 deals, When batched, Then 50, 50 and 20
    assert [len(c) for c in chunks(list(range(120)), 50)] == [50, 50, 20]


def test_the_idempotency_key_follows_the_request_body():
    # Given two batches, one the same as the first
    one = NewInvoice(Contact=ContactRef(ContactID="c"), Date="2026-03-02", DueDate="2026-04-01", Reference="1",
                     CurrencyCode="GBP", LineAmountTypes="Exclusive",
                     LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": 1, "TaxType": "NONE"}])
    other = one.model_copy(update={"reference": "2"})
    # When keyed, Then the same request has the same key (a retry replays) and another has its own
    assert batch_idempotency_key(TENANT, [one]) == batch_idempotency_key(TENANT, [one])
    assert batch_idempotency_key(TENANT, [one]) != batch_idempotency_key(TENANT, [one, other])
    assert len(batch_idempotency_key(TENANT, [one])) <= 128


def test_a_backfill_creates_one_invoice_per_deal_in_batches(links):
    # Given 120 won deals
    crm, xero = FakeCrm(120), FakeXero()
    # When backfilled
    report = backfill(crm, xero, links).run()
    # Then 3 requests made 120 invoices, each recorded and written back
    assert (report.created, report.create_requests, len(xero.requests)) == (120, 3, 3)
    assert sorted(i.reference for i in xero.invoices) == sorted(crm.deals)
    assert len(crm.written) == 120
    assert all(links.invoice_for("pipedrive", d).state == "CREATED" for d in crm.deals)


def test_a_draft_written_back_is_recorded_as_the_crms_invoice_state(links):
    # Given a backfilled deal (DRAFT), When Xero's webhook about the new invoice reaches the worker
    crm, xero = FakeCrm(1), FakeXero()
    backfill(crm, xero, links).run()
    # Then the links table already holds the state the CRM has, so the worker has nothing to write
    assert links.invoice_state(TENANT, xero.invoices[0].invoice_id) == (WON.isoformat(), "DRAFT")


def test_an_authorised_invoice_leaves_its_state_to_the_worker(links):
    # Given an AUTHORISED backfill (it moves the customer's balance, which the worker writes)
    crm, xero = FakeCrm(1), FakeXero()
    backfill(crm, xero, links, status="AUTHORISED").run()
    # Then no state is recorded: the worker's run on Xero's webhook writes status and balance
    assert links.invoice_state(TENANT, xero.invoices[0].invoice_id) is None


def test_a_second_run_creates_nothing(links):
    # Given a completed backfill
    crm, xero = FakeCrm(60), FakeXero()
    backfill(crm, xero, links).run()
    # When it runs again
    report = backfill(crm, xero, links).run()
    # Then every deal is already invoiced and no request is sent
    assert (report.already_invoiced, report.created, len(xero.requests), len(xero.invoices)) == (60, 0, 2, 60)


# ----------------------------------------------------------------------------- resume


def test_a_run_whose_answer_was_lost_resumes_by_reference_without_creating_twice(links):
    # Given a backfill whose second batch was created in Xero but never answered, past its retries
    crm, xero = FakeCrm(120), FakeXero()
    xero.lose_answers = 0
    first = backfill(crm, xero, links, retries=0)
    original = xero.create_invoices
    calls = itertools.count()

    def lose_second(*args: Any, **kwargs: Any) -> Any:
        if next(calls) == 1:
            xero.lose_answers = 1
        return original(*args, **kwargs)

    xero.create_invoices = lose_second  # type: ignore[method-assign]
    stopped = first.run()
    assert stopped.stopped and stopped.created == 50 and len(xero.invoices) == 100
    # When the same backfill runs again
    report = backfill(crm, xero, links).run()
    # Then the lost batch's 50 invoices are found by Reference and adopted, the rest created: 120 in all
    assert (report.adopted, report.created, report.already_invoiced) == (50, 20, 50)
    assert len(xero.invoices) == 120 and len({i.reference for i in xero.invoices}) == 120
    assert xero.lookups == 1


def test_claims_of_a_live_worker_are_left_alone(links):
    # Given a deal a live worker is invoicing right now
    crm, xero = FakeCrm(3), FakeXero()
    links.claim("pipedrive", "2", tenant_id=TENANT, owner="worker-7", now=int(datetime.now(UTC).timestamp()),
                lease_seconds=60)
    # When backfilled
    report = backfill(crm, xero, links).run()
    # Then that deal is reported busy and not sent
    assert report.busy == ["2"] and sorted(i.reference for i in xero.invoices) == ["1", "3"]


def test_a_refused_invoice_is_released_and_reported(links):
    # Given Xero refuses one deal's invoice
    crm, xero = FakeCrm(3), FakeXero()
    xero.refuse_references = {"2"}
    # When backfilled
    report = backfill(crm, xero, links).run()
    # Then the others are created, the refused one reported with Xero's reason and free to retry
    assert report.created == 2 and [(f.deal_id, f.reason) for f in report.failed] == [("2", "xero_validation")]
    assert links.invoice_for("pipedrive", "2") is None


def test_the_backfill_takes_its_own_claims_over_at_once(links):
    # Given a claim the backfill's previous process held when it was killed before sending (lease running)
    now = int(datetime.now(UTC).timestamp())
    links.claim("pipedrive", "1", tenant_id=TENANT, owner=backfill_owner(TENANT), now=now, lease_seconds=300)
    crm, xero = FakeCrm(1), FakeXero()
    # When the backfill runs again
    report = backfill(crm, xero, links).run()
    # Then it creates the invoice at once: no attempt was recorded, so nothing had reached Xero
    assert (xero.lookups, report.created) == (0, 1)


# ----------------------------------------------------------------------------- pacing


def answer(minute: int, day: int = 4000, status: int = 200) -> httpx.Response:
    return httpx.Response(status, headers={"X-MinLimit-Remaining": str(minute), "X-DayLimit-Remaining": str(day)})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def paced(*answers: tuple[float, int], **options: Any) -> tuple[Throttle, Clock]:
    """A throttle that saw these (time, minute calls left) answers."""
    clock = Clock()
    throttle = Throttle(clock=lambda: clock.now, sleep=clock.sleep, **options)
    for at, left in answers:
        clock.now = at
        throttle.observe(TENANT, answer(left))
    return throttle, clock


def test_the_throttle_waits_for_the_window_that_opened_with_the_first_answer():
    # Given a window first seen at t=1000 and used up at t=1030
    throttle, clock = paced((1000, 59), (1030, 0))
    # When another call is due
    throttle.before_call()
    # Then it waits until that window must have closed (60 s after it was first seen, plus a margin)
    assert clock.slept == [pytest.approx(31.0)]


def test_the_throttle_does_not_wait_while_calls_are_left():
    throttle, clock = paced((1000, 10))
    throttle.before_call()
    assert clock.slept == []


def test_the_throttle_keeps_the_minute_reserve_for_the_live_sync():
    # Given 5 calls left and a reserve of 5
    throttle, clock = paced((1000, 5), minute_reserve=5)
    # When a call is due, Then it waits for the next window
    throttle.before_call()
    assert clock.slept


def test_a_new_window_is_noticed_when_more_calls_are_left_than_before():
    # Given a window used down to 3, then an answer showing 58 left (a new window) at t=1050
    throttle, _ = paced((1000, 3), (1050, 58))
    # Then the window is dated from that answer
    assert throttle.window_seen_at == 1050


def test_the_daily_budget_stops_the_work():
    # Given 100 calls left today and a reserve of 100
    throttle = Throttle(day_reserve=100)
    throttle.observe(TENANT, answer(50, day=100))
    # When a call is due, Then the backfill is told to stop
    with pytest.raises(DailyBudgetReached):
        throttle.before_call()


def test_a_429_waits_what_retry_after_says(links):
    # Given Xero answers one batch with a minute-limit 429 (Retry-After 7) then accepts it
    crm, xero = FakeCrm(2), FakeXero()
    original = xero.create_invoices
    refused = iter([True])

    def once(*args: Any, **kwargs: Any) -> Any:
        if next(refused, False):
            raise RateLimitedError("xero rate limit hit", retry_after_seconds=7, problem="minute")
        return original(*args, **kwargs)

    xero.create_invoices = once  # type: ignore[method-assign]
    job = backfill(crm, xero, links)
    waits: list[float] = []
    job.throttle.sleep = waits.append
    # When backfilled
    report = job.run()
    # Then it waited 7 s and sent the same request again
    assert waits == [7] and report.created == 2 and len(set(xero.requests)) == 1


# ----------------------------------------------------------------------------- contacts from an index


def test_the_index_resolves_contacts_as_the_sync_does():
    index = ContactIndex([Contact(ContactID="c1", Name="ACME Limited", EmailAddress="AP@acme.test"),
                          Contact(ContactID="c2", Name="Other Co", EmailAddress=None)])
    by_email = CrmDeal(id="1", title="t", status="won", currency="GBP",
                       organisation=CrmOrganisation(id="o", name="Anything", email="ap@acme.test"))
    by_name = CrmDeal(id="2", title="t", status="won", currency="GBP",
                      organisation=CrmOrganisation(id="o", name="Other Company Ltd"))
    new = CrmDeal(id="3", title="t", status="won", currency="GBP", organisation=CrmOrganisation(id="o", name="Newco"))
    assert resolve_contact_with(index, by_email) == ContactRef(ContactID="c1")
    assert resolve_contact_with(index, by_name) == ContactRef(ContactID="c2")
    assert isinstance(resolve_contact_with(index, new), NewContact)


def test_the_crms_burst_limit_is_waited_out_and_its_daily_budget_stops_the_run(links):
    # Given a CRM that answers one burst-limit 429, then runs out of its daily budget on the next batch
    crm, xero = FakeCrm(60), FakeXero()
    answers = iter([RateLimitedError("pipedrive rate limit hit", retry_after_seconds=2, problem="burst"), None,
                    RateLimitedError("pipedrive daily API token budget used up", retry_after_seconds=None,
                                     problem="daily")])
    read = crm.read_deals

    def limited(deal_ids):
        refusal = next(answers, None)
        if refusal is not None:
            raise refusal
        return read(deal_ids)

    crm.read_deals = limited  # type: ignore[method-assign]
    job = backfill(crm, xero, links)
    waits: list[float] = []
    job.crm_sleep = waits.append
    # When backfilled
    report = job.run()
    # Then the first batch waited 2 s and went through; the second stopped the run, to resume tomorrow
    assert waits == [2] and report.created == 50
    assert report.stopped and "daily" in report.stopped
