"""An HTTP server that behaves like Xero on everything the bridge touches (identity, connections,
Accounting API, rate limits, webhooks). See app.py for how to start it and the control endpoints."""

from .app import XeroEmulator, XeroEmulatorHandle, start_xero_emulator
from .config import RateLimits, XeroConfig
from .defaults import DEMO_TENANT_ID

__all__ = ["DEMO_TENANT_ID", "RateLimits", "XeroConfig", "XeroEmulator", "XeroEmulatorHandle", "start_xero_emulator"]
