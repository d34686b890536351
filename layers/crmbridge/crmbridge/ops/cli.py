"""bridgectl: the operator's command line for the Xero CRM Bridge.

The only module of crmbridge.ops that imports typer and rich (the Lambda layer ships without them):
every command resolves its target, calls the ops module that does the work and renders the result
as rich tables, or as JSON with --json.
"""

from __future__ import annotations

import os
import time
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from crmbridge.errors import BridgeError
from crmbridge.ops import audit as audit_ops
from crmbridge.ops import backfill as backfill_ops
from crmbridge.ops import connect as connect_ops
from crmbridge.ops import contact_decision as contact_ops
from crmbridge.ops import dlq as dlq_ops
from crmbridge.ops import dryrun as dryrun_ops
from crmbridge.ops import history as history_ops
from crmbridge.ops import leakage as leakage_ops
from crmbridge.ops import link as link_ops
from crmbridge.ops import mapping as mapping_ops
from crmbridge.ops import resync as resync_ops
from crmbridge.ops import status as status_ops
from crmbridge.ops import testbatch as testbatch_ops
from crmbridge.ops.common import (
    OpsError,
    ProgressFn,
    duration,
    jsonable,
    no_progress,
    relative,
    stamp,
    to_json,
)
from crmbridge.ops.golive import GoLive, golive
from crmbridge.ops.target import Target, resolve_target
from crmbridge.ops.throttle import Throttle
from crmbridge.tokens import tenants as tenant_ops
from crmbridge.tokens.store import TokenStore

# Usage errors (click's ClickException, vendored by typer under a private module).
_USAGE_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

