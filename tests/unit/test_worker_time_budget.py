"""The worker's batch stops taking records when its remaining time runs short: the rest go back as batch
item failures, the finished ones are acknowledged, nothing runs into the function's timeout."""

from crmbridge.sync.batch import TimeBudget, process_batch

TIMEOUT_MS = 60_000
RESERVE_MS = 10_000
DEAL_SECONDS = 9.0  # each record takes longer than the batch's time allows for all ten


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class FakeContext:
    """A Lambda context whose remaining time follows the fake clock, from its Timeout."""

    def __init__(self, clock, timeout_ms=TIMEOUT_MS):
        self.clock, self.deadline = clock, clock.now + timeout_ms / 1000

    def get_remaining_time_in_millis(self):
        return int((self.deadline - self.clock.now) * 1000)


class FakeQueue:
    def __init__(self):
        self.returned = []

    def return_now(self, receipt_handles):
        self.returned.extend(receipt_handles)


def batch(ids):
    return {"Records": [{"messageId": i, "receiptHandle": f"handle-{i}", "body": i} for i in ids]}


def run(ids, done, clock):
    def handle(record):
        clock.now += DEAL_SECONDS
        done.append(record["body"])

    context, queue = FakeContext(clock), FakeQueue()
    response = process_batch(batch(ids), handle, TimeBudget(context, reserve_ms=RESERVE_MS, clock=clock),
                             queue=queue)
    return response, context, queue


def test_a_batch_longer_than_the_time_left_hands_the_rest_back_and_finishes_in_time():
    """Given 10 records of 9 s each and 60 s, when the batch runs, then the first ones are done, the rest
    are batch item failures made visible again at once, and the invocation ends before its timeout."""
    clock, done = FakeClock(), []
    ids = [f"m{n}" for n in range(10)]

    response, context, queue = run(ids, done, clock)

    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert done == ids[:len(done)] and 0 < len(done) < 10
    assert failed == ids[len(done):]
    assert queue.returned == [f"handle-{i}" for i in failed]
    assert context.get_remaining_time_in_millis() > 0  # nothing timed out


def test_records_handed_back_are_done_on_redelivery_and_finished_ones_are_not_redone():
    """Given a batch cut short, when SQS redelivers only its failures, then every record is done once."""
    clock, done = FakeClock(), []
    ids = [f"m{n}" for n in range(10)]

    pending = ids
    for _ in range(10):
        response, _, _ = run(pending, done, clock)
        pending = [f["itemIdentifier"] for f in response["batchItemFailures"]]
        if not pending:
            break

    assert sorted(done) == sorted(ids) and len(done) == 10


def test_a_record_that_raises_fails_alone_and_the_batch_goes_on():
    """Given a bug in the second record, when the batch runs with time to spare, then only it fails."""
    clock = FakeClock()
    done = []

    def handle(record):
        if record["body"] == "m1":
            raise KeyError("oops")
        done.append(record["body"])

    response = process_batch(batch(["m0", "m1", "m2"]), handle,
                             TimeBudget(FakeContext(clock), reserve_ms=RESERVE_MS, clock=clock))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]} and done == ["m0", "m2"]


def test_the_margin_grows_with_the_slowest_record_seen():
    """Given a 25 s record, when 40 s remain, then no other is started (it might take 25 s + the reserve)."""
    clock = FakeClock()
    budget = TimeBudget(FakeContext(clock), reserve_ms=RESERVE_MS, clock=clock)
    assert budget.has_time_for_another()

    def slow():
        clock.now += 25

    budget.timed(slow)
    assert budget.needed_ms == 35_000 and budget.has_time_for_another()
    clock.now += 0.1
    assert not budget.has_time_for_another()
