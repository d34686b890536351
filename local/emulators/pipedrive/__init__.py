"""A Pipedrive emulator: v2 deals, organizations, persons, products, deal products and fields (custom
fields keyed by 40-character hashes), v1 notes, webhooks and users/me, webhooks v2 with Basic auth and
Pipedrive's retry schedule, x-api-token auth and rate-limit headers.

In tests:

    from local.emulators.pipedrive import start_pipedrive_emulator

    with start_pipedrive_emulator() as pd:          # ephemeral port
        pd.url                                       # PIPEDRIVE_API_URL for the bridge
        pd.seed({"organizations": [...], "deals": [...]})
        pd.emulator.store                            # direct state access (hold pd.core.lock to mutate)

Standalone: `python -m local.emulators.pipedrive` (127.0.0.1, port PIPEDRIVE_EMULATOR_PORT or 4020).
"""

from .config import INTEGRATION_USER_ID, SALESPERSON_USER_ID, PipedriveConfig
from .fields import field_code
from .server import PipedriveEmulatorHandle, create_pipedrive_app, start_pipedrive_emulator
from .store import Actor, product_sum

__all__ = [
    "INTEGRATION_USER_ID",
    "SALESPERSON_USER_ID",
    "Actor",
    "PipedriveConfig",
    "PipedriveEmulatorHandle",
    "create_pipedrive_app",
    "field_code",
    "product_sum",
    "start_pipedrive_emulator",
]
