"""Reading an emulator's settings from the environment: the parsing every emulator does alike."""

from __future__ import annotations

from typing import Any


def float_list(text: str) -> tuple[float, ...]:
    """"5,30,60" -> (5.0, 30.0, 60.0): a retry schedule from an environment value."""
    return tuple(float(part) for part in text.split(",") if part.strip())


def is_off(value: str | None) -> bool:
    """An unset, empty, "none", "off", "0" or "false" value switches a setting off."""
    return value is None or value.strip().lower() in ("", "none", "off", "0", "false")


def optional_url(value: str | None) -> str | None:
    return None if is_off(value) else str(value).strip()


def id_pairs(text: str | None) -> dict[str, int]:
    """"token-a:12,token-b:34" -> {"token-a": 12, "token-b": 34} (a token may itself contain colons)."""
    pairs: dict[str, int] = {}
    for pair in (text or "").split(","):
        key, _, number = pair.strip().rpartition(":")
        if key and number.isdigit():
            pairs[key] = int(number)
    return pairs


def webhook_delivery_from_env(hooks: Any, env: dict[str, str], prefix: str) -> None:
    """<prefix>WEBHOOK_RETRY_SCHEDULE, _RETRY_SCALE and _TIMEOUT onto a webhook delivery config."""
    if env.get(f"{prefix}WEBHOOK_RETRY_SCHEDULE"):
        hooks.retry_schedule = float_list(env[f"{prefix}WEBHOOK_RETRY_SCHEDULE"])
    hooks.retry_scale = float(env.get(f"{prefix}WEBHOOK_RETRY_SCALE", hooks.retry_scale))
    hooks.timeout = float(env.get(f"{prefix}WEBHOOK_TIMEOUT", hooks.timeout))


def latency_from_env(env: dict[str, str]) -> dict[str, float] | None:
    """EMULATOR_LATENCY_MS and EMULATOR_JITTER_MS as a POST /_emulator/latency body; None when both are off."""
    latency, jitter = env.get("EMULATOR_LATENCY_MS"), env.get("EMULATOR_JITTER_MS")
    if is_off(latency) and is_off(jitter):
        return None
    return {"latency_ms": 0.0 if is_off(latency) else float(str(latency)),
            "jitter_ms": 0.0 if is_off(jitter) else float(str(jitter))}
