"""`python -m local.emulators.hubspot`: the emulator on 127.0.0.1:$HUBSPOT_EMULATOR_PORT (default 4030)."""

from __future__ import annotations

import logging
import os
import signal

from .config import HubSpotConfig
from .server import HubSpotEmulatorHandle

logger = logging.getLogger("local.emulators.hubspot")


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s")
    config = HubSpotConfig.from_env()
    config.host = "127.0.0.1"
    handle = HubSpotEmulatorHandle(config)
    logger.info("HubSpot emulator on %s (portal %s, app %s, webhooks to %s)", handle.url, config.portal_id,
                config.app_id, config.webhook_url or "nowhere")
    signal.signal(signal.SIGTERM, lambda *_: handle.stop())
    try:
        handle.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
