"""The embedded local stack: moto, the emulators, the HTTP API gateway, the queue pollers and the
scheduler, all in this process, all on 127.0.0.1, all built from template.yaml.

    with LocalStack.ephemeral() as stack:      # free ports (tests); LocalStack() uses the env / defaults
        stack.urls["gateway"]                   # POST {gateway}/webhooks/pipedrive ...
        stack.drain(timeout=10)                 # until the queues are empty and no worker runs
        stack.run_now("TokenRefresherFunction") # a scheduled function, now

`python -m local.stack --crm pipedrive|hubspot` (`make local CRM=...`) runs it in the foreground until
Ctrl-C, the local Xero organisation connected and sample deals seeded (newcomer_stack).

Ports (0 = any free port): GATEWAY_PORT 3000, MOTO_PORT 5000, XERO_EMULATOR_PORT 4010,
PIPEDRIVE_EMULATOR_PORT 4020, HUBSPOT_EMULATOR_PORT 4030.

Environment the stack sets in os.environ (restored by stop()):
- AWS_ENDPOINT_URL (moto), fake AWS credentials, AWS_DEFAULT_REGION/AWS_REGION eu-west-2;
- every function's resolved template environment (queue URLs, table names, secret ARNs...): all
  functions run in this one process, so two functions needing different values for one name is an
  error (EnvironmentConflictError);
- XERO_API_URL, XERO_IDENTITY_URL, XERO_CONNECTIONS_URL, PIPEDRIVE_API_URL, HUBSPOT_API_URL only when
  they were unset (so a recording or validating proxy can sit in between), pointing at the emulators;
- POWERTOOLS_TRACE_DISABLED=true.
Knobs: LOCAL_VISIBILITY_TIMEOUT_SECONDS (visibility timeout of the polled queues, instead of the
template's 180 s), LOCAL_SCHEDULE_SPEEDUP (divides schedule periods; 0 = only run_now),
EMULATOR_LATENCY_MS / EMULATOR_JITTER_MS (added in front of every emulator API request).

moto's state is process-wide: one LocalStack per process at a time; it is emptied on start and stop.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import boto3
import httpx

from local.credentials import credential
from local.demo import CRMS, DemoFailed, Report, Urls, connect_xero, crm_driver
from local.emulators.common.config import latency_from_env
from local.gateway import Gateway, LambdaRuntime, routes_from_template
from local.moto_server import REGION, MotoServer, client_environment
from local.poller import QueuePollers, visibility_timeout_override
from local.provision import Provisioned, provision
from local.scheduler import Scheduler, schedules_from_template
from local.template import FunctionSpec, functions, load_template

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"gateway": 3000, "moto": 5000, "xero": 4010, "pipedrive": 4020, "hubspot": 4030}
PORT_ENV = {
    "gateway": "GATEWAY_PORT",
    "moto": "MOTO_PORT",
    "xero": "XERO_EMULATOR_PORT",
    "pipedrive": "PIPEDRIVE_EMULATOR_PORT",
    "hubspot": "HUBSPOT_EMULATOR_PORT",
}

# External base URL -> (emulator, path under the emulator's URL). Only filled in when unset.
EXTERNAL_URLS = {
    "XERO_API_URL": ("xero", "/api.xro/2.0"),
    "XERO_IDENTITY_URL": ("xero", ""),
    "XERO_CONNECTIONS_URL": ("xero", "/connections"),
    "PIPEDRIVE_API_URL": ("pipedrive", ""),
    "HUBSPOT_API_URL": ("hubspot", ""),
}


@dataclass(frozen=True)
class EmulatorEntry:
    """How to start one emulator: `module.factory(port=, host=, webhook_url=)` returning a handle with
    `.url` and `.stop()`. A module or factory that is not there yet is logged and skipped."""

    name: str
    module: str
    factory: str
    webhook_path: str


EMULATORS = (
    EmulatorEntry("xero", "local.emulators.xero", "start_xero_emulator", "/webhooks/xero"),
    EmulatorEntry("pipedrive", "local.emulators.pipedrive", "start_pipedrive_emulator", "/webhooks/pipedrive"),
    EmulatorEntry("hubspot", "local.emulators.hubspot", "start_hubspot_emulator", "/webhooks/hubspot"),
)


class EnvironmentConflictError(RuntimeError):
    """Two functions need different values for one environment variable (they share a process here)."""


def merged_environment(provisioned: Provisioned, specs: dict[str, FunctionSpec]) -> dict[str, str]:
    """The union of every function's resolved environment; a conflicting name raises."""
    merged: dict[str, str] = {}
    owner: dict[str, str] = {}
    for spec in specs.values():
        for name, value in provisioned.function_environment(spec).items():
            if name in merged and merged[name] != value:
                raise EnvironmentConflictError(
                    f"{name} is {merged[name]!r} for {owner[name]} but {value!r} for {spec.logical_id}: "
                    "all functions share one process in the local stack"
                )
            merged[name] = value
            owner.setdefault(name, spec.logical_id)
    return merged


