"""`python -m local.emulators.hubspot`: the emulator on 127.0.0.1:$HUBSPOT_EMULATOR_PORT (default 4030)."""

from __future__ import annotations

from local.emulators.common.server import run_in_foreground

from .config import HubSpotConfig
from .server import HubSpotEmulatorHandle


def main() -> None:
    config = HubSpotConfig.from_env()
    config.host = "127.0.0.1"
    run_in_foreground(HubSpotEmulatorHandle(config), f"HubSpot emulator (portal {config.portal_id}, app "
                                                     f"{config.app_id}, webhooks to {config.webhook_url or 'nowhere'})")


if __name__ == "__main__":
    main()
