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
        self.failed_with, self.succeeded_with, self.parked_with, self.failure_messages = [], [], [], []

    def failed(self, command, error, *, at, extra=None):
        self.failed_with.append(error.reason)
        self.failure_messages.append((error.message, extra or {}))

    def succeeded(self, command, *, at, summary):
        self.succeeded_with.append(summary)

    def parked(self, command, *, why, until, since, gives_up_at, at):
        self.parked_with.append({"why": why, "until": until, "since": since, "gives_up_at": gives_up_at})


class FakeHistory:
    def __init__(self):
        self.entries = []

    def add(self, command, *, at, outcome, **details):
        self.entries.append({"outcome": outcome, **details})


def worker(handler):
    return Worker(queue=FakeQueue(), records=FakeRecords(), handlers={"deal_won": handler},
                  run_once=lambda key, thunk: thunk(), clock=lambda: NOW, history=FakeHistory())


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


def test_a_bug_is_recorded_with_its_exception_type_and_message_not_a_park_reason():
    """Given a deal that parked once (another worker held it), when the next attempt hits a bug, then the
    subject's newest history entry (what `bridgectl dlq list` shows) names the exception, and the record
    still fails so that SQS's bounded redelivery ends it in the DLQ."""
    attempts = iter([RetryableError("deal 7 is being invoiced by another worker", retry_after_seconds=5),
                     OverflowError("date value out of range")])

    def handler(c):
        raise next(attempts)

    w = worker(handler)
    w.process(body())
    with pytest.raises(OverflowError):
        w.process(w.queue.parked[0][0].model_copy(update={"not_before": None}).model_dump_json())

    newest = w.history.entries[-1]
    assert newest == {"outcome": "error", "reason": "unexpected_error",
                      "error": "OverflowError: date value out of range"}


def test_a_misconfiguration_is_recorded_as_a_configuration_error():
    """Given a missing secret setting, when a deal is processed, then its history names the ConfigError."""
    from crmbridge.errors import ConfigError

    def misconfigured(c):
        raise ConfigError("PIPEDRIVE_SECRET_ARN is not set for this function")

    w = worker(misconfigured)
    with pytest.raises(ConfigError):
        w.process(body())
    assert w.history.entries[-1]["reason"] == "configuration_error"
    assert "PIPEDRIVE_SECRET_ARN is not set" in w.history.entries[-1]["error"]


def test_a_parked_command_is_recorded_as_parked_with_why_until_and_when_it_gives_up():
    """Given a tenant without tokens, when its event parks for an hour, then the record says so."""
    def not_connected(c):
        raise RetryableError("tenant T is not connected", retry_after_seconds=3600)

    w = worker(not_connected)
    assert w.process(body()).status == "parked"

    [parked] = w.records.parked_with
    assert parked == {"why": "tenant T is not connected", "until": NOW + timedelta(hours=1), "since": NOW,
                      "gives_up_at": NOW + timedelta(days=3)}
    assert w.queue.parked[0][0].first_parked_at == NOW


def test_work_parked_longer_than_the_limit_becomes_a_recorded_failure_with_the_last_reason():
    """Given an event first parked 3 days ago whose reason never cleared, when it parks again, then it is
    recorded as failed (parked_too_long, with the reason), not parked again, and the alarm metric counts it."""
    def not_connected(c):
        raise RetryableError("tenant T is not connected", retry_after_seconds=3600)

    metrics = []
    w = worker(not_connected)
    w.on_metric = lambda name, value: metrics.append(name)

    outcome = w.process(body(first_parked_at=NOW - timedelta(days=3)))

    assert (outcome.status, outcome.detail) == ("failed", "parked_too_long")
    assert w.queue.parked == [] and w.records.failed_with == ["parked_too_long"]
    [(message, extra)] = w.records.failure_messages
    assert "tenant T is not connected" in message and extra["last_park_reason"] == "tenant T is not connected"
    assert "ParkedTooLong" in metrics


def test_work_parked_within_the_limit_keeps_its_first_park_time():
    """Given an event first parked two days ago, when it parks again, then it still counts from then."""
    def busy(c):
        raise RetryableError("deal 7 is being invoiced by another worker", retry_after_seconds=5)

    w = worker(busy)
    first = NOW - timedelta(days=2)
    assert w.process(body(first_parked_at=first)).status == "parked"
    assert w.queue.parked[0][0].first_parked_at == first
    assert w.records.parked_with[0]["gives_up_at"] == first + timedelta(days=3)


def test_a_not_due_message_is_carried_forward_without_a_new_park_record():
    """Given a message parked until later, when it comes back early, then it goes back unchanged in its
    record (the real reason stays), even past the park limit: it ends when it is next run."""
    w = worker(lambda c: {})
    w.process(body(not_before=NOW + timedelta(minutes=30), first_parked_at=NOW - timedelta(days=4)))
    assert len(w.queue.parked) == 1 and w.records.parked_with == [] and w.records.failed_with == []
