"""`python -m local.emulators.xero`: the emulator on 127.0.0.1:$XERO_EMULATOR_PORT (default 4010)."""

from __future__ import annotations

import logging
import signal

from .app import start_xero_emulator
from .config import XeroConfig

logger = logging.getLogger("local.emulators.xero")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = XeroConfig.from_env()
    handle = start_xero_emulator(port=config.port, host="127.0.0.1", config=config)
    logger.info("Xero emulator on %s (API %s, webhooks to %s)", handle.url, handle.api_url,
                config.webhook_url or "nowhere")

    def _stop(*_: object) -> None:
        handle.stop()

    signal.signal(signal.SIGTERM, _stop)
    try:
        handle.server.wait()
    except KeyboardInterrupt:
        handle.stop()


if __name__ == "__main__":
    main()