def _port(name: str, ports: dict[str, int]) -> int:
    if name in ports:
        return int(ports[name])
    return int(os.environ.get(PORT_ENV[name], DEFAULT_PORTS[name]))


def reset_function_state() -> None:
    """Forget what handlers cached in this process (warm clients, settings, loaded modules), so they
    start cold against the current endpoint: after a stack starts or stops, and between stacks."""
    for name in [n for n in sys.modules if n.startswith("_lambda_")]:
        del sys.modules[name]
    for name, module in list(sys.modules.items()):
        if name != "crmbridge" and not name.startswith("crmbridge."):
            continue
        for value in list(vars(module).values()):
            if getattr(value, "__module__", None) == name and callable(getattr(value, "cache_clear", None)):
                value.cache_clear()
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters.base")
    if parameters is not None:
        parameters.clear_caches()  # Powertools' providers keep the boto3 client they were made with


class LocalStack:
    _running: LocalStack | None = None
    _running_lock = threading.Lock()

    def __init__(self, *, ports: dict[str, int] | None = None, parameters: dict[str, str] | None = None,
                 template: dict[str, Any] | None = None, visibility_timeout: int | None = None,
                 schedule_speedup: float | None = None, emulators: bool = True,
                 one_invocation_at_a_time: bool = False) -> None:
        self.ports = dict(ports or {})
        self.parameters = parameters
        self.template = template or load_template()
        self.visibility_timeout = visibility_timeout if visibility_timeout is not None else visibility_timeout_override()
        self.schedule_speedup = schedule_speedup
        self.start_emulators = emulators
        self.runtime = LambdaRuntime(one_at_a_time=one_invocation_at_a_time)
        self.moto: MotoServer | None = None
        self.gateway: Gateway | None = None
        self.emulators: dict[str, Any] = {}
        self.provisioned: Provisioned | None = None
        self.pollers: QueuePollers | None = None
        self.scheduler: Scheduler | None = None
        self.environment: dict[str, str] = {}
        self._saved_env: dict[str, str | None] = {}

    @classmethod
    def ephemeral(cls, **kwargs: Any) -> LocalStack:
        """Every server on a free port, so tests can run next to a foreground stack."""
        return cls(ports=dict.fromkeys(DEFAULT_PORTS, 0), **kwargs)

    # ------------------------------------------------------------------------- lifecycle

    def start(self) -> LocalStack:
        with LocalStack._running_lock:
            if LocalStack._running is not None:
                raise RuntimeError("a LocalStack already runs in this process (moto's state is process-wide)")
            LocalStack._running = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        werkzeug_log = logging.getLogger("werkzeug")
        if werkzeug_log.level == logging.NOTSET:
            werkzeug_log.setLevel(logging.WARNING)  # no line per moto/emulator request

        self.moto = MotoServer(port=_port("moto", self.ports))
        self.moto.reset()
        self.gateway = Gateway(routes_from_template(self.template), port=_port("gateway", self.ports),
                               runtime=self.runtime)  # bound now, so emulators know where to send webhooks
        if self.start_emulators:
            for entry in EMULATORS:
                handle = _start_emulator(entry, _port(entry.name, self.ports), self.gateway.url)
                if handle is not None:
                    self.emulators[entry.name] = handle
            latency = latency_from_env(dict(os.environ))  # EMULATOR_LATENCY_MS / EMULATOR_JITTER_MS
            for handle in self.emulators.values() if latency else ():
                # Over its control endpoint: the one way every emulator (Xero's handle included) takes it.
                httpx.post(f"{handle.url}/_emulator/latency", json=latency, timeout=5).raise_for_status()

        external = {}
        for name, (emulator, path) in EXTERNAL_URLS.items():
            if not os.environ.get(name):
                external[name] = f"{self._emulator_url(emulator)}{path}"
        self._set_env(client_environment(self.moto.url))
        parameters = dict(self.parameters or {})
        if "hubspot" in self.emulators:
            # The emulator's events carry its portal id: the stack checks them as a deployment would.
            parameters.setdefault("HubSpotPortalId", str(self.emulators["hubspot"].config.portal_id))
        self.provisioned = provision(
            boto3.session.Session(region_name=REGION), parameters=parameters, template=self.template
        )
        function_env = merged_environment(self.provisioned, functions(self.template))
        for name in EXTERNAL_URLS:
            function_env.pop(name, None)  # the template's defaults are the real services
        self._set_env(function_env | external | {"POWERTOOLS_TRACE_DISABLED": "true"})
        reset_function_state()
        if self.start_emulators:
            set_up_crm_fields()

        self.pollers = QueuePollers.from_provisioned(self.provisioned, runtime=self.runtime,
                                                     visibility_timeout=self.visibility_timeout)
        self.scheduler = Scheduler(schedules_from_template(provisioned=self.provisioned), runtime=self.runtime,
                                   speedup=self.schedule_speedup)
        self.gateway.start()
        self.pollers.start()
        self.scheduler.start()
        logger.info("local stack up: %s", self.urls)

    def stop(self) -> None:
        for step in (self._stop_scheduler, self._stop_pollers, self._stop_gateway, self._stop_emulators,
                     self._stop_moto):
            try:
                step()
            except Exception:
                logger.exception("stopping the local stack: %s failed", step.__name__)
        self._restore_env()
        reset_function_state()
        with LocalStack._running_lock:
            if LocalStack._running is self:
                LocalStack._running = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------- what tests and the demo use

    @property
    def urls(self) -> dict[str, str]:
        out = {}
        if self.gateway is not None:
            out["gateway"] = self.gateway.url
        if self.moto is not None:
            out["moto"] = self.moto.url
        for name, handle in self.emulators.items():
            out[name] = str(handle.url)
        return out

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None, "start() first"
        return self.gateway.url

    def queue_url(self, logical_id: str = "SyncQueue") -> str:
        assert self.provisioned is not None, "start() first"
        return self.provisioned.queue_urls[logical_id]

    def table_name(self, logical_id: str) -> str:
        assert self.provisioned is not None, "start() first"
        return self.provisioned.table_names[logical_id]

    def drain(self, timeout: float = 10.0, *, include_delayed: bool = True) -> None:
        """Wait until every polled queue is empty and no invocation runs (TimeoutError otherwise).
        Messages the worker parked with a delay count unless include_delayed=False."""
        assert self.pollers is not None, "start() first"
        self.pollers.drain(timeout=timeout, include_delayed=include_delayed)

    def run_now(self, logical_id: str) -> Any:
        """Invoke a scheduled function now, with the event its schedule sends."""
        assert self.scheduler is not None, "start() first"
        return self.scheduler.run_now(logical_id)

    # ------------------------------------------------------------------------- internals

    def _emulator_url(self, name: str) -> str:
        if name in self.emulators:
            return str(self.emulators[name].url).rstrip("/")
        return f"http://127.0.0.1:{_port(name, self.ports)}"

    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            if name not in self._saved_env:
                self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value
            self.environment[name] = value

    def _restore_env(self) -> None:
        for name, previous in self._saved_env.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        self._saved_env = {}

    def _stop_scheduler(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()

    def _stop_pollers(self) -> None:
        if self.pollers is not None:
            self.pollers.stop()

    def _stop_gateway(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()

    def _stop_emulators(self) -> None:
        for name, handle in list(self.emulators.items()):
            try:
                handle.stop()
            except Exception:
                logger.exception("stopping the %s emulator failed", name)
        self.emulators = {}

    def _stop_moto(self) -> None:
        if self.moto is not None:
            try:
                self.moto.reset()
            finally:
                self.moto.stop()


def set_up_crm_fields() -> None:
    """`bridgectl setup` for the stack's CRM, as an operator runs it after deploying: the bridge's CRM
    fields exist before the first deal. A failure is logged; the worker then says crm_fields_missing."""
    from crmbridge.errors import BridgeError
    from crmbridge.ops.setup import run_setup
    from crmbridge.ops.target import local_target

    try:
        run_setup(local_target(os.environ))
    except (BridgeError, OSError) as exc:
        logger.warning("bridgectl setup failed on the local stack: %s", exc)


def _start_emulator(entry: EmulatorEntry, port: int, gateway_url: str) -> Any | None:
    try:
        module = importlib.import_module(entry.module)
    except ModuleNotFoundError as exc:
        if exc.name and entry.module.startswith(exc.name):
            logger.info("no %s emulator yet (%s): skipped", entry.name, entry.module)
            return None
        logger.exception("the %s emulator failed to import: skipped", entry.name)
        return None
    except Exception:
        logger.exception("the %s emulator failed to import: skipped", entry.name)
        return None
    factory = getattr(module, entry.factory, None)
    if factory is None:
        logger.info("no %s.%s yet: the %s emulator is skipped", entry.module, entry.factory, entry.name)
        return None
    try:
        return factory(port=port, host="127.0.0.1", webhook_url=f"{gateway_url}{entry.webhook_path}")
    except Exception:
        logger.exception("the %s emulator failed to start on port %d: skipped", entry.name, port)
        return None


@dataclass(frozen=True)
class NewcomerRun:
    """A stack as `make local` leaves it: Xero connected, and two sample deals in the CRM."""

    stack: LocalStack
    crm: str
    urls: Urls
    won_deal: Any  # won in the CRM, its webhook not sent: the README's hand-sent webhook invoices it
    open_deal: Any  # open: winning it in the CRM's app makes the emulator send its webhook


SAMPLE_WON = {"title": "Acme Ltd - 10 licences", "person_name": "Jane Buyer", "person_email": "jane@acme.example",
              "org": {"name": "Acme Ltd", "address": {"value": "1 High Street", "locality": "London",
                                                      "postal_code": "EC1A 1AA", "country": "United Kingdom"}},
              "lines": [{"name": "Standard licence", "code": "LIC-STD", "item_price": 120, "quantity": 10,
                         "tax": 20, "tax_method": "exclusive"}]}
SAMPLE_OPEN = {"title": "Globex - onboarding", "org": {"name": "Globex Corporation"},
               "lines": [{"name": "Onboarding training", "item_price": 500, "quantity": 1, "tax": 20,
                          "tax_method": "exclusive"}]}


@contextlib.contextmanager
def newcomer_stack(crm: str = "pipedrive", *, out: TextIO, **stack_options: Any) -> Iterator[NewcomerRun]:
    """`make local`: the stack with `crm` as its CRM, the local Xero organisation connected through the
    real callback (as `bridgectl connect` would), so a first won deal is invoiced rather than parked,
    and sample deals seeded (silently) so the README's commands have something to act on."""
    with LocalStack(parameters={"CrmProvider": crm}, **stack_options) as stack:
        urls = Urls(gateway=stack.urls["gateway"], xero=stack.urls["xero"], pipedrive=stack.urls["pipedrive"],
                    hubspot=stack.urls.get("hubspot"))
        connect_xero(urls, Report(out=out))
        driver = crm_driver(crm, urls)
        won_deal, _ = driver.seed_deal(status="won", **SAMPLE_WON)
        open_deal, _ = driver.seed_deal(**SAMPLE_OPEN)
        yield NewcomerRun(stack=stack, crm=crm, urls=urls, won_deal=won_deal, open_deal=open_deal)


def sample_commands(run: NewcomerRun) -> dict[str, str]:
    """The two ways to see a deal invoiced on this stack, as shell commands: "send" the CRM's webhook for
    the won sample by hand, or "win" the open sample in the CRM's app (its emulator sends the webhook)."""
    if run.crm == "hubspot":
        send = f".venv/bin/python -m local.sign_hubspot --gateway {run.urls.gateway} {run.won_deal} | sh"
        app, change = run.urls.hubspot, {"properties": {"dealstage": "closedwon"}}
    else:
        body = {"meta": {"action": "change", "entity": "deal", "entity_id": str(run.won_deal), "version": "2.0",
                         "change_source": "app"},
                "data": {"id": run.won_deal, "status": "won"}, "previous": {"status": "open"}}
        auth = f"{credential('PIPEDRIVE_WEBHOOK_USER')}:{credential('PIPEDRIVE_WEBHOOK_PASSWORD')}"
        send = (f"curl -i -u {shlex.quote(auth)} -H 'content-type: application/json' \\\n"
                f"  -d {shlex.quote(json.dumps(body, separators=(',', ':')))} \\\n"
                f"  {run.urls.gateway}/webhooks/pipedrive")
        app, change = run.urls.pipedrive, {"status": "won"}
    win = (f"curl -i -X PATCH -H 'content-type: application/json' -d {shlex.quote(json.dumps(change))} \\\n"
           f"  {app}/_emulator/app/deals/{run.open_deal}")
    return {"send": send, "win": win}


def newcomer_instructions(run: NewcomerRun) -> str:
    """What `make local` prints after starting (the README shows it for the default ports)."""
    commands = sample_commands(run)
    return (f"# {run.crm}: the webhook for won deal {run.won_deal}, sent by hand\n{commands['send']}\n"
            f"# {run.crm}: or win deal {run.open_deal} in the CRM's app; the emulator sends the webhook itself\n"
            f"{commands['win']}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description="the local stack, in the foreground")
    parser.add_argument("--crm", choices=CRMS, default=os.environ.get("CRM") or "pipedrive",
                        help="the CRM the stack runs with (its CrmProvider parameter); default pipedrive")
    crm = parser.parse_args(argv).crm
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    out = sys.stdout
    try:
        with newcomer_stack(crm, out=out) as run:
            lines = [f"  {name:<10} {url}" for name, url in run.stack.urls.items()]
            lines += [f"  {name:<10} (not running)" for name in DEFAULT_PORTS if name not in run.stack.urls]
            out.write("\n".join([f"Local stack on 127.0.0.1 with {crm} as its CRM, Xero connected (Ctrl-C to stop):",
                                 *lines, f"Webhooks: {run.stack.gateway_url}/webhooks/{{pipedrive,hubspot,xero}}",
                                 "Try (README: 'The local stack'):", newcomer_instructions(run)]))
            out.flush()
            try:
                while not stopping.is_set():
                    stopping.wait(0.5)
            except KeyboardInterrupt:
                pass
            out.write("stopping...\n")
    except DemoFailed as exc:
        out.write(f"The local stack could not connect the local Xero organisation: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
