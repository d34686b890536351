"""`make local` for each CRM: the stack started as `python -m local.stack --crm CRM` starts it
(local.stack.newcomer_stack, on free ports), Xero connected by itself, and the README's commands
invoicing a deal within seconds instead of parking it."""

from __future__ import annotations

import dataclasses
import io
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import boto3
import pytest

from crmbridge.tokens.store import TokenStore
from local.demo import CRMS, Urls, Xero, crm_driver, wait_for
from local.stack import (
    DEFAULT_PORTS,
    PORT_ENV,
    NewcomerRun,
    newcomer_instructions,
    newcomer_stack,
    sample_commands,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# The environment as a newcomer's shell has it: read at collection, before any stack in this process set
# its own (emulator URLs, moto's endpoint), which a `make local` started from here would otherwise reuse.
SHELL_ENVIRONMENT = dict(os.environ)


@pytest.fixture(scope="module", params=CRMS)
def newcomer(request) -> Iterator[NewcomerRun]:
    with newcomer_stack(request.param, out=io.StringIO(), ports=dict.fromkeys(DEFAULT_PORTS, 0)) as run:
        yield run


def run_in_shell(command: str) -> str:
    """The command as a newcomer pastes it into a shell at the repository's root: its output."""
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=30,
                          check=True)
    return done.stdout


def invoiced(run: NewcomerRun, deal_id: object) -> list[dict]:
    """Waits (30 s at most) for the deal to show its Xero invoice number; Xero's invoices for the deal."""
    wait_for(f"deal {deal_id}'s invoice number", lambda: crm_driver(run.crm, run.urls).deal_field(deal_id, "invoice_number"),
             timeout=30)
    xero = Xero(run.urls.xero)
    xero.sign_in()
    return xero.invoices(str(deal_id))


def test_the_local_xero_organisation_is_connected_before_any_webhook(newcomer):
    # Given `make local` just started, nobody having run `bridgectl connect`
    # When the bridge's token store is read
    tokens = TokenStore(boto3.resource("dynamodb").Table(newcomer.stack.table_name("TokensTable")))
    # Then it holds the local organisation's connection
    assert len(tokens.all()) == 1


def test_the_readmes_hand_sent_webhook_invoices_the_won_sample_deal(newcomer):
    # Given the won sample deal, its webhook not sent
    # When the README's command sends it
    answer = run_in_shell(sample_commands(newcomer)["send"])
    # Then it is accepted, and the deal is invoiced once within 30 s (not parked for later)
    assert answer.startswith("HTTP/1.1 200")
    assert len(invoiced(newcomer, newcomer.won_deal)) == 1


def test_winning_the_open_sample_in_the_crm_app_invoices_it(newcomer):
    # Given the open sample deal
    # When the README's command wins it in the CRM's app (the emulator sends its own webhook)
    answer = run_in_shell(sample_commands(newcomer)["win"])
    # Then the deal is invoiced once within 30 s
    assert answer.startswith("HTTP/1.1 200")
    assert len(invoiced(newcomer, newcomer.open_deal)) == 1


def test_the_readme_shows_what_make_local_prints_on_its_default_ports(newcomer):
    # Given the commands for this stack's sample deals, on the ports `make local` listens on
    defaults = Urls(**{name: f"http://127.0.0.1:{DEFAULT_PORTS[name]}" for name in ("gateway", "xero", "pipedrive",
                                                                                   "hubspot")})
    expected = newcomer_instructions(dataclasses.replace(newcomer, urls=defaults))
    # When the README is read / Then it shows exactly those (the commands tested above)
    assert expected in (ROOT / "README.md").read_text()


def test_make_local_prints_the_commands_that_invoice_a_deal_and_stops_on_ctrl_c():
    # Given `make local` started as a newcomer starts it (every port free, the default CRM)
    ports = dict.fromkeys(PORT_ENV.values(), "0")
    process = subprocess.Popen(["make", "--no-print-directory", "local"], cwd=ROOT, text=True, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=SHELL_ENVIRONMENT | ports)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=forward, args=(process.stdout, lines), daemon=True).start()
    try:
        printed = read_until(lines, "sent by hand", timeout=60)
        # When the hand-sent webhook it prints is run
        urls = dict(re.findall(r"^  (gateway|xero)\s+(http://\S+)$", printed, re.MULTILINE))
        command = "".join(lines.get(timeout=5) for _ in range(3))  # curl ... \\ -d ... \\ URL
        answer = run_in_shell(command)
        # Then Pipedrive's deal 1 is invoiced in the Xero emulator, and Ctrl-C stops the stack
        assert answer.startswith("HTTP/1.1 200")
        xero = Xero(urls["xero"])
        xero.sign_in()
        assert len(wait_for("deal 1's invoice", lambda: xero.invoices("1"), timeout=30)) == 1
        assert urls["gateway"] in command
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C, as the terminal sends it to make and the stack
    process.wait(timeout=30)
    assert "stopping...\n" in read_until(lines, "stopping...", timeout=10)


def forward(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def read_until(lines: queue.Queue[str], marker: str, *, timeout: float) -> str:
    """What the process printed up to and including the first line with `marker`."""
    deadline = time.monotonic() + timeout
    seen = []
    while not seen or marker not in seen[-1]:
        seen.append(lines.get(timeout=max(deadline - time.monotonic(), 0.01)))
    return "".join(seen)
