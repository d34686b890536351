"""The worker's error boundary: one SQS record in, one decision out.

- done: the command ran (or had run before: idempotency), its record says OK;
- parked: a transient fault or a rate limit; the message is re-enqueued with a delay, so throttling
  never burns the redrive count and never reaches the DLQ. The record says PARKED, why and until when.
  Parking has an end: work first parked longer ago than the park limit becomes a recorded failure
  (parked_too_long, with the last reason), so a reason that never clears (no tokens for a tenant, a
  mistyped tenant id, a claim that is never released) cannot re-park itself forever;
- failed permanently: the reason is recorded for ops and the message is acknowledged;
- anything else is a bug, classified here once: its type and message go into the subject's history
  (so the DLQ shows the real exception, not an earlier park reason) and the record fails; SQS
  redelivers it, and after the queue's maxReceiveCount receives it lands in the DLQ with its body intact.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from crmbridge.commands import Command, QueueMessage
from crmbridge.errors import BridgeError, PermanentError, RateLimitedError, RetryableError
from crmbridge.queue import SQS_MAX_DELAY_SECONDS, SyncQueue
from crmbridge.sync.history import SyncHistory
from crmbridge.sync.records import SyncRecords

logger = Logger()  # not a child: it appends correlation keys, which orphan child loggers cannot

CommandHandler = Callable[[Command], dict[str, str]]
# Runs a handler at most once per idempotency key: (key, thunk) -> the handler's result.
IdempotentRunner = Callable[[str, Callable[[], dict[str, str]]], dict[str, str]]

def utcnow() -> datetime:
    """The worker's clock (a module function so that tests can move it)."""
    return datetime.now(UTC)


# The rate-limit problems that mean a whole day's budget is gone, and the alarm metric each raises.
DAILY_LIMIT_METRICS = {"day": "XeroDailyLimitReached", "daily": "CrmDailyLimitReached",
                       "hubspot_daily": "CrmDailyLimitReached"}

# A concurrent worker holds the same command: look again shortly.
IN_PROGRESS_DELAY_SECONDS = 5

# The reason a bug is recorded under in the subject's history (the DLQ's `bridgectl dlq list` shows it).
UNEXPECTED_ERROR = "unexpected_error"
CONFIGURATION_ERROR = "configuration_error"  # a ConfigError: the deployment, not the data, needs fixing
PARKED_TOO_LONG = "parked_too_long"
# Enough of an exception's message to recognise it; the rest is in the logs.
_BUG_MESSAGE_CHARS = 300


