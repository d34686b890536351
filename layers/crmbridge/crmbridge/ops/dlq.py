"""`bridgectl dlq`: the sync dead-letter queue, read without consuming it, and redriven.

A message lands in the DLQ after the sync queue's maxReceiveCount failed receives: the worker hit
something it did not expect (a bug, an outage it could not classify). The DLQ holds the original body
(a QueueMessage); the failure reason is whatever the bridge recorded for the same subject (its FAILED
sync record or its latest failed/parked/error history entry, whichever is newer: the worker records each
bug as `unexpected_error` with the exception's type and message, so a dead letter shows the exception
that put it there), else "unknown: see logs" (a body that failed before the worker could read it).

Reading: messages are received with a short visibility timeout (the hold), so that each receive
returns the next ones, and are made visible again (visibility 0) as soon as they have been read; no
message is deleted. A hold of 0 never hides anything, but then SQS may return the same first
messages on each receive, so only those can be listed. Every read adds one to each message's
receive count; the DLQ has no redrive policy, so that has no other effect.

Redriving sends each body to the sync queue and then deletes it from the DLQ, message by message (the
same as SQS's start_message_move_task, which moto lacks); a body that is not a bridge message stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from crmbridge.commands import Command
from crmbridge.ops.common import (
    HIDDEN,
    OpsError,
    ProgressFn,
    describe_command,
    from_epoch_ms,
    no_progress,
    parse_body,
)
from crmbridge.ops.history import Entry, FailureReason, entries, failure_reason
from crmbridge.ops.status import queue_depth
from crmbridge.ops.target import Target
from crmbridge.sync.records import subject_key

DLQ = "SyncDeadLetterQueue"
SYNC = "SyncQueue"
LIST_HOLD_SECONDS = 30
REDRIVE_HOLD_SECONDS = 120
_BATCH = 10


@dataclass
class DlqMessage:
    message_id: str
    receive_count: int
    sent_at: datetime | None
    first_received_at: datetime | None
    age_seconds: float | None
    label: str
    subject: str | None
    command: Command | None
    attempt: int | None
    not_before: datetime | None
    parse_error: str | None
    reason: FailureReason | None = None
    body: str = field(default="", metadata=HIDDEN)
    receipt_handle: str = field(default="", repr=False, metadata=HIDDEN)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, metadata=HIDDEN)


@dataclass
class DlqListing:
    queue_url: str
    approximate_total: int
    messages: list[DlqMessage]
    hold_seconds: int
    complete: bool


@dataclass
class DlqDetail:
    message: DlqMessage
    body: str
    history: list[Entry]


@dataclass
class Kept:
    message: DlqMessage
    why: str


@dataclass
class RedriveResult:
    dry_run: bool
    moved: list[DlqMessage] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- reading


def to_message(raw: dict[str, Any], *, now: datetime) -> DlqMessage:
    attributes = raw.get("Attributes", {})
    body = raw.get("Body", "")
    sent = from_epoch_ms(attributes.get("SentTimestamp"))
    message, error = parse_body(body)
    command = message.command if message else None
    return DlqMessage(
        message_id=raw["MessageId"], receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        sent_at=sent, first_received_at=from_epoch_ms(attributes.get("ApproximateFirstReceiveTimestamp")),
        age_seconds=(now - sent).total_seconds() if sent else None,
        label=describe_command(command) if command else "(unreadable body)",
        subject=subject_key(command) if command else None, command=command,
        attempt=message.attempt if message else None, not_before=message.not_before if message else None,
        parse_error=error, body=body, receipt_handle=raw.get("ReceiptHandle", ""), raw=raw,
    )


def receive(sqs: Any, url: str, *, hold: int, wait: int = 1, count: int = _BATCH) -> list[dict[str, Any]]:
    return sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=max(1, min(_BATCH, count)), VisibilityTimeout=hold, WaitTimeSeconds=wait,
        MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
    ).get("Messages", [])


def collect(sqs: Any, url: str, *, hold: int, limit: int | None = None, want: str | None = None, wait: int = 1,
            total: int | None = None, progress: ProgressFn = no_progress) -> tuple[dict[str, dict[str, Any]], bool]:
    """Receive messages until none is new (or `want` is seen, or `limit` are), holding them `hold` s.

    Returns the messages by id (with their latest receipt handle) and whether the queue was read to
    its end. The caller must release() them.
    """
    seen: dict[str, dict[str, Any]] = {}
    while True:
        remaining = _BATCH if limit is None else limit - len(seen)
        if remaining <= 0:
            return seen, False
        batch = receive(sqs, url, hold=hold, wait=wait, count=remaining)
        fresh = [m for m in batch if m["MessageId"] not in seen]
        for raw in batch:
            seen[raw["MessageId"]] = raw
        progress(len(seen), total)
        if want is not None and want in seen:
            return seen, False
        if not fresh:
            return seen, hold > 0 or not batch


def release(sqs: Any, url: str, raws: Iterable[dict[str, Any]]) -> int:
    """Make held messages visible again at once; returns how many SQS took back."""
    handles = [r["ReceiptHandle"] for r in raws if r.get("ReceiptHandle")]
    released = 0
    for start in range(0, len(handles), _BATCH):
        chunk = handles[start:start + _BATCH]
        try:
            response = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(chunk)])
        except ClientError:
            continue  # they come back by themselves when the hold ends
        released += len(response.get("Successful", []))
    return released


def _with_reasons(target: Target, messages: list[DlqMessage], progress: ProgressFn) -> None:
    for index, message in enumerate(messages, 1):
        if message.command is not None:
            message.reason = failure_reason(target, message.command)
        else:
            message.reason = FailureReason(reason="unreadable body", detail=message.parse_error)
        progress(index, len(messages))


def list_messages(target: Target, *, now: datetime, limit: int = 100, hold: int = LIST_HOLD_SECONDS,
                  reasons: bool = True, progress: ProgressFn = no_progress,
                  reason_progress: ProgressFn = no_progress) -> DlqListing:
    """The DLQ's messages, oldest first, none consumed."""
    sqs = target.client("sqs")
    url = target.queue_url(DLQ)
    depth = queue_depth(sqs, DLQ, url)
    seen, complete = collect(sqs, url, hold=hold, limit=limit, total=depth.visible, progress=progress)
    try:
        messages = [to_message(raw, now=now) for raw in seen.values()]
    finally:
        if hold > 0:
            release(sqs, url, seen.values())
    messages.sort(key=lambda m: m.sent_at.timestamp() if m.sent_at else 0.0)
    if reasons:
        _with_reasons(target, messages, reason_progress)
    return DlqListing(queue_url=url, approximate_total=depth.visible + depth.in_flight, messages=messages,
                      hold_seconds=hold, complete=complete or len(messages) >= depth.visible)


