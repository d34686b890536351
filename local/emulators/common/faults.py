"""Fault injection: 429s, 5xx, slow responses and responses lost after the write was committed.

A rule matches requests by method and path prefix and fires either on the next N matching calls
(`count`) or at a rate between 0 and 1 drawn from a seeded RNG (`rate`), or both (at that rate, at most
N times). Kinds:

- `rate_limit`: answer 429 before processing (headers from the rule or the emulator's defaults).
- `error`: answer a 5xx (`status`, default 500) before processing.
- `timeout`: sleep `seconds` (default 30), `phase` "before" (then process) or "after" (process,
  commit, then sleep before answering). Sleeping past the client's timeout is how a timeout looks.
- `drop`: `phase` "after" (default) processes and commits, then aborts the connection so the client
  never gets the answer; "before" aborts without processing.
"""

from __future__ import annotations

import itertools
import logging
import random
import socket
import struct
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

KIND_ALIASES = {
    "429": "rate_limit",
    "rate_limit": "rate_limit",
    "ratelimit": "rate_limit",
    "5xx": "error",
    "500": "error",
    "502": "error",
    "503": "error",
    "504": "error",
    "error": "error",
    "timeout": "timeout",
    "hang": "timeout",
    "drop": "drop",
    "dropped": "drop",
    "drop_response": "drop",
}


@dataclass
class FaultRule:
    kind: str
    id: int = 0
    status: int | None = None
    rate: float | None = None
    count: int | None = None
    method: str | None = None
    path_prefix: str | None = None
    seconds: float = 30.0
    phase: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    # For rate_limit rules: emulator-specific defaults (e.g. Xero's X-Rate-Limit-Problem) fill the rest.
    retry_after: int | None = None
    problem: str | None = None
    hits: int = 0

    @classmethod
    def from_json(cls, data: dict, rule_id: int) -> FaultRule:
        raw_kind = str(data.get("kind") or data.get("type") or "").lower()
        status = data.get("status")
        if raw_kind not in KIND_ALIASES:
            raise ValueError(f"unknown fault kind {raw_kind!r}; use one of {sorted(set(KIND_ALIASES))}")
        kind = KIND_ALIASES[raw_kind]
        if kind == "error" and status is None:
            status = int(raw_kind) if raw_kind.isdigit() else 500
        if kind == "rate_limit":
            status = 429
        rate = data.get("rate")
        count = data.get("count", data.get("next"))
        if rate is not None and not 0 <= float(rate) <= 1:
            raise ValueError("rate must be between 0 and 1")
        if count is not None and int(count) < 0:
            raise ValueError("count must be >= 0")
        phase = data.get("phase") or ("after" if kind == "drop" else "before")
        if phase not in ("before", "after"):
            raise ValueError("phase must be 'before' or 'after'")
        method = data.get("method")
        return cls(
            kind=kind,
            id=rule_id,
            status=int(status) if status is not None else None,
            rate=float(rate) if rate is not None else None,
            count=int(count) if count is not None else None,
            method=str(method).upper() if method else None,
            path_prefix=data.get("path_prefix") or data.get("path"),
            seconds=float(data.get("seconds", 30.0)),
            phase=phase,
            headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
            body=data.get("body"),
            retry_after=int(data["retry_after"]) if data.get("retry_after") is not None else None,
            problem=data.get("problem"),
        )

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method.upper():
            return False
        if self.path_prefix and not path.lower().startswith(self.path_prefix.lower()):
            return False
        return not (self.count is not None and self.count <= 0)


class FaultInjector:
    def __init__(self, lock: threading.RLock, seed: int = 0) -> None:
        self._lock = lock
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._log: deque[dict] = deque(maxlen=500)
        self._wake = threading.Event()
        # Added in front of every API request on demand: real services are farther away than these.
        self.latency_ms = 0.0
        self.jitter_ms = 0.0
        self._jitter = random.Random(seed)  # its own draws, so latency leaves fault rates reproducible

    # configuration -------------------------------------------------------------------------------
    def configure(self, body: dict | list) -> dict:
        """POST /_emulator/faults: a rule, a list of rules, or {"rules": [...], "replace", "seed", "clear"}."""
        if isinstance(body, list):
            body = {"rules": body}
        with self._lock:
            if body.get("clear"):
                self._rules.clear()
            if "seed" in body:
                self._seed = int(body["seed"])
                self._rng = random.Random(self._seed)
            rules = body.get("rules")
            if rules is None and ("kind" in body or "type" in body):
                rules = [body]
            if rules is not None:
                parsed = [FaultRule.from_json(rule, next(self._ids)) for rule in rules]
                if body.get("replace", False):
                    self._rules = parsed
                else:
                    self._rules.extend(parsed)
            return self.snapshot()

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._log.clear()
            self._rng = random.Random(self._seed)
        self.release_sleepers()

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "seed": self._seed,
                "rules": [asdict(rule) for rule in self._rules],
                "injected": list(self._log),
            }

    def set_latency(self, body: dict) -> dict:
        """POST /_emulator/latency {"latency_ms": 20, "jitter_ms": 10}: each API request then waits
        latency_ms plus a uniform draw in [0, jitter_ms) before it is handled. Zeros switch it off."""
        latency, jitter = float(body.get("latency_ms", 0)), float(body.get("jitter_ms", 0))
        if latency < 0 or jitter < 0:
            raise ValueError("latency_ms and jitter_ms must be at least 0")
        with self._lock:
            self.latency_ms, self.jitter_ms = latency, jitter
        return self.latency()

    def latency(self) -> dict:
        with self._lock:
            return {"latency_ms": self.latency_ms, "jitter_ms": self.jitter_ms}

    def delay(self) -> None:
        """Wait the configured latency (outside the lock: requests wait side by side, as on a network)."""
        with self._lock:
            jitter = self._jitter.uniform(0, self.jitter_ms) if self.jitter_ms else 0.0
            seconds = (self.latency_ms + jitter) / 1000
        if seconds > 0:
            self.sleep(seconds)

    # matching -----------------------------------------------------------------------------------
    def pick(self, method: str, path: str, now_iso: str = "") -> FaultRule | None:
        """The rule that fires for this call, if any; consumes one of its `count`."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                if rule.rate is not None and self._rng.random() >= rule.rate:
                    continue
                if rule.count is not None:
                    rule.count -= 1
                rule.hits += 1
                self._log.append(
                    {"at": now_iso, "rule": rule.id, "kind": rule.kind, "method": method, "path": path}
                )
                logger.info("fault injected: %s %s %s", rule.kind, method, path)
                return rule
            return None

    # effects ------------------------------------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """Sleep that a reset or a server stop cuts short, so no test thread hangs for minutes."""
        self._wake.wait(timeout=seconds)

    def release_sleepers(self) -> None:
        old = self._wake
        self._wake = threading.Event()
        old.set()


def abort_connection(environ: dict) -> bool:
    """Cut the client's connection so it never receives a response. True if a socket was cut."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return False
    try:
        # Linger 0 turns the close into a reset, as a proxy or load balancer losing the response would.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        logger.debug("socket already closed while dropping the response")
    return True