def describe_bug(exc: BaseException) -> str:
    """`Type: message`, shortened: what the DLQ shows for a bug. Bridge code never puts a secret in an
    exception message (secrets.py raises without the value and without its cause)."""
    text = " ".join(str(exc).split())
    if len(text) > _BUG_MESSAGE_CHARS:
        text = text[: _BUG_MESSAGE_CHARS - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def backoff_seconds(attempt: int, *, rng: random.Random | None = None) -> int:
    """Exponential backoff with full jitter, 2 s to 15 min."""
    ceiling = min(SQS_MAX_DELAY_SECONDS, 2 * 2 ** min(attempt, 10))
    return max(1, int((rng or random).uniform(ceiling / 2, ceiling)))


@dataclass(frozen=True)
class Outcome:
    status: str  # done | parked | failed
    detail: str = ""


@dataclass
class Worker:
    queue: SyncQueue
    records: SyncRecords
    handlers: Mapping[str, CommandHandler]
    run_once: IdempotentRunner
    history: SyncHistory | None = None
    clock: Callable[[], datetime] = lambda: utcnow()
    # How long a parked message waits before it is looked at again (SQS allows 15 minutes at most).
    park_recheck_seconds: int = SQS_MAX_DELAY_SECONDS
    # How long work may stay parked, from its first park, before it becomes a recorded failure.
    park_limit: timedelta = timedelta(days=3)
    on_metric: Callable[[str, float], None] = lambda name, value: None

    def process(self, body: str) -> Outcome:
        message = QueueMessage.model_validate_json(body)
        command = message.command
        logger.append_keys(**command.correlation, command=command.kind)
        try:
            now = self.clock()
            if message.not_before and message.not_before > now:
                return self._park(message, message.not_before, "not due yet", recheck=True)
            return self._run(message, command)
        except Exception as exc:  # what _run did not classify: a bug, or a misconfiguration (ConfigError)
            self._bug(command, exc)
            raise
        finally:
            logger.remove_keys([*command.correlation, "command"])

    def _bug(self, command: Command, exc: Exception) -> None:
        """Record the real exception where the DLQ's reason is read from; the record still fails."""
        reason = CONFIGURATION_ERROR if isinstance(exc, BridgeError) else UNEXPECTED_ERROR
        self.on_metric("UnexpectedErrors", 1)
        logger.warning("unexpected error: the record fails and SQS retries it (then the DLQ)",
                       extra={"error_type": type(exc).__name__, "reason": reason})
        try:
            self._history(command, "error", error=describe_bug(exc), reason=reason)
        except Exception:  # the original failure matters more than its note
            logger.exception("could not record the unexpected error in the sync history")

    def _run(self, message: QueueMessage, command: Command) -> Outcome:
        handler = self.handlers.get(command.kind)
        try:
            if handler is None:
                raise PermanentError("unsupported_command", f"this stack does not handle {command.kind}")
            summary = self.run_once(command.idempotency_key, lambda: handler(command))
        except RateLimitedError as exc:
            self.on_metric("RateLimited", 1)
            if exc.problem in DAILY_LIMIT_METRICS:
                self.on_metric(DAILY_LIMIT_METRICS[exc.problem], 1)
            return self._retry_later(message, exc)
        except RetryableError as exc:
            return self._retry_later(message, exc)
        except IdempotencyAlreadyInProgressError:
            delay = IN_PROGRESS_DELAY_SECONDS
            return self._park(message, self.clock() + timedelta(seconds=delay), "in progress elsewhere")
        except PermanentError as exc:
            self.on_metric("PermanentFailures", 1)
            self.records.failed(command, exc, at=self.clock())
            self._history(command, "failed", error=exc.message, reason=exc.reason)
            logger.warning("command failed permanently", extra={"reason": exc.reason, "error": exc.message})
            return Outcome("failed", exc.reason)
        self.records.succeeded(command, at=self.clock(), summary=summary)
        self._history(command, "done", summary=summary)
        self.on_metric("CommandsProcessed", 1)
        logger.info("command done", extra={"result": summary})
        return Outcome("done")

    def _retry_later(self, message: QueueMessage, exc: RetryableError) -> Outcome:
        if exc.retry_after_seconds:  # the service (or the sync) said when: not a step of the backoff
            return self._park(message, self.clock() + timedelta(seconds=exc.retry_after_seconds), exc.message)
        delay = backoff_seconds(message.attempt)
        return self._park(message, self.clock() + timedelta(seconds=delay), exc.message, backoff_step=True)

    def _park(self, message: QueueMessage, until: datetime, why: str, *, backoff_step: bool = False,
              recheck: bool = False) -> Outcome:
        """Send the message back to wait until `until`. A recheck (not due yet) only carries an earlier
        park forward: its record and history already say why."""
        now = self.clock()
        since = message.first_parked_at or now
        gives_up_at = since + self.park_limit
        if not recheck and now >= gives_up_at:
            return self._parked_too_long(message.command, why, since)
        # Only faults without a stated wait count as attempts: waiting for a rate limit, for another
        # worker or for a due time must not stretch the backoff of a later fault.
        attempt = message.attempt + 1 if backoff_step else message.attempt
        delay = min(self.park_recheck_seconds, max(0, int((until - now).total_seconds() + 0.999)))
        parked = message.model_copy(update={"first_parked_at": since})
        self.queue.park(parked, until=until, delay_seconds=delay, attempt=attempt)
        if not recheck:
            self.records.parked(message.command, why=why, until=until, since=since, gives_up_at=gives_up_at, at=now)
            self._history(message.command, "parked", error=why)
        logger.info("command parked", extra={"why": why, "until": until.isoformat(), "delay_seconds": delay,
                                             "attempt": attempt, "parked_since": since.isoformat()})
        return Outcome("parked", why)

    def _parked_too_long(self, command: Command, why: str, since: datetime) -> Outcome:
        now = self.clock()
        error = PermanentError(PARKED_TOO_LONG, f"parked since {since:%Y-%m-%d %H:%M} UTC and its reason has not "
                                                f"cleared: {why}")
        self.on_metric("ParkedTooLong", 1)
        self.records.failed(command, error, at=now,
                            extra={"last_park_reason": why[:2000], "parked_since": since.isoformat()})
        self._history(command, "failed", error=error.message, reason=PARKED_TOO_LONG)
        logger.warning("command parked too long: recorded as failed", extra={"why": why, "since": since.isoformat()})
        return Outcome("failed", PARKED_TOO_LONG)


    def _history(self, command: Command, outcome: str, **details: object) -> None:
        if self.history is not None:
            self.history.add(command, at=self.clock(), outcome=outcome, **details)  # type: ignore[arg-type]


class PowertoolsRunner:
    """Powertools idempotency on DynamoDB: a completed key returns its stored result.

    register_lambda_context() per invocation lets an IN_PROGRESS record expire with the invocation,
    so a worker that crashed mid-command does not block the command until the record's TTL.
    """

    def __init__(self, persistence_store: Any, *, expires_after_seconds: int = 86400) -> None:
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

        self.config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=expires_after_seconds)

        @idempotent_function(data_keyword_argument="key", persistence_store=persistence_store, config=self.config)
        def _guarded(*, key: dict[str, str], thunk: Callable[[], dict[str, str]]) -> dict[str, str]:
            return thunk()

        self._guarded = _guarded

    def register_lambda_context(self, context: Any) -> None:
        self.config.register_lambda_context(context)

    def __call__(self, key: str, thunk: Callable[[], dict[str, str]]) -> dict[str, str]:
        return self._guarded(key={"key": key}, thunk=thunk)
