"""`make bench`: every benchmark, each next to its baseline in the same run; prints a table and
writes bench/results.json (names -> numbers, null where not measured; details under "_meta").

    python -m bench.run            # everything, about 3-4 minutes on 2 cores
    python -m bench.run --quick    # fewer samples (a smoke run, figures are rough)
    python -m bench.run --only cold,ack,flows

The functions log to stdout as in Lambda; here that goes to a log file (its path is printed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.stats import ratio, rounded

RESULTS = Path(__file__).resolve().parent / "results.json"
LOG_FILE = Path(tempfile.gettempdir()) / "xero-crm-bridge-bench.log"
WEBHOOK_FUNCTIONS = ("crm_webhook", "xero_webhook")

TARGETS = {
    "ack_p99_ms": ("<", 25.0),
    "ack_ratio": ("<=", 1.5),
    "cold_start_ratio_crm_webhook": ("<=", 1.3),
    "cold_start_ratio_xero_webhook": ("<=", 1.3),
    "xero_calls_per_invoice_steady": ("<=", 1.0),
    "xero_calls_per_invoice_new_contact": ("<=", 3.0),
    "e2e_invoice_p50_ms": ("<", 1000.0),
    "e2e_invoice_p95_ms": ("<", 2000.0),
    "writeback_p50_ms": ("<", 2000.0),
    "backfill_invoices_per_tenant_minute": (">=", 2500.0),
}


def progress(text: str) -> None:
    sys.stderr.write(f"[bench] {text}\n")
    sys.stderr.flush()


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": _load(),
    }


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


# ----------------------------------------------------------------------------- phases


def cold_start_phase(results: dict[str, Any], details: dict[str, Any], *, repeats: int) -> None:
    from bench import coldstart

    targets = coldstart.targets()
    by_name = {t.name: t for t in targets}
    with coldstart.layer_site() as site:
        progress(f"cold start: {len(targets)} interpreters x {repeats} (as built: no .pyc)")
        built = coldstart.measure(targets, site, mode="as-built", repeats=repeats)
        base = built.median_ms(coldstart.BASELINE)
        results["cold_start_baseline_ms"] = rounded(base, 1)
        results["cold_start_baseline_import_ms"] = rounded(built.import_median_ms(coldstart.BASELINE), 1)
        for target in targets:
            if target.name == coldstart.BASELINE:
                continue
            results[f"cold_start_{target.name}_ms"] = rounded(built.median_ms(target.name), 1)
            results[f"cold_start_ratio_{target.name}"] = rounded(ratio(built.median_ms(target.name), base), 3)
            results[f"cold_start_import_ratio_{target.name}"] = rounded(
                ratio(built.import_median_ms(target.name), built.import_median_ms(coldstart.BASELINE)), 3)
        details["cold_start_samples_ms"] = {
            name: [round(v * 1000, 1) for v in values] for name, values in built.total.items()}

        webhooks = [by_name[n] for n in WEBHOOK_FUNCTIONS if n in by_name]
        progress("cold start: precompiled (.pyc kept), webhook functions, for information")
        pre = coldstart.measure([by_name[coldstart.BASELINE], *webhooks], site, mode="precompiled",
                                repeats=max(3, repeats - 2))
        pre_base = pre.median_ms(coldstart.BASELINE)
        results["cold_start_precompiled_baseline_ms"] = rounded(pre_base, 1)
        for target in webhooks:
            results[f"cold_start_precompiled_ratio_{target.name}"] = rounded(
                ratio(pre.median_ms(target.name), pre_base), 3)

        missed = [t for t in webhooks if (results.get(f"cold_start_ratio_{t.name}") or 0) > 1.3]
        if missed:
            progress("cold start: target missed, profiling imports (python -X importtime)")
            details["cold_start_import_profile"] = {
                t.name: coldstart.profile(t, by_name[coldstart.BASELINE], site) for t in missed}


def flows_phase(stack: Any, results: dict[str, Any], details: dict[str, Any], *, quick: bool) -> None:
    from bench import flows

    flow = flows.connect(stack)
    progress("Xero calls per invoice: a batch of new customers, then the same customers again")
    calls = flows.calls_per_invoice(flow, batch=5 if quick else 10)
    results["xero_calls_per_invoice_new_contact"] = rounded(calls["new_contact"]["per_invoice"], 2)
    results["xero_calls_per_invoice_steady"] = rounded(calls["steady"]["per_invoice"], 2)
    details["xero_calls"] = calls

    deals = 8 if quick else 30
    progress(f"deal won -> DRAFT invoice visible in Xero: {deals} deals, one at a time")
    e2e = flows.invoice_latency(flow, deals=deals, deadline=time.monotonic() + 150)
    results["e2e_invoice_p50_ms"] = rounded(e2e["bridge"]["p50"], 1)
    results["e2e_invoice_p95_ms"] = rounded(e2e["bridge"]["p95"], 1)
    results["e2e_invoice_baseline_p50_ms"] = rounded(e2e["direct_put_baseline"]["p50"], 1)
    results["e2e_invoice_baseline_p95_ms"] = rounded(e2e["direct_put_baseline"]["p95"], 1)
    details["e2e_invoice"] = {k: v for k, v in e2e.items() if k != "invoiced"}

    count = 6 if quick else 20
    progress(f"finance approves in Xero -> status on the deal: {count} invoices")
    writeback = flows.writeback_latency(flow, e2e["invoiced"], count=count, deadline=time.monotonic() + 90)
    results["writeback_p50_ms"] = rounded(writeback["bridge"]["p50"], 1)
    results["writeback_p95_ms"] = rounded(writeback["bridge"]["p95"], 1)
    results["writeback_baseline_p50_ms"] = rounded(writeback["direct_write_baseline"]["p50"], 1)
    results["writeback_baseline_p95_ms"] = rounded(writeback["direct_write_baseline"]["p95"], 1)
    details["writeback"] = writeback
    details["flow_notes"] = flow.notes


def ack_phase(stack: Any, results: dict[str, Any], details: dict[str, Any], *, n: int, warmup: int) -> None:
    from bench import ack

    progress(f"webhook acknowledgement: {n} requests per route after {warmup} warm-up, HTTP then in-process")
    out = ack.run(stack, n=n, warmup=warmup)
    http, local = out["http"]["summary"], out["in_process"]["summary"]
    base = http["gateway_sqs_only"]  # a function that only sends to SQS, behind the same gateway
    client_sqs = http["sqs_send_message"]
    routes = [r for r in ack.ROUTES if r in http]
    worst = {  # the worst route for each figure
        "p50": max(routes, key=lambda r: http[r]["p50"]),
        "p99": max(routes, key=lambda r: http[r]["p99"]),
        "ratio": max(routes, key=lambda r: ratio(http[r]["p50"], base["p50"])),
    }
    for route in routes:
        results[f"ack_{route}_p50_ms"] = rounded(http[route]["p50"])
        results[f"ack_{route}_p99_ms"] = rounded(http[route]["p99"])
        results[f"ack_{route}_ratio"] = rounded(ratio(http[route]["p50"], base["p50"]), 3)
    results["ack_p50_ms"] = rounded(http[worst["p50"]]["p50"])
    results["ack_p99_ms"] = rounded(http[worst["p99"]]["p99"])
    results["ack_ratio"] = rounded(ratio(http[worst["ratio"]]["p50"], base["p50"]), 3)
    results["ack_p99_ratio"] = rounded(max(ratio(http[r]["p99"], base["p99"]) for r in routes), 3)
    results["ack_baseline_sqs_p50_ms"] = rounded(base["p50"])
    results["ack_baseline_sqs_p99_ms"] = rounded(base["p99"])
    results["ack_client_sqs_p50_ms"] = rounded(client_sqs["p50"])
    results["ack_client_sqs_p99_ms"] = rounded(client_sqs["p99"])
    results["ack_ratio_vs_client_sqs"] = rounded(
        max(ratio(http[r]["p50"], client_sqs["p50"]) for r in routes), 3)
    results["ack_gateway_floor_p50_ms"] = rounded(http["gateway_floor"]["p50"])
    results["ack_gateway_floor_p99_ms"] = rounded(http["gateway_floor"]["p99"])
    local_base = local["sqs_send_message"]
    results["ack_inprocess_p50_ms"] = rounded(max(local[r]["p50"] for r in routes))
    results["ack_inprocess_p99_ms"] = rounded(max(local[r]["p99"] for r in routes))
    results["ack_inprocess_ratio"] = rounded(max(ratio(local[r]["p50"], local_base["p50"]) for r in routes), 3)
    results["ack_inprocess_baseline_sqs_p50_ms"] = rounded(local_base["p50"])
    results["ack_inprocess_baseline_sqs_p99_ms"] = rounded(local_base["p99"])
    details["ack"] = {"worst_route": worst, **out}


def backfill_phase(results: dict[str, Any], details: dict[str, Any], *, deals: int) -> None:
    from tests.e2e.golive_flow import measure_backfill_throughput

    progress(f"backfill throughput: {deals} won deals against Xero's per-minute and daily limits, moved clock")
    out = measure_backfill_throughput(deals)
    results["backfill_invoices_per_tenant_minute"] = out["backfill_invoices_per_tenant_minute"]
    details["backfill"] = out


# ----------------------------------------------------------------------------- report


def _fmt(value: Any, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        text = f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
    else:
        text = str(value)
    return f"{text}{unit}"


def verdict(name: str, value: Any) -> str:
    if name not in TARGETS:
        return ""
    op, limit = TARGETS[name]
    if value is None:
        return f"{op} {_fmt(limit)}  (not measured)"
    met = {"<": value < limit, "<=": value <= limit, ">=": value >= limit}[op]
    if met:
        return f"{op} {_fmt(limit)}  met"
    return f"{op} {_fmt(limit)}  MISSED by {_fmt(abs(value - limit))} ({value / limit:.2f}x)"


def table(results: dict[str, Any], meta: dict[str, Any]) -> str:
    r = results
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, value: Any, baseline: str = "", unit: str = "") -> None:
        rows.append((name, _fmt(value, unit), baseline, verdict(name, value)))

    if "ack_p50_ms" in r:
        worst = meta["details"]["ack"]["worst_route"]
        row("ack_p50_ms", r["ack_p50_ms"], f"SendMessage-only function {_fmt(r['ack_baseline_sqs_p50_ms'])} ms; "
            f"worst: {worst['p50']}", " ms")
        row("ack_p99_ms", r["ack_p99_ms"], f"SendMessage-only function {_fmt(r['ack_baseline_sqs_p99_ms'])} ms; "
            f"worst: {worst['p99']}", " ms")
        row("ack_ratio", r["ack_ratio"], f"p50 / SendMessage-only function p50; worst: {worst['ratio']}")
        row("  vs the client's own SendMessage", r["ack_ratio_vs_client_sqs"],
            f"client SendMessage {_fmt(r['ack_client_sqs_p50_ms'])} / {_fmt(r['ack_client_sqs_p99_ms'])} ms (no gateway)")
        for route in ("pipedrive", "xero"):
            if f"ack_{route}_p50_ms" in r:
                row(f"  {route} p50 / p99 ms", f"{_fmt(r[f'ack_{route}_p50_ms'])} / {_fmt(r[f'ack_{route}_p99_ms'])}",
                    f"ratio {_fmt(r[f'ack_{route}_ratio'])}")
        row("  gateway floor p50 / p99 ms", f"{_fmt(r['ack_gateway_floor_p50_ms'])} / {_fmt(r['ack_gateway_floor_p99_ms'])}",
            "no-op handler behind the local gateway")
        row("ack_inprocess_p50 / p99 ms", f"{_fmt(r['ack_inprocess_p50_ms'])} / {_fmt(r['ack_inprocess_p99_ms'])}",
            f"SendMessage in-process {_fmt(r['ack_inprocess_baseline_sqs_p50_ms'])} / "
            f"{_fmt(r['ack_inprocess_baseline_sqs_p99_ms'])} ms")
        row("ack_inprocess_ratio", r["ack_inprocess_ratio"], "p50 / SendMessage p50")
    if "cold_start_baseline_ms" in r:
        base = f"boto3 + client {_fmt(r['cold_start_baseline_ms'])} ms"
        for key in sorted(k for k in r if k.startswith("cold_start_ratio_")):
            fn = key.removeprefix("cold_start_ratio_")
            rows.append((key, _fmt(r[key]), f"{_fmt(r[f'cold_start_{fn}_ms'])} ms vs {base}",
                         verdict(key, r[key]) if fn in WEBHOOK_FUNCTIONS else "(information)"))
        for fn in WEBHOOK_FUNCTIONS:
            key = f"cold_start_precompiled_ratio_{fn}"
            if key in r:
                rows.append((f"  {key}", _fmt(r[key]), f"with .pyc; baseline {_fmt(r['cold_start_precompiled_baseline_ms'])} ms",
                             "(information)"))
    if "xero_calls_per_invoice_steady" in r:
        row("xero_calls_per_invoice_steady", r["xero_calls_per_invoice_steady"], "minimum: 1 PUT Invoices")
        row("xero_calls_per_invoice_new_contact", r["xero_calls_per_invoice_new_contact"],
            "e-mail + name lookups + PUT")
        row("e2e_invoice_p50_ms", r["e2e_invoice_p50_ms"],
            f"direct PUT + same poll {_fmt(r['e2e_invoice_baseline_p50_ms'])} ms", " ms")
        row("e2e_invoice_p95_ms", r["e2e_invoice_p95_ms"],
            f"direct PUT + same poll {_fmt(r['e2e_invoice_baseline_p95_ms'])} ms", " ms")
        row("writeback_p50_ms", r["writeback_p50_ms"],
            f"direct field write + same poll {_fmt(r['writeback_baseline_p50_ms'])} ms", " ms")
        row("writeback_p95_ms", r["writeback_p95_ms"],
            f"direct field write + same poll {_fmt(r['writeback_baseline_p95_ms'])} ms", " ms")
    if "backfill_invoices_per_tenant_minute" in r:
        b = meta["details"]["backfill"]
        row("backfill_invoices_per_tenant_minute", r["backfill_invoices_per_tenant_minute"],
            f"Xero's ceiling 3,000 (60 calls x 50); {b['invoices_created']} invoices in {b['create_requests']} PUTs, "
            f"{b['xero_calls']} calls, {b['rate_limited_429']} x 429")

    widths = [max(len(x[i]) for x in [("figure", "value", "baseline", "target"), *rows]) for i in range(4)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(("figure", "value", "baseline", "target"), widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)).rstrip() for x in rows]
    return "\n".join(lines)


def profile_summary(profiles: dict[str, Any]) -> str:
    lines = []
    for fn, prof in profiles.items():
        lines.append(f"\n{fn}: handler imports {prof['handler_import_ms']} ms vs baseline {prof['baseline_import_ms']} ms "
                     "(as built, python -X importtime); extra self time by package:")
        for package, ms in list(prof["extra_self_ms_by_package"].items())[:10]:
            chain = " > ".join(prof["first_imported_by"].get(package, [])[:6])
            lines.append(f"  {package:<22} +{ms:6.1f} ms   {chain}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples: a smoke run")
    parser.add_argument("--only", default="cold,flows,ack,backfill",
                        help="comma-separated phases: cold, flows, ack, backfill")
    args = parser.parse_args(argv)
    phases = {p.strip() for p in args.only.split(",") if p.strip()}
    started = time.monotonic()
    info = machine()
    results: dict[str, Any] = {}
    details: dict[str, Any] = {}
    out = sys.stdout
    progress(f"{info['cpu_count']} CPUs, Python {info['python']}; function logs in {LOG_FILE}")
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with open(LOG_FILE, "w") as log, contextlib.redirect_stdout(log):
        logging.basicConfig(stream=log, level=logging.WARNING, force=True)
        if "cold" in phases:
            cold_start_phase(results, details, repeats=3 if args.quick else 7)
        if phases & {"flows", "ack"}:
            from local.stack import LocalStack

            # Failed messages come back after 2 s, schedules only on demand (as in the e2e tests).
            with LocalStack.ephemeral(visibility_timeout=2, schedule_speedup=0) as stack:
                if "flows" in phases:
                    flows_phase(stack, results, details, quick=args.quick)
                if "ack" in phases:
                    ack_phase(stack, results, details, n=100 if args.quick else 500, warmup=20 if args.quick else 50)
        if "backfill" in phases:
            backfill_phase(results, details, deals=1000 if args.quick else 6000)  # 6,000: two minutes of Xero calls
    info["load_average_at_end"] = _load()
    meta = {
        "machine": info,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 1),
        "quick": args.quick,
        "targets": {name: f"{op} {limit}" for name, (op, limit) in TARGETS.items()},
        "notes": {
            "backfill": "bridgectl backfill of won Pipedrive deals on a fresh local stack, the Xero emulator at its "
                        "real limits (60 calls a minute, 5,000 a day, 5 concurrent) on a moved clock (waits are "
                        "instant); invoices created per minute of the organisation's clock",
            "ack": "over HTTP through the local gateway from a separate client process; ratio = worst route p50 / "
                   "p50 of a function behind the same gateway that only sends one SQS message to the same queue; "
                   "ack_ratio_vs_client_sqs: the client's own SendMessage, no gateway, for information",
            "cold_start": "spawn to handler importable, median; layer packages without .pyc as `sam build` ships them; "
                          "ratio vs a fresh interpreter importing boto3 and creating one client",
            "e2e_invoice": "deal PATCHed won in the Pipedrive emulator -> DRAFT invoice returned by GET Invoices where "
                           f"Reference (polled every {int(0.02 * 1000)} ms); new customer each time",
            "writeback": "POST Invoices Status AUTHORISED with the bench's own token -> the deal's 'Xero invoice status' "
                         "custom field (polled every 20 ms)",
        },
        "details": details,
    }
    results["_meta"] = meta
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    out.write(f"\nXero CRM Bridge benchmarks  ({info['cpu_count']} CPUs, {info['cpu'] or info['platform']}, "
              f"Python {info['python']}; {meta['duration_s']} s{', quick' if args.quick else ''}; load average "
              f"{info['load_average_at_start']} at start, {info['load_average_at_end']} at end)\n\n")
    out.write(table(results, meta) + "\n")
    if details.get("cold_start_import_profile"):
        out.write(profile_summary(details["cold_start_import_profile"]) + "\n")
    if details.get("flow_notes"):
        out.write("\nnotes: " + "; ".join(details["flow_notes"]) + "\n")
    out.write(f"\nwritten: {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}\n")
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
