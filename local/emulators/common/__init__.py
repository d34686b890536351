"""Building blocks shared by the Xero, Pipedrive and HubSpot emulators.

To build a new emulator: make an `EmulatorCore`, give it a `WebhookDispatcher` if the service sends
webhooks (or an engine of its own on `webhooks.DeliveryEngine` when each attempt is a new request),
write a plugin (register routes, snapshot, reset) and call `create_app(core, plugin)`; then
`ServerHandle(app, port=...)` runs it on a thread, or `server.EmulatorHandle` for a plugin with a
store and a seed. `http` has the API gate (auth, rate limits, faults), API error shapes and locked
routes; `ratelimit` a rolling window with a daily budget; `config` the environment parsing.
"""

from .app import create_app
from .clock import Clock, parse_instant
from .core import EmulatorCore, EmulatorPlugin
from .faults import FaultInjector, FaultRule
from .http import fault_after, fault_before, json_response, request_json
from .server import ServerHandle
from .webhooks import DEFAULT_RETRY_SCHEDULE, WebhookDispatcher

__all__ = [
    "DEFAULT_RETRY_SCHEDULE",
    "Clock",
    "EmulatorCore",
    "EmulatorPlugin",
    "FaultInjector",
    "FaultRule",
    "ServerHandle",
    "WebhookDispatcher",
    "create_app",
    "fault_after",
    "fault_before",
    "json_response",
    "parse_instant",
    "request_json",
]
