"""`make local` for each CRM: the stack started as `python -m local.stack --crm CRM` starts it
(local.stack.newcomer_stack, on free ports), Xero connected by itself, and the README's commands
invoicing a deal within seconds instead of parking it."""

from __future__ import annotations

import dataclasses
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from crmbridge.tokens.store import TokenStore
from local.demo import CRMS, Urls, Xero, crm_driver, wait_for
from local.stack import DEFAULT_PORTS, NewcomerRun, newcomer_instructions, newcomer_stack, sample_commands

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


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
