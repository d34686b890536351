"""moto in server mode on 127.0.0.1: the AWS endpoint of the local stack.

`start_moto_server()` returns a running `MotoServer`; boto3 clients reach it through the standard
AWS_ENDPOINT_URL with fake credentials and region eu-west-2 (`client_environment(url)` gives those).
The port comes from the argument, else MOTO_PORT, else 5000; 0 picks a free one.

moto keeps its state in process-wide backends: two servers in one process share it, and so do
in-process `mock_aws` tests. `reset()` empties it (the local stack does so when it starts and stops).
"""

from __future__ import annotations

import logging
import os
import socket
import urllib.request

from moto.server import ThreadedMotoServer

logger = logging.getLogger(__name__)

DEFAULT_PORT = 5000
REGION = "eu-west-2"


def client_environment(endpoint_url: str) -> dict[str, str]:
    """What boto3 needs to talk to the local endpoint and never to real AWS."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


class MotoServer:
    """A running moto server: `.url`, `.port`, `.reset()`, `.stop()`; also a context manager."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        if port is None:
            port = int(os.environ.get("MOTO_PORT", DEFAULT_PORT))
        self.host = host
        if port:
            _check_free(host, port)  # ThreadedMotoServer would wait forever on a port in use
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        logger.info("moto listening on %s", self.url)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        """Forget every resource moto holds (in this process)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310 - local http
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local http
            response.read()

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(exc.errno, f"moto cannot listen on {host}:{port} ({exc.strerror}); set MOTO_PORT") from exc


def start_moto_server(port: int | None = None, host: str = "127.0.0.1") -> MotoServer:
    """Start moto on a background thread and return it (`.url` is the endpoint URL)."""
    return MotoServer(port=port, host=host)
