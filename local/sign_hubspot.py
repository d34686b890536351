"""`python -m local.sign_hubspot DEAL_ID`: a curl command sending the webhook HubSpot sends when a
salesperson moves a deal to closedwon, signed (v3) with the local app's client secret.

HubSpot signs method + full URL + body + a millisecond timestamp, and the bridge refuses a timestamp
more than 5 minutes old: hard to do by hand, so this prints a command good for 5 minutes
(`... | sh` runs it at once). The event is the demo's (local.demo.HubSpot.won_webhook), from the
emulator's portal, so the local stack's portal check lets it in.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from local.demo import HubSpot


def signed_curl(gateway: str, deal_id: int) -> str:
    """The curl command for a signed dealstage=closedwon event of `deal_id`, as of now."""
    # The driver only builds the event here: nothing is read from the emulator.
    url, body, headers = HubSpot("http://127.0.0.1").won_webhook(gateway, deal_id)
    parts = ["curl -i -X POST", *(f"-H {shlex.quote(f'{name}: {value}')}" for name, value in headers.items()),
             f"--data-binary {shlex.quote(body.decode())}", shlex.quote(url)]
    return " \\\n  ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.sign_hubspot", description=__doc__.splitlines()[0])
    parser.add_argument("deal_id", type=int, help="the HubSpot deal id (`make local` prints a won sample's)")
    parser.add_argument("--gateway", default=f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '3000')}",
                        help="the local stack's gateway (default: GATEWAY_PORT or 3000 on 127.0.0.1)")
    args = parser.parse_args(argv)
    sys.stdout.write(signed_curl(args.gateway.rstrip("/"), args.deal_id) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