app = typer.Typer(
    name="bridgectl",
    help=(
        "Operate a Xero CRM Bridge deployment: its queues, dead letters, Xero connections and sync history.\n\n"
        "Every command works on one target: **--stack NAME** (a deployed CloudFormation stack, in the "
        "region of your AWS configuration) or **--local** (the embedded local stack of `make local`, at "
        "$AWS_ENDPOINT_URL or http://127.0.0.1:5000). Without either: the stack named by $BRIDGE_STACK, else "
        "--local. Add --json to any command for machine-readable output."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
dlq_app = typer.Typer(
    help=(
        "The sync dead-letter queue: messages the worker failed on repeatedly (a bug or an unclassified "
        "outage). List them with their failure reason, look at one, and move them back to the sync queue "
        "once the cause is fixed."
    ),
    no_args_is_help=True,
)
resync_app = typer.Typer(
    help=(
        "Run one deal or invoice through the bridge again: after fixing the data behind a permanent failure "
        "(`bridgectl status` lists them), or to push an invoice's current Xero state to the CRM."
    ),
    no_args_is_help=True,
)
history_app = typer.Typer(
    help="What the bridge did with one deal or invoice, oldest first: every attempt, its outcome and error.",
    no_args_is_help=True,
)
mapping_app = typer.Typer(help="The mapping document (deal lines -> Xero accounts and tax types).",
                          no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(resync_app, name="resync")
app.add_typer(history_app, name="history")
app.add_typer(mapping_app, name="mapping")
contact_app = typer.Typer(
    help=("Which Xero contact an organisation is invoiced to, where the bridge needs a person to decide "
          "(`bridgectl status` lists the deals needing a contact decision)."),
    no_args_is_help=True,
)
app.add_typer(contact_app, name="contact")
tenants_app = typer.Typer(
    help=("The Xero organisations connected to the bridge and the one deals are invoiced to "
          "(`bridgectl tenants` lists them; `bridgectl tenants use TENANT_ID` picks)."),
    invoke_without_command=True,
)
app.add_typer(tenants_app, name="tenants")
link_app = typer.Typer(help="Link to a deal an invoice the bridge did not create (a Reference alone never does).",
                       no_args_is_help=True)
app.add_typer(link_app, name="link")

StackOpt = Annotated[str | None, typer.Option(
    "--stack", metavar="NAME", help="A deployed stack (CloudFormation name); default: $BRIDGE_STACK.")]
LocalOpt = Annotated[bool, typer.Option(
    "--local", help="The local stack (make local) at $AWS_ENDPOINT_URL or http://127.0.0.1:5000.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
CrmOpt = Annotated[str | None, typer.Option(
    "--crm", help="pipedrive or hubspot; default: the stack's CrmProvider (locally $CRM_PROVIDER, else pipedrive).")]
TenantOpt = Annotated[str | None, typer.Option(
    "--tenant", metavar="TENANT_ID", help="The Xero tenant (organisation) id; default: the only connected one.")]


@dataclass
class _Options:
    stack: str | None = None
    local: bool = False
    stdout: IO[str] | None = None  # None: sys.stdout (run_cli passes its own streams)
    stderr: IO[str] | None = None


@app.callback()
def _root(ctx: typer.Context, stack: StackOpt = None, local: LocalOpt = False) -> None:
    options = ctx.obj if isinstance(ctx.obj, _Options) else _Options()
    options.stack, options.local = stack, local
    ctx.obj = options


def _options(ctx: typer.Context) -> _Options:
    return ctx.obj if isinstance(ctx.obj, _Options) else _Options()


def _consoles(ctx: typer.Context) -> tuple[Console, Console]:
    options = _options(ctx)
    return (Console(file=options.stdout, highlight=False),
            Console(file=options.stderr, stderr=options.stderr is None, highlight=False, soft_wrap=True))


class Run:
    """One command's context: its target, its consoles and how it prints."""

    def __init__(self, ctx: typer.Context, stack: str | None, local: bool, as_json: bool) -> None:
        options = _options(ctx)
        self.stack = stack or options.stack
        self.local = local or options.local
        self.as_json = as_json
        self.out, self.err = _consoles(ctx)
        self._target: Target | None = None

    @property
    def target(self) -> Target:
        if self._target is None:
            self._target = resolve_target(stack=self.stack, local=self.local, environ=dict(os.environ))
        return self._target

    def emit(self, value: Any) -> None:
        self.line(to_json(value))

    def line(self, text: str) -> None:
        """Plain text on stdout, never wrapped (JSON, URLs)."""
        self.out.file.write(f"{text}\n")
        self.out.file.flush()

    @contextmanager
    def progress(self, *descriptions: str) -> Iterator[list[ProgressFn]]:
        """One progress bar per phase, on stderr (none with --json or when stderr is not a terminal)."""
        if self.as_json or not self.err.is_terminal:
            yield [no_progress for _ in descriptions]
            return
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())
        with Progress(*columns, console=self.err, transient=True) as bar:
            yield [self._updater(bar, bar.add_task(d, total=None)) for d in descriptions]

    @staticmethod
    def _updater(bar: Progress, task: Any) -> ProgressFn:
        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)
        return update

    def fail(self, message: str, code: int = 1) -> typer.Exit:
        self.err.print(f"[bold red]error:[/bold red] {escape(message)}")
        return typer.Exit(code)


@contextmanager
def _guarded(run: Run) -> Iterator[None]:
    """Operator-facing errors become one line on stderr and exit code 1 (no traceback)."""
    try:
        yield
    except OpsError as exc:
        raise run.fail(exc.message) from exc
    except EndpointConnectionError as exc:
        local = run._target is not None and run._target.kind == "local"
        hint = " Is the local stack running (make local)?" if local else ""
        raise run.fail(f"cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}.{hint}") from exc
    except NoCredentialsError as exc:
        raise run.fail("no AWS credentials: configure a profile, SSO or environment credentials") from exc
    except NoRegionError as exc:
        raise run.fail("no AWS region: set AWS_REGION or a profile region") from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise run.fail(f"AWS refused {exc.operation_name}: {error.get('Code', '?')}: {error.get('Message', '')}") from exc
    except (BotoCoreError, BridgeError) as exc:
        raise run.fail(str(exc)) from exc


def _now() -> datetime:
    return datetime.now(UTC)


def _table(title: str | None = None, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _text(value: Any) -> str:
    return escape("-" if value is None or value == "" else str(value))


def _target_line(run: Run) -> None:
    run.out.print(f"[dim]{escape(run.target.describe())}[/dim]")


# ============================================================================= status


@app.command()
def status(
    ctx: typer.Context,
    failures: Annotated[int, typer.Option(min=0, help="How many of the newest permanent failures to show.")] = 20,
    activity: Annotated[bool, typer.Option(
        "--activity", help="Also the last sync each way (scans the whole sync history table).")] = False,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Is the bridge healthy, and what needs an operator?

    Shows the sync queue and dead-letter queue depths (visible, in flight, delayed), each Xero
    connection (CONNECTED or DISCONNECTED and why, when its access token expires and when it was last
    refreshed; tokens are never shown), when each webhook source was last heard (with --activity,
    the last sync each way too), and the newest permanent failures (deals or invoices the bridge gave up on until someone
    fixes their data: fix it, then `bridgectl resync`). Start here when something looks wrong.
    """
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        now = _now()
        with run.progress("reading tables") as (progress,):
            report = status_ops.collect_status(run.target, now=now, failures_limit=failures, activity=activity,
                                               progress=progress)
        if as_json:
            run.emit(report)
            return
        _render_status(run, report, now)


def _render_status(run: Run, report: status_ops.StatusReport, now: datetime) -> None:
    _target_line(run)
    queues = _table("Queues", "Queue", "Visible", "In flight", "Delayed")
    for q in report.queues:
        style = "red" if q.queue == "SyncDeadLetterQueue" and q.total else None
        queues.add_row(q.queue, str(q.visible), str(q.in_flight), str(q.delayed), style=style)
    run.out.print(queues)

    connections = _table("Xero connections", "Tenant", "Name", "State", "Reason", "Access token", "Last refresh")
    for c in report.connections:
        state = "[green]CONNECTED[/green]" if c.status == "CONNECTED" else f"[red]{escape(c.status)}[/red]"
        if c.access_expires_at is None:
            token = "-"
        elif c.access_expires_at > now:
            token = f"expires {relative(c.access_expires_at, now)}"
        else:
            token = f"[yellow]expired {relative(c.access_expires_at, now)}[/yellow]"
        connections.add_row(_text(c.tenant_id), _text(c.tenant_name), state, _text(c.reason), token,
                            f"{stamp(c.refreshed_at)} ({relative(c.refreshed_at, now)})")
    if not report.connections:
        connections.add_row("-", "no organisation connected", "-", "-", "-", "-")
    run.out.print(connections)

    hooks = _table("Last webhook received (noted at most once a minute)", "Source", "Received")
    for w in report.webhooks:
        hooks.add_row(w.source, f"{stamp(w.received_at)} ({relative(w.received_at, now)})" if w.received_at else "never")
    run.out.print(hooks)
    if report.activity:
        activity = _table("Last sync activity (sync history)", "Direction", "Last entry", "Entries kept")
        for a in report.activity:
            when = f"{stamp(a.last_at)} ({relative(a.last_at, now)})" if a.last_at else "never"
            activity.add_row(a.direction, when, str(a.entries))
        run.out.print(activity)

    failed = _table(f"Permanent failures ({report.failures_total})", "When", "Concerns", "Reason", "Message")
    for f in report.failures:
        failed.add_row(stamp(f.updated_at), _text(f.label), f"[red]{escape(f.reason)}[/red]", _text(f.message))
    if not report.failures:
        failed.add_row("-", "none", "-", "-")
    run.out.print(failed)
    if report.parked:
        parked = _table(f"Parked ({len(report.parked)})", "Concerns", "Why", "Until", "Parked since", "Gives up")
        for p in report.parked:
            parked.add_row(_text(p.label), _text(p.why), stamp(p.until), stamp(p.since), stamp(p.gives_up_at))
        run.out.print(parked)
    for note in report.notes:
        run.out.print(f"[yellow]•[/yellow] {escape(note)}")


# ============================================================================= dlq


IdArg = Annotated[str, typer.Argument(metavar="ID", help="The SQS message id (see `bridgectl dlq list`).")]
HoldOpt = Annotated[int, typer.Option(
    min=0, max=43200, metavar="SECONDS",
    help="Hide each message this long while reading, so every receive returns new ones; released at once "
         "after. 0 hides nothing, but may list only the first ~10 messages.")]


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="List at most this many messages.")] = 100,
    hold: HoldOpt = dlq_ops.LIST_HOLD_SECONDS,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """List the dead-letter queue without consuming it.

    For each message: its id, age (since first enqueued), receive count, the deal or invoice it
    concerns, and the failure reason the bridge recorded for that deal or invoice (else "unknown: see
    logs": look the message up in the sync worker's logs). Nothing is deleted; each listing adds one to
    every message's receive count, which has no other effect on the DLQ. Use it when `status` shows
    dead letters, then `dlq show ID` for one and `dlq redrive` once the cause is fixed.
    """
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        now = _now()
        with run.progress("reading the DLQ", "looking up reasons") as (progress, reasons):
            listing = dlq_ops.list_messages(run.target, now=now, limit=limit, hold=hold, progress=progress,
                                            reason_progress=reasons)
        if as_json:
            run.emit(listing)
            return
        _target_line(run)
        table = _table(f"Dead-letter queue ({len(listing.messages)} of ~{listing.approximate_total})",
                       "ID", "Age", "Receives", "Concerns", "Reason")
        for m in listing.messages:
            reason = m.reason.reason if m.reason else "-"
            if m.reason and m.reason.detail:
                reason = f"{reason}: {m.reason.detail}"
            table.add_row(m.message_id, duration(m.age_seconds) if m.age_seconds is not None else "-",
                          str(m.receive_count), _text(m.label), _text(reason))
        run.out.print(table)
        if not listing.complete:
            run.out.print("[yellow]•[/yellow] not every message was read: raise --limit (or --hold).")
        run.out.print("[dim]Reading added 1 to each listed message's receive count.[/dim]")


@dlq_app.command("show")
def dlq_show(
    ctx: typer.Context, message_id: IdArg, hold: HoldOpt = dlq_ops.LIST_HOLD_SECONDS,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Show one dead-letter message: its command, delivery counts, failure reason and the recent sync
    history of the deal or invoice it concerns. Nothing is consumed."""
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        now = _now()
        with run.progress("reading the DLQ") as (progress,):
            detail = dlq_ops.show_message(run.target, message_id, now=now, hold=hold, progress=progress)
        if as_json:
            run.emit(detail)
            return
        _target_line(run)
        m = detail.message
        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="bold")
        facts.add_column(overflow="fold")
        reason = m.reason or history_ops.FailureReason(history_ops.UNKNOWN_REASON)
        for key, value in (
            ("Message", m.message_id), ("Concerns", m.label), ("Subject", m.subject),
            ("Sent", f"{stamp(m.sent_at)} ({relative(m.sent_at, now)})"),
            ("First received", stamp(m.first_received_at)), ("Receive count", m.receive_count),
            ("Worker attempts", m.attempt), ("Not before", stamp(m.not_before) if m.not_before else None),
            ("Reason", reason.reason), ("Detail", reason.detail),
            ("Reason from", f"{reason.source} at {stamp(reason.at)}" if reason.source else None),
        ):
            facts.add_row(key, _text(value))
        run.out.print(facts)
        run.out.print("[bold]Body[/bold]")
        if m.command is not None:
            run.out.print_json(detail.body)
        else:
            run.out.print(escape(detail.body))
        if detail.history:
            _render_entries(run, detail.history, "Recent sync history of this subject")


@dlq_app.command("redrive")
def dlq_redrive(
    ctx: typer.Context,
    message_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="One message to move.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Move every message.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Change nothing; print what would move.")] = False,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Move dead letters back to the sync queue, one (ID) or all (--all).

    Use it once the cause is fixed (a deployed bug fix, an outage over): each body is sent to the sync
    queue, then deleted from the DLQ, and the worker runs it again (idempotently: a deal that already
    has its invoice gets no second one). A body that is not a bridge message stays in the DLQ. Try
    --dry-run first to see what would move.
    """
    run = Run(ctx, stack, local, as_json)
    if bool(message_id) == everything:
        raise run.fail("give one message ID or --all", code=2)
    with _guarded(run):
        with run.progress("redriving" if not dry_run else "reading the DLQ") as (progress,):
            result = dlq_ops.redrive(run.target, message_id=message_id, everything=everything, dry_run=dry_run,
                                     now=_now(), progress=progress)
        if as_json:
            run.emit(result)
        else:
            _target_line(run)
            title = "Would move to the sync queue (dry run: nothing changed)" if dry_run else "Moved to the sync queue"
            moved = _table(f"{title}: {len(result.moved)}", "ID", "Concerns")
            for m in result.moved:
                moved.add_row(m.message_id, _text(m.label))
            run.out.print(moved)
            if result.kept:
                kept = _table(f"Left in the DLQ: {len(result.kept)}", "ID", "Why")
                for k in result.kept:
                    kept.add_row(k.message.message_id, _text(k.why))
                run.out.print(kept)
        if result.not_found:
            raise run.fail(f"not in the dead-letter queue: {', '.join(result.not_found)}")


# ============================================================================= resync


@resync_app.command("deal")
def resync_deal(
    ctx: typer.Context,
    deal_id: Annotated[str, typer.Argument(metavar="DEAL_ID", help="The CRM deal id.")],
    crm: CrmOpt = None,
    reinvoice: Annotated[bool, typer.Option(
        "--reinvoice", help="Raise a new invoice: the deal's invoice was voided or deleted in Xero.")] = False,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Run a won deal through the bridge again (DealWon with resync on the sync queue).

    Use it after fixing what made the deal fail permanently (`status` lists those: e.g. give it an
    organisation, map its tax rate), or to retry a deal you know was missed. The won time comes from
    the failed attempt's command when there is one. A deal that already has its Xero invoice gets no
    second one.
    """
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        enqueued = resync_ops.resync_deal(run.target, deal_id, crm=crm or run.target.crm_provider, reinvoice=reinvoice)
        _render_enqueued(run, enqueued)


@resync_app.command("invoice")
def resync_invoice(
    ctx: typer.Context,
    invoice_id: Annotated[str, typer.Argument(metavar="INVOICE_ID", help="The Xero InvoiceID.")],
    tenant: TenantOpt = None,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Push an invoice's current Xero state to the CRM again (an invoice UPDATE event, dated now).

    Use it when the CRM shows a stale invoice status, payment or balance (a missed or failed Xero
    webhook), or after fixing what made the invoice's sync fail.
    """
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        tenant_id = tenant or history_ops.default_tenant(run.target)
        enqueued = resync_ops.resync_invoice(run.target, invoice_id, tenant_id=tenant_id, now=_now())
        _render_enqueued(run, enqueued)


def _render_enqueued(run: Run, enqueued: resync_ops.Enqueued) -> None:
    if run.as_json:
        run.emit(enqueued)
        return
    _target_line(run)
    run.out.print(f"Enqueued [bold]{escape(enqueued.label)}[/bold] on the sync queue (message {enqueued.message_id}).")
    previous = enqueued.previous
    if previous is not None:
        detail = f": {previous.reason} ({previous.message})" if previous.status == "FAILED" else ""
        run.out.print(f"Last recorded outcome: {escape(previous.status)}{escape(detail)} at {stamp(previous.updated_at)}")
    if enqueued.note:
        run.out.print(f"[yellow]•[/yellow] {escape(enqueued.note)}")
    run.out.print("[dim]Follow it with `bridgectl history`.[/dim]")


# ============================================================================= history


LimitOpt = Annotated[int, typer.Option(min=1, max=1000, help="Show the newest this many entries.")]


@history_app.command("deal")
def history_deal(
    ctx: typer.Context,
    deal_id: Annotated[str, typer.Argument(metavar="DEAL_ID", help="The CRM deal id.")],
    crm: CrmOpt = None, limit: LimitOpt = 50,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """The sync history of a deal: each attempt (time, direction, outcome, reason or error, summary),
    its last recorded outcome, and the Xero invoice it became. Use it to see why a deal has no
    invoice, or what a resync did."""
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        result = history_ops.deal_history(run.target, deal_id, crm=crm or run.target.crm_provider, limit=limit)
        _render_history(run, result)


@history_app.command("invoice")
def history_invoice(
    ctx: typer.Context,
    invoice_id: Annotated[str, typer.Argument(metavar="INVOICE_ID", help="The Xero InvoiceID.")],
    tenant: TenantOpt = None, limit: LimitOpt = 50,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """The sync history of a Xero invoice: each change written to the CRM (status, payments, balances),
    its last recorded outcome and the deal it belongs to. Use it when the CRM disagrees with Xero."""
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        tenant_id = tenant or history_ops.default_tenant(run.target)
        result = history_ops.invoice_history(run.target, invoice_id, tenant_id=tenant_id, limit=limit)
        _render_history(run, result)


def _render_history(run: Run, result: history_ops.SubjectHistory) -> None:
    if run.as_json:
        run.emit(result)
        return
    _target_line(run)
    run.out.print(f"[bold]{escape(result.label)}[/bold]  [dim]{escape(result.subject)}[/dim]")
    record = result.record
    if record is None:
        run.out.print("Last outcome: none recorded")
    elif record.status == "FAILED":
        run.out.print(f"Last outcome: [red]FAILED[/red] {escape(record.reason or '')} at {stamp(record.updated_at)}: "
                      f"{escape(record.message or '')}")
    else:
        run.out.print(f"Last outcome: [green]{escape(record.status)}[/green] at {stamp(record.updated_at)}")
    if result.links:
        run.out.print("Links: " + ", ".join(f"{escape(k)}={escape(str(v))}" for k, v in result.links.items()))
    if not result.entries:
        run.out.print("No sync history (none yet, or older than the retention period).")
        return
    _render_entries(run, result.entries, f"Sync history (oldest first, newest {result.limit} at most)")


def _render_entries(run: Run, entries: list[history_ops.Entry], title: str) -> None:
    table = _table(title, "Time", "Direction", "Outcome", "Reason / error", "Summary")
    colours = {"done": "green", "failed": "red", "parked": "yellow"}
    for e in entries:
        colour = colours.get(e.outcome, "white")
        why = " ".join(x for x in (e.reason and f"{e.reason}:", e.error) if x) or "-"
        summary = ", ".join(f"{k}={v}" for k, v in e.summary.items()) or "-"
        table.add_row(stamp(e.at), e.direction, f"[{colour}]{escape(e.outcome)}[/{colour}]", _text(why), _text(summary))
    run.out.print(table)


# ============================================================================= connect


@app.command()
def connect(
    ctx: typer.Context,
    authorize_url: Annotated[str | None, typer.Option(
        "--authorize-url", help="Xero's authorize endpoint; default: $XERO_AUTHORIZE_URL, the stack's "
        "XeroAuthorizeUrl parameter, locally the Xero emulator, else Xero's.")] = None,
    redirect_uri: Annotated[str | None, typer.Option(
        "--redirect-uri", help="Default: the stack's XeroCallbackUrl output (locally the gateway's callback).")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Also open the URL in a browser.")] = False,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Start connecting a Xero organisation: print the authorization URL to open.

    Use it for the first connection, and again when `status` shows a connection DISCONNECTED (consent
    revoked, refresh token expired). Open the URL within 10 minutes, pick the organisation and allow
    access: Xero sends you back to the stack's callback, which stores the organisation's tokens. The
    client id comes from the Xero credentials secret; no secret is printed.
    """
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        link = connect_ops.connect_link(run.target, now=int(time.time()), authorize_endpoint=authorize_url,
                                        redirect_uri=redirect_uri, environ=dict(os.environ))
        if as_json:
            run.emit(link)
        else:
            _target_line(run)
            run.out.print(f"Open this URL before {stamp(link.state_expires_at)} UTC and allow access:")
            run.line(link.url)
            run.out.print(f"[dim]Xero sends you back to {escape(link.redirect_uri)} (the redirect URI registered "
                          f"in your Xero app).[/dim]")
        if open_browser:
            webbrowser.open(link.url)


# ============================================================================= mapping


@mapping_app.command("validate")
def mapping_validate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The mapping document (JSON).")],
    as_json: JsonOpt = False,
) -> None:
    """Check a mapping document before deploying it (MAPPING_FILE).

    Each problem says where it is, what is wrong and how to fix it; rules that can never apply are
    warned about. Exits 1 when the document is invalid, so CI can run it. Needs no target.
    """
    out, err = _consoles(ctx)
    check = mapping_ops.validate_file(file)
    if as_json:
        out.file.write(f"{to_json(check)}\n")
    else:
        if check.problems:
            table = _table(f"{check.path}: invalid ({len(check.problems)} problems)", "Where", "Problem", "How to fix")
            for p in check.problems:
                table.add_row(_text(p.where), _text(p.message), _text(p.hint))
            out.print(table)
        else:
            s = check.summary
            out.print(f"[green]{escape(check.path)}: valid[/green] ({s['product_rules']} product rules, "
                      f"{s['country_rules']} country rules, currencies {', '.join(s['currencies'])}, default account "
                      f"{s['default_account_code'] or 'unset'})")
        if check.warnings:
            table = _table("Warnings", "Where", "Warning", "Suggestion")
            for w in check.warnings:
                table.add_row(_text(w.where), _text(w.message), _text(w.hint))
            out.print(table)
    if not check.valid:
        if not as_json:
            err.print("[red]the mapping is invalid: the worker would refuse to start with it[/red]")
        raise typer.Exit(1)


# ============================================================================= go-live

MappingOpt = Annotated[str | None, typer.Option(
    "--mapping", metavar="FILE", help="A mapping document to use instead of the deployment's (try one before deploying).")]
DealIdsArg = Annotated[list[str], typer.Argument(metavar="DEAL_ID...", help="CRM deal ids.")]
StatusOpt = Annotated[str, typer.Option(
    "--status", help="Status of the invoices to create: DRAFT (finance reviews them), SUBMITTED or AUTHORISED.")]


def _golive(run: Run, tenant: str | None, mapping: str | None, throttle: Throttle | None = None) -> GoLive:
    return golive(run.target, tenant_id=tenant, mapping_file=mapping,
                  on_response=throttle.observe if throttle else None,
                  before_request=throttle.before_call if throttle else None)


def _check_status(run: Run, status: str) -> str:
    status = status.upper()
    if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
        raise run.fail("--status must be DRAFT, SUBMITTED or AUTHORISED", code=2)
    return status


def _money(value: Any) -> str:
    return "-" if value is None else f"{value:,.2f}"


@app.command()
def audit(
    ctx: typer.Context,
    examples: Annotated[int, typer.Option(min=1, help="Examples shown per check (the CSV has them all).")] = 10,
    csv_file: Annotated[Path | None, typer.Option(
        "--csv", metavar="FILE", help="Also write every finding to this CSV file ('-' for stdout instead of tables).")] = None,
    tenant: TenantOpt = None, mapping: MappingOpt = None,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Before going live: what to clean in the CRM and Xero, with counts and examples.

    Reads (never changes) every CRM organisation, person and product and every Xero contact, and
    reports: organisations that look like duplicates (same normalised name or email domain), records
    missing what an invoice needs (billing email, address, country for tax), products no mapping rule
    matches, organisations that would match more than one Xero contact, and organisations the sync
    would create a duplicate Xero contact for. Fix, then audit again; then `dry-run` a few deals.
    """
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        with run.progress("reading the CRM and Xero") as (progress,):
            report = audit_ops.audit(_golive(run, tenant, mapping), progress=progress)
        if csv_file is not None and str(csv_file) == "-":
            audit_ops.write_csv(report, run.out.file)
            return
        if csv_file is not None:
            with csv_file.open("w", newline="") as out:
                audit_ops.write_csv(report, out)
        if as_json:
            run.emit({**jsonable(report), "counts": report.counts})
            return
        _target_line(run)
        run.out.print(f"Read {report.organisations} organisations, {report.persons} persons, {report.products} "
                      f"products and {report.xero_contacts} Xero contacts.")
        summary = _table("Audit", "Check", "Found")
        for check, title in audit_ops.CHECKS.items():
            count = report.counts[check]
            summary.add_row(title, f"[red]{count}[/red]" if count else "[green]0[/green]")
        run.out.print(summary)
        for check, title in audit_ops.CHECKS.items():
            found = [f for f in report.findings if f.check == check]
            if not found:
                continue
            table = _table(f"{title}: {len(found)}" + (f" (first {examples})" if len(found) > examples else ""),
                           "Subject", "Detail")
            for f in found[:examples]:
                table.add_row(_text(f.subject), _text(f.detail))
            run.out.print(table)
        if csv_file is not None:
            run.out.print(f"[dim]Every finding written to {escape(str(csv_file))}.[/dim]")


@app.command("dry-run")
def dry_run(
    ctx: typer.Context, deal_ids: DealIdsArg,
    status: Annotated[str | None, typer.Option("--status", help="Invoice status to show; default: the deployment's.")] = None,
    tenant: TenantOpt = None, mapping: MappingOpt = None,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Show the exact invoices the sync would create for these deals, and create nothing.

    For each deal: the Xero contact it would be invoiced to (an existing one, or the new contact the
    invoice would create), every line with its account, tax type and rate, and the subtotal, tax and
    total as Xero computes them (tax rounded per line). Deals that would fail say why (fix the data or
    the mapping, then dry-run again); deals already invoiced say which invoice they have. Only reads:
    nothing is written to Xero, the CRM or the bridge's tables. Try a new mapping with --mapping FILE.
    """
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        chosen = _check_status(run, status) if status else None
        with run.progress("reading deals") as (progress,):
            result = dryrun_ops.dry_run(_golive(run, tenant, mapping), deal_ids, today=_now().date(), status=chosen,
                                        progress=progress)
        if as_json:
            run.emit(result)
            return
        _target_line(run)
        for p in result.previews:
            _render_preview(run, p)
        run.out.print(f"[bold]{result.would_create} of {len(result.previews)} deals would get an invoice.[/bold] "
                      "[dim]Dry run: nothing was created.[/dim]")


def _render_preview(run: Run, p: dryrun_ops.Preview) -> None:
    if p.outcome != "would_create":
        colour = "yellow" if p.outcome in ("already_invoiced", "not_won") else "red"
        why = f"{p.reason}: {p.message}" if p.reason else p.message
        run.out.print(f"Deal [bold]{escape(p.deal_id)}[/bold] {_text(p.title)}: [{colour}]{p.outcome}[/{colour}] "
                      f"{_text(why)}")
        return
    title = (f"Deal {p.deal_id} {p.title or ''} -> {p.status} invoice to {p.contact}, Reference {p.reference}, "
             f"{p.currency}, dated {p.invoice_date}, due {p.due_date}, amounts {p.line_amount_types}")
    table = _table(title, "Description", "Qty", "Unit", "Discount", "Account", "Tax type", "Rate", "Amount", "Tax")
    for line in p.lines:
        table.add_row(_text(line.description), _text(line.quantity.normalize()), _text(line.unit_amount), _text(line.discount),
                      _text(line.account_code), _text(line.tax_type), f"{line.tax_rate.normalize()}%",
                      _money(line.line_amount), _money(line.tax_amount))
    table.add_row("", "", "", "", "", "", "Subtotal", _money(p.sub_total), "")
    table.add_row("", "", "", "", "", "", "Tax", _money(p.total_tax), "")
    table.add_row("", "", "", "", "", "", "[bold]Total[/bold]", f"[bold]{_money(p.total)}[/bold]", "")
    run.out.print(table)


@app.command("test-batch")
def test_batch(
    ctx: typer.Context,
    deal_ids: Annotated[list[str] | None, typer.Argument(metavar="[DEAL_ID...]", help="The deals to invoice.")] = None,
    pick: Annotated[int | None, typer.Option(
        "--pick", min=1, max=50, metavar="N", help="Instead of ids: the first N won deals of --from/--to without an invoice.")] = None,
    won_from: Annotated[str | None, typer.Option("--from", metavar="DATE", help="With --pick: first won day (UTC).")] = None,
    won_to: Annotated[str | None, typer.Option("--to", metavar="DATE", help="With --pick: day after the last.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Invoice status; default: the deployment's.")] = None,
    tenant: TenantOpt = None, mapping: MappingOpt = None,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Invoice a few chosen deals for real, then check them in Xero before going further.

    Each deal goes through the sync exactly as a won-deal webhook would (so a deal that already has its
    invoice gets no second one); the invoice is written back onto the deal. Prints each outcome and a
    checklist of what to verify in Xero (contact, reference, status, totals, accounts and tax types, due
    date) and in the CRM. Five customers is the usual advice. Exit code 1 when a deal failed.
    """
    run = Run(ctx, stack, local, as_json)
    if bool(deal_ids) == bool(pick):
        raise run.fail("give DEAL_IDs or --pick N", code=2)
    with _guarded(run):
        chosen = _check_status(run, status) if status else None
        bridge = _golive(run, tenant, mapping)
        ids = deal_ids or testbatch_ops.pick_deals(bridge, pick or 0, won_from=_day(won_from, "--from"),
                                                    won_to=_day(won_to, "--to"))
        with run.progress("invoicing") as (progress,):
            result = testbatch_ops.test_batch(bridge, list(ids), status=chosen, progress=progress)
        if as_json:
            run.emit(result)
        else:
            _target_line(run)
            table = _table(f"Test batch ({len(result.results)} deals)", "Deal", "Outcome", "Invoice", "Contact",
                           "Status", "Total", "Why")
            colours = {"invoiced": "green", "already_invoiced": "yellow", "failed": "red", "busy": "yellow"}
            for r in result.results:
                colour = colours.get(r.outcome, "white")
                why = f"{r.reason}: {r.message}" if r.reason else r.message
                table.add_row(r.deal_id, f"[{colour}]{escape(r.outcome)}[/{colour}]", _text(r.invoice_number),
                              _text(r.contact), _text(r.status), _text(r.total), _text(why))
            run.out.print(table)
            if result.checklist:
                run.out.print("[bold]Check in Xero:[/bold]")
                for item in result.checklist:
                    run.out.print(f"  [ ] {escape(item)}")
        if any(r.outcome == "failed" for r in result.results):
            raise typer.Exit(1)


def _day(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{what} must be a date such as 2026-01-31 (UTC)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def backfill(
    ctx: typer.Context,
    won_from: Annotated[str | None, typer.Option("--from", metavar="DATE", help="First day (UTC) of the won dates.")] = None,
    won_to: Annotated[str | None, typer.Option("--to", metavar="DATE", help="Day (UTC) after the last won date.")] = None,
    status: StatusOpt = "DRAFT",
    batch_size: Annotated[int, typer.Option(min=1, max=50, help="Invoices per Xero request.")] = 50,
    minute_reserve: Annotated[int, typer.Option(
        min=0, max=59, help="Calls of each minute left to the live sync (of Xero's 60 per organisation).")] = 5,
    day_reserve: Annotated[int, typer.Option(
        min=0, max=5000, help="Stop when the organisation has this few calls left today (of 5,000).")] = 500,
    write_back: Annotated[bool, typer.Option(
        "--write-back/--no-write-back", help="Write each invoice's number and status onto its deal.")] = True,
    tenant: TenantOpt = None, mapping: MappingOpt = None,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Invoice every won deal of a period that has no invoice yet: 50 invoices per Xero request.

    Deals already invoiced (by the sync or an earlier backfill) are skipped; each other deal is claimed
    as the sync claims it, so nothing is ever invoiced twice, even with the live sync running. Calls are
    paced to the organisation's Xero limits (60 a minute, keeping --minute-reserve for the live sync;
    stopping at --day-reserve calls left today). Interrupted (Ctrl-C, network, daily limit)? Run the same
    command again: it resumes, and first looks up in Xero, by Reference, the invoices an interrupted
    request may have created. Try `dry-run` on a few deals and `test-batch` first. Exit code 1 when the
    run stopped early or some deals failed (listed with the reason).
    """
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        chosen = _check_status(run, status)
        start, end = _day(won_from, "--from"), _day(won_to, "--to")
        throttle = Throttle(minute_reserve=minute_reserve, day_reserve=day_reserve)
        job = backfill_ops.Backfill(_golive(run, tenant, mapping, throttle), throttle, status=chosen,
                                    batch_size=batch_size, write_back=write_back)
        with run.progress("invoicing won deals") as (progress,):
            report = job.run(won_from=start, won_to=end, progress=progress)
        if as_json:
            run.emit(report)
        else:
            _render_backfill(run, report)
        if report.stopped or report.failed:
            raise typer.Exit(1)


def _render_backfill(run: Run, r: backfill_ops.BackfillReport) -> None:
    _target_line(run)
    facts = _table(f"Backfill of deals won {stamp(r.won_from) if r.won_from else 'ever'} to "
                   f"{stamp(r.won_to) if r.won_to else 'now'} ({r.status} invoices)", "", "")
    for key, value in (("Won deals in the period", r.deals_won), ("Already invoiced", r.already_invoiced),
                       ("Invoices created", r.created), ("Found in Xero after an interruption", r.adopted),
                       ("Failed", len(r.failed)), ("Busy (a live sync held them)", len(r.busy)),
                       ("Written back to the CRM", r.written_back),
                       ("Xero requests: invoice batches / all", f"{r.create_requests} / {r.xero_calls}"),
                       ("Waited for Xero's limits", duration(r.waited_seconds)), ("429 answers", r.rate_limited)):
        facts.add_row(key, _text(value))
    run.out.print(facts)
    if r.failed:
        failed = _table(f"Failed ({len(r.failed)}): fix, then run again", "Deal", "Reason", "Message")
        for f in r.failed:
            failed.add_row(f.deal_id, f"[red]{escape(f.reason)}[/red]", _text(f.message))
        run.out.print(failed)
    if r.busy:
        run.out.print(f"[yellow]•[/yellow] being synced by the live bridge, not touched: {', '.join(r.busy)}")
    if r.write_back_failed:
        run.out.print(f"[yellow]•[/yellow] invoice not written back onto deals {', '.join(r.write_back_failed)}: "
                      "`bridgectl resync deal ID` writes it")
    if r.stopped:
        run.out.print(f"[red]Stopped early:[/red] {escape(r.stopped)}")
    else:
        run.out.print("[green]Complete.[/green]")


@app.command()
def leakage(
    ctx: typer.Context,
    won_from: Annotated[str | None, typer.Option("--from", metavar="DATE", help="First won day (UTC); default: --days ago.")] = None,
    won_to: Annotated[str | None, typer.Option("--to", metavar="DATE", help="Day after the last won day; default: now.")] = None,
    days: Annotated[int, typer.Option(min=1, help="Without --from: deals won in this many days before now.")] = 90,
    tolerance: Annotated[str, typer.Option(help="Amounts closer than this are equal.")] = "0.01",
    grace_minutes: Annotated[int, typer.Option(
        min=0, help="Deals won this recently are left out (the live sync may still be invoicing them).")] = 60,
    tenant: TenantOpt = None, mapping: MappingOpt = None,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Revenue leakage: won deals without a Xero invoice, invoices whose deal is no longer won, and
    invoices whose total differs from what the deal would be invoiced for today.

    Won deals are those of the period (--from/--to, else the last --days); invoices without a deal are
    looked for among all the organisation's sales invoices. The same report runs on a schedule
    (LeakageCheckFunction; LeakageFoundAlarm when it finds any).
    Fix each finding: a deal without an invoice `bridgectl resync deal ID` (or `test-batch ID`); an
    invoice without a deal, void it in Xero or win the deal again; an amount that differs, correct the
    deal or the invoice. Exit code 1 when anything was found.
    """
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        now = _now()
        start = _day(won_from, "--from") or now - timedelta(days=days)
        try:
            allowed = Decimal(tolerance)
        except InvalidOperation as exc:
            raise run.fail("--tolerance must be an amount such as 0.01", code=2) from exc
        check = leakage_ops.Leakage(_golive(run, tenant, mapping), tolerance=allowed,
                                    grace=timedelta(minutes=grace_minutes))
        with run.progress("comparing deals and invoices") as (progress,):
            report = check.run(won_from=start, won_to=_day(won_to, "--to"), progress=progress)
        if as_json:
            run.emit({**jsonable(report), "counts": report.counts})
        else:
            _target_line(run)
            run.out.print(f"Checked {report.deals_checked} deals won {stamp(report.won_from)} to {stamp(report.won_to)} "
                          f"and {report.invoices_checked} Xero sales invoices.")
            table = _table(f"Findings ({len(report.findings)})", "Kind", "Deal", "Invoice", "Detail")
            for f in report.findings:
                table.add_row(f"[red]{f.kind}[/red]", _text(f.deal_id), _text(f.invoice_number or f.invoice_id),
                              _text(f.detail))
            if not report.findings:
                table.add_row("[green]none[/green]", "-", "-", "every won deal has its invoice and the amounts agree")
            run.out.print(table)
        if report.findings:
            raise typer.Exit(1)


# ============================================================================= contact


@contact_app.command("use")
def contact_use(
    ctx: typer.Context,
    deal_id: Annotated[str, typer.Argument(metavar="DEAL_ID", help="The CRM deal id.")],
    contact_id: Annotated[str, typer.Argument(metavar="XERO_CONTACT_ID", help="The Xero ContactID to invoice.")],
    tenant: TenantOpt = None,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Settle which Xero contact a deal is invoiced to, then invoice it.

    Use it for a deal `status` lists as needing a contact decision (contact_decision_needed: its
    message names the Xero contacts the evidence points to). The contact must exist in Xero and not
    be archived (a merged contact stands for the one it was merged into). Its ContactID is set on the
    deal's CRM organisation, so the organisation's later deals go to it too; the decision is recorded
    in the deal's history, and the deal is enqueued again as `resync deal` does. A deal that already
    has its Xero invoice gets no second one.
    """
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        decision = contact_ops.use_contact_in(_golive(run, tenant, None), deal_id, contact_id, now=_now())
        if as_json:
            run.emit(decision)
            return
        _render_enqueued(run, decision.enqueued)
        run.out.print(f"[green]•[/green] {escape(decision.summary)}")


@app.command()
def setup(ctx: typer.Context, stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False) -> None:
    """Create the bridge's own CRM fields (Xero invoice number, status, balances, ContactID...) once and
    store their codes, where every worker finds them.

    Run it once after deploying, and again after an upgrade that adds a field: workers never create a
    field (a deal on an account without them fails with crm_fields_missing). Idempotent. Where a field
    exists twice, the oldest is used and the others are listed (`bridgectl status` keeps warning).
    """
    from crmbridge.ops import setup as setup_ops

    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        report = setup_ops.run_setup(run.target)
        if as_json:
            run.emit(report)
            return
        _target_line(run)
        table = _table(f"The bridge's {report.crm} fields", "Entity", "Field", "Code", "")
        for entity in report.entities:
            for key, code in entity.codes.items():
                note = "[green]created[/green]" if key in entity.created else ""
                if key in entity.duplicates:
                    note = f"[yellow]{len(entity.duplicates[key])} duplicate(s) ignored[/yellow]"
                table.add_row(entity.entity, key, code, note)
        run.out.print(table)


# ============================================================================= tenants


def _pinned_tenant(run: Run) -> str | None:
    """XERO_TENANT_ID as the deployment sets it (the XeroTenantId parameter; locally the environment)."""
    return run.target.parameters.get("XeroTenantId") or run.target.environ.get("XERO_TENANT_ID") or None


@tenants_app.callback()
def tenants(ctx: typer.Context, stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False) -> None:
    """List the connected Xero organisations: which one deals are invoiced to, each one's state and the
    authorisation (consent) its tokens come from. Connecting another organisation never changes which
    one is invoiced; `tenants use` does."""
    if ctx.invoked_subcommand is not None:
        return
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        states, selection = tenant_ops.list_tenants(TokenStore(run.target.table("TokensTable")))
        pinned = _pinned_tenant(run)
        invoiced = pinned or (selection.tenant_id if selection else None)
        if as_json:
            run.emit({"invoiced": invoiced, "pinned": pinned, "selection": selection,
                      "tenants": [{**jsonable(s), "invoiced": s.tenant_id == invoiced} for s in states]})
            return
        _target_line(run)
        table = _table("Xero organisations", "", "Tenant", "Name", "State", "Reason", "Authorisation")
        for s in states:
            mark = "[green]invoiced[/green]" if s.tenant_id == invoiced else ""
            colour = "green" if s.status == "CONNECTED" else "red"
            table.add_row(mark, _text(s.tenant_id), _text(s.tenant_name), f"[{colour}]{s.status}[/{colour}]",
                          _text(s.status_reason if s.status != "CONNECTED" else None),
                          _text(s.auth_event_id or s.authorisation))
        if not states:
            table.add_row("", "-", "no organisation connected: `bridgectl connect`", "-", "-", "-")
        run.out.print(table)
        if pinned:
            run.out.print(f"Pinned by XERO_TENANT_ID (the XeroTenantId parameter): {escape(pinned)}.")
        elif selection is None and states:
            run.out.print("[yellow]No organisation is chosen for invoicing:[/yellow] `bridgectl tenants use TENANT_ID`.")
        elif selection is not None:
            when = f", {stamp(datetime.fromtimestamp(selection.selected_at, tz=UTC))}" if selection.selected_at else ""
            run.out.print(f"[dim]Chosen by {escape(selection.selected_by)}{when}.[/dim]")


@tenants_app.command("use")
def tenants_use(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument(metavar="TENANT_ID", help="A connected organisation (`bridgectl tenants`).")],
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Invoice deals to this Xero organisation from now on (deals invoiced already keep their invoices).

    Refused for an organisation that is not connected, or whose connection is broken (connect it
    again first). A deployment pinned by XeroTenantId keeps its pin; mapping tenant_routes still apply.
    """
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        chosen = tenant_ops.use_tenant(TokenStore(run.target.table("TokensTable")), tenant_id, now=int(time.time()))
        pinned = _pinned_tenant(run)
        if as_json:
            run.emit({"invoiced": pinned or chosen.tenant_id, "selected": chosen, "pinned": pinned})
            return
        _target_line(run)
        run.out.print(f"Deals are now invoiced to {escape(chosen.tenant_name or chosen.tenant_id)} "
                      f"({escape(chosen.tenant_id)}).")
        if pinned and pinned != chosen.tenant_id:
            run.out.print(f"[yellow]But XERO_TENANT_ID pins {escape(pinned)}: the pin wins until the stack is "
                          "deployed with an empty XeroTenantId.[/yellow]")

@link_app.command("invoice")
def link_invoice(
    ctx: typer.Context,
    invoice_id: Annotated[str, typer.Argument(metavar="INVOICE_ID", help="The Xero InvoiceID.")],
    deal: Annotated[str, typer.Option("--deal", metavar="DEAL_ID", help="The won CRM deal it is for.")],
    tenant: TenantOpt = None,
    stack: StackOpt = None, local: LocalOpt = False, as_json: JsonOpt = False,
) -> None:
    """Record an invoice raised outside the bridge as a won deal's invoice.

    The bridge never links an invoice because its Reference looks like a deal id (a PO number can); a
    person may, when the invoice is billed to the deal's organisation and the deal has no live invoice
    of its own (`leakage` lists invoices naming deals the bridge did not create). The invoice's state
    is then written to the deal and its organisation.
    """
    run = Run(ctx, stack, local, as_json)
    with _guarded(run):
        golive = _golive(run, tenant, None)
        assert golive.target is not None
        linked = link_ops.link_invoice(golive.target, golive.crm, golive.xero, golive.links, golive.tenant_id,
                                       invoice_id, deal_id=deal, now=_now())
        if as_json:
            run.emit(linked)
            return
        _render_enqueued(run, linked.enqueued)
        run.out.print(f"[green]•[/green] invoice {escape(linked.invoice_number or linked.invoice_id)} "
                      f"({escape(linked.contact)}) is deal {escape(linked.deal_id)}'s")


def run_cli(args: list[str], *, stdout: IO[str], stderr: IO[str]) -> int:
    """Run bridgectl in this process, writing to these streams instead of sys.stdout/sys.stderr (so it
    can run next to threads that log to sys.stdout, as the local stack's functions do); the exit code."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="bridgectl", standalone_mode=False,
                            obj=_Options(stdout=stdout, stderr=stderr))
    except typer.Exit as exc:
        return exc.exit_code
    except _USAGE_ERROR as exc:
        stderr.write(f"error: {exc.format_message()}\n")  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    except typer.Abort:
        return 1
    return code if isinstance(code, int) else 0


def main() -> None:
    app()


if __name__ == "__main__":
    main()
