"""bridgectl's command line: help for every command, exit codes, JSON that parses, and the layer rule
(typer and rich only in ops.cli)."""

from __future__ import annotations

import ast
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from crmbridge.commands import DealWon, QueueMessage
from crmbridge.errors import PermanentError
from crmbridge.ops import cli
from crmbridge.sync.history import SyncHistory
from crmbridge.sync.records import SyncRecords
from tests.unit.test_ops_fakes import FakeSqs, fake_target, standard_tables

OPS = Path(cli.__file__).parent
DEFAULT_MAPPING = OPS.parent / "mapping" / "default_mapping.json"
NOW = datetime.now(UTC)


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run_cli(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The CLI's target replaced by fakes with one failed deal and one dead letter."""
    sqs = FakeSqs("sync", "dlq")
    tables = standard_tables()
    failed = DealWon(crm="pipedrive", deal_id="42", won_time="2026-03-01T09:00:00Z")
    SyncRecords(tables["LinksTable"]).failed(failed, PermanentError("no_organisation", "deal 42 has no org"), at=NOW)
    SyncHistory(tables["SyncHistoryTable"]).add(failed, at=NOW, outcome="failed", error="deal 42 has no org",
                                                reason="no_organisation")
    tables["TokensTable"].put_item(Item={"tenant_id": "6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10", "tenant_name": "Demo", "access_token": "tok-a",
                                         "refresh_token": "tok-r", "access_expires_at": int(NOW.timestamp()) + 900,
                                         "refreshed_at": int(NOW.timestamp()) - 300, "status": "CONNECTED"})
    dead = sqs.put("dlq", QueueMessage(command=DealWon(crm="pipedrive", deal_id="9")).model_dump_json())
    calls: list[dict[str, Any]] = []

    def resolve(**kwargs: Any):
        calls.append(kwargs)
        return fake_target(sqs, tables)

    monkeypatch.setattr(cli, "resolve_target", resolve)
    monkeypatch.setenv("COLUMNS", "200")
    return {"sqs": sqs, "tables": tables, "dead": dead, "calls": calls}


def test_typer_and_rich_are_imported_by_cli_only():
    for path in OPS.glob("*.py"):
        if path.name == "cli.py":
            continue
        tree = ast.parse(path.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not imported & {"typer", "rich", "click"}, path.name


def help_of(*command: str) -> tuple[int, str]:
    """Help goes to sys.stdout (typer renders it): CliRunner captures it."""
    result = CliRunner().invoke(cli.app, [*command, "--help"], env={"COLUMNS": "120"})
    return result.exit_code, result.stdout


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, command in getattr(group, "commands", {}).items():
        out += _commands(command, (*prefix, name))
    return out


def test_every_command_has_help_that_says_what_and_when():
    commands = _commands(typer.main.get_command(cli.app))
    assert {c for c in commands if len(c) >= 1} >= {
        ("status",), ("connect",), ("dlq", "list"), ("dlq", "show"), ("dlq", "redrive"), ("resync", "deal"),
        ("resync", "invoice"), ("history", "deal"), ("history", "invoice"), ("mapping", "validate"),
        ("audit",), ("dry-run",), ("test-batch",), ("backfill",), ("leakage",)}
    for command in commands:
        code, out = help_of(*command)
        assert code == 0 and "Usage" in out, command
        assert len(out) > 300, command


def test_leaf_commands_offer_json_and_a_target():
    for command in [c for c in _commands(typer.main.get_command(cli.app)) if len(c) >= 1]:
        _, out = help_of(*command)
        if "COMMAND" in out.split("Usage:", 1)[1].split("\n", 1)[0]:
            continue  # a group
        assert "--json" in out, command
        if command != ("mapping", "validate"):
            assert "--stack" in out and "--local" in out, command


def test_status_renders_tables_and_json_without_tokens(world):
    code, out, _ = run("status")
    assert code == 0
    assert "no_organisation" in out and "deal 42 (pipedrive)" in out and "CONNECTED" in out
    assert "SyncDeadLetterQueue" in out and "expires in" in out
    assert "tok-a" not in out and "tok-r" not in out

    code, out, _ = run("status", "--json")
    report = json.loads(out)
    assert [f["reason"] for f in report["failures"]] == ["no_organisation"]
    assert "tok-" not in out


def test_target_options_reach_the_resolver_from_either_level(world):
    run("--stack", "prod", "status", "--json")
    run("status", "--local", "--json")
    run("dlq", "list", "--stack", "other", "--json")
    assert [(c["stack"], c["local"]) for c in world["calls"]] == [("prod", False), (None, True), ("other", False)]


def test_dlq_commands_render_and_parse(world):
    code, out, _ = run("dlq", "list")
    assert code == 0 and world["dead"] in out and "deal 9 (pipedrive)" in out and "unknown: see logs" in out
    listing = json.loads(run("dlq", "list", "--json")[1])
    assert [m["message_id"] for m in listing["messages"]] == [world["dead"]]
    assert "receipt_handle" not in listing["messages"][0] and "body" not in listing["messages"][0]

    code, out, _ = run("dlq", "show", world["dead"])
    assert code == 0 and '"deal_id": "9"' in out
    assert run("dlq", "show", "m-missing")[0] == 1

    code, out, _ = run("dlq", "redrive", "--all", "--dry-run")
    assert code == 0 and "dry run" in out and world["sqs"].bodies("sync") == []
    moved = json.loads(run("dlq", "redrive", world["dead"], "--json")[1])
    assert [m["message_id"] for m in moved["moved"]] == [world["dead"]]
    assert len(world["sqs"].bodies("sync")) == 1 and world["sqs"].bodies("dlq") == []
    code, _, err = run("dlq", "redrive", world["dead"])
    assert code == 1 and "not in the dead-letter queue" in err


def test_redrive_needs_exactly_one_of_id_and_all(world):
    assert run("dlq", "redrive")[0] == 2
    assert run("dlq", "redrive", "x", "--all")[0] == 2


def test_resync_and_history(world):
    enqueued = json.loads(run("resync", "deal", "42", "--json")[1])
    assert enqueued["command"]["resync"] is True and enqueued["command"]["won_time"] == "2026-03-01T09:00:00Z"
    code, out, _ = run("resync", "invoice", "4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01")
    assert code == 0 and "invoice 4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01 (tenant 6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10" in out  # the only connected tenant

    code, out, _ = run("history", "deal", "42")
    assert code == 0 and "FAILED" in out and "no_organisation" in out
    history = json.loads(run("history", "deal", "42", "--json")[1])
    assert [e["outcome"] for e in history["entries"]] == ["failed"]
    assert json.loads(run("history", "invoice", "4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01", "--tenant", "6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10", "--json")[1])["entries"] == []


def test_mapping_validate_exit_codes_and_json(tmp_path):
    code, out, _ = run("mapping", "validate", str(DEFAULT_MAPPING))
    assert code == 0 and "valid" in out

    bad = tmp_path / "bad.json"
    bad.write_text('{"currencies": ["pounds"], "productz": []}')
    code, out, err = run("mapping", "validate", str(bad))
    assert code == 1 and "productz" in out and "invalid" in err
    code, out, _ = run("mapping", "validate", str(bad), "--json")
    assert code == 1 and {p["where"] for p in json.loads(out)["problems"]} == {"currencies", "productz"}


def test_operator_errors_are_one_line_and_exit_1(monkeypatch):
    code, _, err = run("--stack", "prod", "status", "--local")
    assert code == 1 and "not both" in err

    monkeypatch.delenv("BRIDGE_STACK", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    code, _, err = run("status")
    assert code == 1 and "cannot reach http://127.0.0.1:9" in err and "make local" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("args", [
    ("backfill", "--status", "PAID"),
    ("test-batch",),
    ("test-batch", "12", "--pick", "3"),
    ("leakage", "--tolerance", "a penny"),
    ("dry-run", "12", "--status", "VOIDED"),
])
def test_go_live_commands_refuse_bad_arguments_before_touching_anything(world, args):
    # Given the go-live commands, When called with arguments they cannot use
    code, _, err = run(*args)
    # Then they exit 2 with what is wrong, before resolving a target
    assert code == 2 and err
    assert world["calls"] == []


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
    ("2026-01-31T12:30", datetime(2026, 1, 31, 12, 30, tzinfo=UTC)),
    ("2026-01-31T12:30:00Z", datetime(2026, 1, 31, 12, 30, tzinfo=UTC)),
])
def test_period_bounds_are_utc_moments(text, expected):
    assert cli._day(text, "--from") == expected


def test_a_period_bound_that_is_not_a_date_is_a_usage_error(world):
    code, _, err = run("backfill", "--from", "last tuesday")
    assert code == 2 and "--from" in err
