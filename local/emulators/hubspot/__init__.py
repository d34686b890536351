"""A HubSpot emulator: CRM v3 objects (deals, companies, contacts, line items, notes) with v3/v4
associations, properties and property groups, deal pipelines, owners and account details; Bearer auth
with a private app token; HubSpot's rolling 10-second and daily limits with their headers; and webhooks
with v3 signatures, batches of up to 100 events and retries over 24 hours on the movable clock.

In tests:

    from local.emulators.hubspot import HubSpotConfig, start_hubspot_emulator

    with start_hubspot_emulator(config=HubSpotConfig()) as hs:   # ephemeral port, hermetic defaults
        hs.url                                                   # HUBSPOT_API_URL for the bridge
        hs.seed({"companies": [...], "deals": [...]})
        hs.state()                                               # everything, as GET /_emulator/state

The local stack: `start_hubspot_emulator(port=4030, host="127.0.0.1", webhook_url=".../webhooks/hubspot")`.
Standalone: `python -m local.emulators.hubspot` (127.0.0.1, port HUBSPOT_EMULATOR_PORT or 4030).
"""

from .config import (
    APP_ID,
    DEFAULT_OTHER_APP_TOKEN,
    OTHER_APP_ID,
    PORTAL_ID,
    SALES_OWNER_ID,
    SALES_USER_ID,
    HubSpotConfig,
)
from .server import HubSpotEmulatorHandle, create_hubspot_app, start_hubspot_emulator
from .store import Actor, line_item_amounts
from .webhooks import v3_signature

__all__ = [
    "APP_ID",
    "DEFAULT_OTHER_APP_TOKEN",
    "OTHER_APP_ID",
    "PORTAL_ID",
    "SALES_OWNER_ID",
    "SALES_USER_ID",
    "Actor",
    "HubSpotConfig",
    "HubSpotEmulatorHandle",
    "create_hubspot_app",
    "line_item_amounts",
    "start_hubspot_emulator",
    "v3_signature",
]
