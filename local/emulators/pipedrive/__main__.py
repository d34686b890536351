"""`python -m local.emulators.pipedrive`: the emulator on 127.0.0.1:$PIPEDRIVE_EMULATOR_PORT (4020)."""

from __future__ import annotations

import logging
import os

from .config import PipedriveConfig
from .server import PipedriveEmulatorHandle


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s")
    config = PipedriveConfig.from_env()
    handle = PipedriveEmulatorHandle(config)
    log = logging.getLogger("pipedrive-emulator")
    log.info("Pipedrive emulator on %s (token user %s, webhook %s)", handle.url, 2, config.webhook_url or "none")
    try:
        handle.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
