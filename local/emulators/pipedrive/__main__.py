"""`python -m local.emulators.pipedrive`: the emulator on 127.0.0.1:$PIPEDRIVE_EMULATOR_PORT (4020)."""

from __future__ import annotations

from local.emulators.common.server import run_in_foreground

from .config import INTEGRATION_USER_ID, PipedriveConfig
from .server import PipedriveEmulatorHandle


def main() -> None:
    config = PipedriveConfig.from_env()
    config.host = "127.0.0.1"
    run_in_foreground(PipedriveEmulatorHandle(config), f"Pipedrive emulator (token user {INTEGRATION_USER_ID}, "
                                                       f"webhook {config.webhook_url or 'none'})")


if __name__ == "__main__":
    main()
