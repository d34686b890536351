"""EventBridge schedules, run locally: each `Type: ScheduleV2` (or `Schedule`) event of the template
invokes its function at its rate.

- `rate(N minute|minutes|hour|hours|day|days)` runs every N units, the first time one period after the
  start (as a new schedule does). `cron(...)` and `at(...)` are logged as unsupported and only run
  through `run_now`. DISABLED schedules (State, or Enabled: false) only run through `run_now` too.
- LOCAL_SCHEDULE_SPEEDUP (or the `speedup` argument) divides every period: 60 makes a 5-minute schedule
  run every 5 seconds; 0 turns the timer off (only `run_now`).
- The event is what the service sends a Lambda target: the schedule's Input (JSON) when set; else, for
  EventBridge Scheduler (ScheduleV2), its default notification {"version": "0", "id", "detail-type":
  "Scheduled Event", "source": "aws.scheduler", "account", "time", "region", "resources": [schedule
  ARN], "detail": "{}"} (detail is the string "{}"); for an EventBridge rule (Schedule), the same with
  "source": "aws.events", the rule's ARN and "detail": {}.
- Schedules invoke asynchronously: a failing invocation is logged, not retried.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.gateway import LambdaRuntime
from local.provision import STACK, Provisioned
from local.template import FunctionSpec, functions, load_template, parameter_defaults

logger = logging.getLogger(__name__)

SPEEDUP_ENV = "LOCAL_SCHEDULE_SPEEDUP"
ACCOUNT_ID = "123456789012"
REGION = "eu-west-2"

_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)", re.IGNORECASE)
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def parse_rate(expression: str) -> float | None:
    """Seconds between runs of a rate() expression; None for cron() and at(); ValueError otherwise."""
    text = expression.strip()
    match = _RATE.fullmatch(text)
    if match:
        value, unit = int(match.group(1)), match.group(2).lower().rstrip("s")
        if value < 1:
            raise ValueError(f"{expression}: the rate must be a positive number")
        if (value == 1) != (match.group(2).lower() == unit):
            raise ValueError(f"{expression}: use the singular unit for 1 and the plural otherwise")
        return float(value * _UNIT_SECONDS[unit])
    if text.lower().startswith(("cron(", "at(")):
        return None
    raise ValueError(f"{expression}: not a rate(), cron() or at() expression")


@dataclass(frozen=True)
class Schedule:
    function: FunctionSpec
    event_name: str
    kind: str  # ScheduleV2 | Schedule
    expression: str
    input: str | None = None
    enabled: bool = True
    name: str = ""
    group: str = "default"

    @property
    def key(self) -> str:
        return f"{self.function.logical_id}.{self.event_name}"

    @property
    def period_seconds(self) -> float | None:
        return parse_rate(self.expression)

    @property
    def arn(self) -> str:
        if self.kind == "ScheduleV2":
            return f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/{self.group}/{self.name}"
        return f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{self.name}"

    def event(self, now: datetime | None = None) -> Any:
        """The payload the scheduler hands the function."""
        if self.input is not None:
            return json.loads(self.input)
        now = now or datetime.now(UTC)
        scheduler = self.kind == "ScheduleV2"
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler" if scheduler else "aws.events",
            "account": ACCOUNT_ID,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [self.arn],
            "detail": "{}" if scheduler else {},
        }


def schedules_from_template(template: dict[str, Any] | None = None, *, provisioned: Provisioned | None = None,
                            specs: dict[str, FunctionSpec] | None = None) -> list[Schedule]:
    """Every ScheduleV2 / Schedule event of the functions, with the template's parameter defaults
    (or, given `provisioned`, its parameters and resources) resolved."""
    template = template or (provisioned.template if provisioned else load_template())
    specs = specs if specs is not None else functions(template)
    # Parameters resolve without provisioning anything; a provisioned stack resolves resources too.
    resolve = (provisioned or Provisioned(template=template, parameters=parameter_defaults(template))).resolve
    schedules = []
    for spec in specs.values():
        for name, event in spec.events.items():
            kind = event.get("Type")
            if kind not in ("ScheduleV2", "Schedule"):
                continue
            props = event.get("Properties") or {}
            expression = resolve(props.get("ScheduleExpression" if kind == "ScheduleV2" else "Schedule"))
            raw_input = resolve(props.get("Input"))
            enabled = str(resolve(props.get("State", "ENABLED"))).upper() != "DISABLED"
            if kind == "Schedule" and str(resolve(props.get("Enabled", True))).lower() == "false":
                enabled = False
            schedules.append(
                Schedule(
                    function=spec,
                    event_name=name,
                    kind=kind,
                    expression=str(expression),
                    input=None if raw_input is None else (raw_input if isinstance(raw_input, str) else json.dumps(raw_input)),
                    enabled=enabled,
                    name=str(resolve(props["Name"])) if props.get("Name") else f"{STACK}-{spec.logical_id}{name}",
                    group=str(resolve(props.get("GroupName"))) if props.get("GroupName") else "default",
                )
            )
    return schedules


def speedup_from_env(environ: dict[str, str] | None = None) -> float:
    value = (os.environ if environ is None else environ).get(SPEEDUP_ENV, "").strip()
    speedup = float(value) if value else 1.0
    if speedup < 0:
        raise ValueError(f"{SPEEDUP_ENV}={value}: must be 0 (timer off) or more")
    return speedup


@dataclass
class Run:
    schedule: str
    at: datetime
    ok: bool
    result: Any = None
    error: str | None = None


@dataclass
class Scheduler:
    """Runs the schedules on a timer thread: `.start()`, `.stop()`, `.run_now(logical_id)`, `.runs`."""

    schedules: list[Schedule]
    runtime: LambdaRuntime = field(default_factory=LambdaRuntime)
    speedup: float | None = None
    runs: list[Run] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.speedup is None:
            self.speedup = speedup_from_env()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def find(self, logical_id: str) -> Schedule:
        """A schedule by `Function.Event`, by schedule name, or by function when it has one schedule."""
        exact = [s for s in self.schedules if logical_id in (s.key, s.name)]
        if exact:
            return exact[0]
        of_function = [s for s in self.schedules if s.function.logical_id == logical_id]
        if len(of_function) == 1:
            return of_function[0]
        if of_function:
            raise LookupError(f"{logical_id} has several schedules: {[s.key for s in of_function]}")
        raise LookupError(f"no schedule {logical_id!r}; known: {[s.key for s in self.schedules]}")

    def run_now(self, logical_id: str) -> Any:
        """Invoke a schedule's function now with the scheduler's event; returns what the handler returned
        (its exception propagates)."""
        schedule = self.find(logical_id)
        return self._invoke(schedule, raise_errors=True)

    def _invoke(self, schedule: Schedule, *, raise_errors: bool) -> Any:
        started = datetime.now(UTC)
        try:
            result = self.runtime.invoke(schedule.function, schedule.event(started))
        except Exception as exc:
            with self._lock:
                self.runs.append(Run(schedule.key, started, ok=False, error=f"{type(exc).__name__}: {exc}"))
            if raise_errors:
                raise
            logger.exception("scheduled run of %s failed", schedule.key)
            return None
        with self._lock:
            self.runs.append(Run(schedule.key, started, ok=True, result=result))
        return result

    def start(self) -> Scheduler:
        timed = []
        for schedule in self.schedules:
            period = schedule.period_seconds
            if period is None:
                logger.warning("%s: %s is not supported locally; use run_now", schedule.key, schedule.expression)
            elif not schedule.enabled:
                logger.info("%s is disabled; use run_now", schedule.key)
            else:
                timed.append((schedule, period))
        if not timed or not self.speedup:
            return self
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, args=(timed,), name="scheduler", daemon=True)
        self._thread.start()
        for schedule, period in timed:
            logger.info("%s every %.1f s (%s / speedup %g)", schedule.key, period / self.speedup,
                        schedule.expression, self.speedup)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=35)
            self._thread = None

    def __enter__(self) -> Scheduler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self, timed: list[tuple[Schedule, float]]) -> None:
        assert self.speedup
        now = time.monotonic()
        due = {schedule.key: now + period / self.speedup for schedule, period in timed}
        while not self._stopping.is_set():
            next_key = min(due, key=due.__getitem__)
            if self._stopping.wait(max(0.0, due[next_key] - time.monotonic())):
                return
            schedule, period = next((s, p) for s, p in timed if s.key == next_key)
            self._invoke(schedule, raise_errors=False)
            # A run that outlasts its period is not followed by catch-up runs.
            due[next_key] = max(due[next_key] + period / self.speedup, time.monotonic())