def show_message(target: Target, message_id: str, *, now: datetime, hold: int = LIST_HOLD_SECONDS,
                 history_limit: int = 10, progress: ProgressFn = no_progress) -> DlqDetail:
    sqs = target.client("sqs")
    url = target.queue_url(DLQ)
    seen, _ = collect(sqs, url, hold=hold, want=message_id, progress=progress)
    try:
        if message_id not in seen:
            raise OpsError(f"message {message_id} is not in the dead-letter queue (or is held by another reader): "
                           "`bridgectl dlq list` shows the ids")
        message = to_message(seen[message_id], now=now)
    finally:
        if hold > 0:
            release(sqs, url, seen.values())
    _with_reasons(target, [message], no_progress)
    recent = entries(target, message.subject, limit=history_limit) if message.subject else []
    return DlqDetail(message=message, body=message.body, history=recent)


# ----------------------------------------------------------------------------- redriving


def _move(sqs: Any, dlq_url: str, sync_url: str, batch: list[DlqMessage], result: RedriveResult) -> None:
    """Send each body to the sync queue, then delete what was sent from the DLQ."""
    if not batch:
        return
    entries_ = []
    for index, message in enumerate(batch):
        entry: dict[str, Any] = {"Id": str(index), "MessageBody": message.body}
        if message.raw.get("MessageAttributes"):
            entry["MessageAttributes"] = message.raw["MessageAttributes"]
        entries_.append(entry)
    sent = sqs.send_message_batch(QueueUrl=sync_url, Entries=entries_)
    failed = {f["Id"]: f.get("Code", "?") for f in sent.get("Failed", [])}
    moved = [m for i, m in enumerate(batch) if str(i) not in failed]
    for index, code in failed.items():
        result.kept.append(Kept(batch[int(index)], f"the sync queue refused it ({code})"))
    if not moved:
        return
    deleted = sqs.delete_message_batch(QueueUrl=dlq_url, Entries=[
        {"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(moved)])
    not_deleted = {f["Id"]: f.get("Code", "?") for f in deleted.get("Failed", [])}
    for index, message in enumerate(moved):
        if str(index) in not_deleted:
            # Sent, yet still in the DLQ: harmless (the worker deduplicates by idempotency key).
            result.kept.append(Kept(message, f"sent to the sync queue but not deleted from the DLQ "
                                             f"({not_deleted[str(index)]})"))
        else:
            result.moved.append(message)


def redrive(target: Target, *, message_id: str | None = None, everything: bool = False, dry_run: bool = False,
            now: datetime, hold: int = REDRIVE_HOLD_SECONDS, progress: ProgressFn = no_progress) -> RedriveResult:
    """Move one message (by id) or all of them back to the sync queue; a dry run moves nothing."""
    if bool(message_id) == bool(everything):
        raise OpsError("redrive one message (its ID) or --all")
    sqs = target.client("sqs")
    dlq_url = target.queue_url(DLQ)
    sync_url = target.queue_url(SYNC)
    result = RedriveResult(dry_run=dry_run)
    total = queue_depth(sqs, DLQ, dlq_url).visible
    if message_id or dry_run:
        seen, _ = collect(sqs, dlq_url, hold=hold, want=message_id, total=total, progress=progress)
        held = dict(seen)
        try:
            chosen = [to_message(raw, now=now) for mid, raw in seen.items() if message_id in (None, mid)]
            if message_id and not chosen:
                result.not_found.append(message_id)
            movable = []
            for message in chosen:
                if message.command is None:
                    result.kept.append(Kept(message, message.parse_error or "unreadable body"))
                elif dry_run:
                    result.moved.append(message)
                else:
                    movable.append(message)
            _move(sqs, dlq_url, sync_url, movable, result)
            if not dry_run:
                for message in result.moved:
                    held.pop(message.message_id, None)
        finally:
            release(sqs, dlq_url, held.values())
        return result
    kept_raw: dict[str, dict[str, Any]] = {}
    try:
        while True:
            batch = receive(sqs, dlq_url, hold=hold)
            fresh = [to_message(raw, now=now) for raw in batch if raw["MessageId"] not in kept_raw]
            if not fresh:
                break
            for message in fresh:
                if message.command is None:
                    kept_raw[message.message_id] = message.raw
                    result.kept.append(Kept(message, message.parse_error or "unreadable body"))
            before = len(result.kept)
            _move(sqs, dlq_url, sync_url, [m for m in fresh if m.command is not None], result)
            for kept in result.kept[before:]:
                kept_raw[kept.message.message_id] = kept.message.raw
            progress(len(result.moved) + len(result.kept), max(total, len(result.moved) + len(result.kept)))
    finally:
        release(sqs, dlq_url, kept_raw.values())
    return result
