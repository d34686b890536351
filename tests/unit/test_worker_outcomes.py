"""The worker's error boundary: what becomes of a message for each kind of failure."""

from datetime import UTC, datetime, timedelta

import pytest

from crmbridge.commands import DealWon, QueueMessage
from crmbridge.errors import PermanentError, RateLimitedError, RetryableError
from crmbridge.sync.processor import Worker

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
COMMAND = DealWon(crm="pipedrive", deal_id="7")


class FakeQueue:
    def __init__(self):
        self.parked, self.attempts = [], []

    def park(self, message, *, until, delay_seconds, attempt):
        self.parked.append((message, until, delay_seconds))
        self.attempts.append(attempt)


class FakeRecords:
    def __init__(self):
        self.failed_with, self.succeeded_with = [], []

    def failed(self, command, error, *, at):
        self.failed_with.append(error.reason)

    def succeeded(self, command, *, at, summary):
        self.succeeded_with.append(summary)


def worker(handler):
    return Worker(queue=FakeQueue(), records=FakeRecords(), handlers={"deal_won": handler},
                  run_once=lambda key, thunk: thunk(), clock=lambda: NOW)


def body(**kw):
    return QueueMessage(command=COMMAND, **kw).model_dump_json()


def test_success_is_recorded_and_acknowledged():
    w = worker(lambda c: {"outcome": "invoiced"})
    assert w.process(body()).status == "done"
    assert w.records.succeeded_with == [{"outcome": "invoiced"}]


def test_rate_limit_parks_the_message_for_retry_after_seconds():
    def limited(c):
        raise RateLimitedError("429", retry_after_seconds=42, problem="minute")

    w = worker(limited)
    assert w.process(body()).status == "parked"
    [(_, until, delay)] = w.queue.parked
    assert (until, delay) == (NOW + timedelta(seconds=42), 42)


def test_daily_limit_beyond_sqs_max_delay_is_parked_until_the_reset():
    def limited(c):
        raise RateLimitedError("429", retry_after_seconds=5 * 3600, problem="day")

    w = worker(limited)
    w.process(body())
    [(_, until, delay)] = w.queue.parked
    assert until == NOW + timedelta(hours=5)  # the message carries when it is due...
    assert delay == 900  # ...and comes back to be looked at again within SQS's 15-minute maximum


def test_a_parked_message_that_is_not_due_goes_back_without_running():
    calls = []
    w = worker(lambda c: calls.append(c) or {})
    w.process(body(not_before=NOW + timedelta(hours=1), attempt=3))
    assert calls == [] and w.queue.parked[0][1] == NOW + timedelta(hours=1)


def test_transient_errors_back_off_exponentially():
    def flaky(c):
        raise RetryableError("503")

    delays = []
    for attempt in (0, 3, 6):
        w = worker(flaky)
        w.process(body(attempt=attempt))
        delays.append(w.queue.parked[0][2])
    assert delays[0] <= 2 < delays[1] <= 16 < delays[2] <= 128


def test_only_faults_without_a_stated_wait_count_as_attempts_of_the_backoff():
    def busy(c):
        raise RetryableError("deal 7 is being invoiced by another worker", retry_after_seconds=5)

    def flaky(c):
        raise RetryableError("timed out")

    waited, backed_off, not_due = worker(busy), worker(flaky), worker(flaky)
    waited.process(body(attempt=2))
    backed_off.process(body(attempt=2))
    not_due.process(body(not_before=NOW + timedelta(minutes=5), attempt=2))

    assert waited.queue.attempts == [2] and not_due.queue.attempts == [2]
    assert backed_off.queue.attempts == [3]


def test_permanent_error_is_recorded_with_its_reason_and_acknowledged():
    def broken(c):
        raise PermanentError("no_organisation", "deal 7 has no organisation")

    w = worker(broken)
    assert w.process(body()).status == "failed"
    assert w.records.failed_with == ["no_organisation"] and w.queue.parked == []


def test_a_bug_fails_the_record_so_sqs_redrives_it_to_the_dlq():
    def bug(c):
        raise KeyError("oops")

    with pytest.raises(KeyError):
        worker(bug).process(body())


def test_a_malformed_message_fails_the_record():
    with pytest.raises(ValueError):
        worker(lambda c: {}).process('{"command": {"kind": "unknown"}}')


@pytest.mark.parametrize(("problem", "alarm_metric"), [
    ("day", "XeroDailyLimitReached"), ("daily", "CrmDailyLimitReached"), ("hubspot_daily", "CrmDailyLimitReached"),
])
def test_a_used_up_daily_budget_parks_the_work_and_raises_its_alarm_metric(problem, alarm_metric):
    def limited(c):
        raise RateLimitedError("429", retry_after_seconds=3600, problem=problem)

    metrics = []
    w = worker(limited)
    w.on_metric = lambda name, value: metrics.append(name)

    assert w.process(body()).status == "parked"
    assert alarm_metric in metrics


def test_a_burst_limit_raises_no_daily_alarm():
    def limited(c):
        raise RateLimitedError("429", retry_after_seconds=2, problem="burst")

    metrics = []
    w = worker(limited)
    w.on_metric = lambda name, value: metrics.append(name)
    w.process(body())

    assert metrics == ["RateLimited"]
