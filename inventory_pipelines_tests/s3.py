"""A real S3 API for tests: moto's server from PyPI, on 127.0.0.1 at a free port.

Import the fixtures into a package's conftest.py to use them:

- `moto_s3_endpoint`: the server's URL, one server per test session (per xdist worker);
- `s3_data_uri`: `s3://<a fresh bucket>/data`, with the environment pointing at the server
  (`AWS_ENDPOINT_URL`, moto's dummy credentials, `INVENTORY_ENV=local`): what
  `INVENTORY_DATA_URI` is set to in a deployment.
"""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Iterator

import httpx
import pytest
from moto.server import ThreadedMotoServer

_buckets = itertools.count(1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def moto_s3_endpoint() -> Iterator[str]:
    """moto's S3 on the loopback, for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_data_uri(moto_s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A data plane base in a fresh bucket of moto's S3, the environment pointing at it."""
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INVENTORY_ENV", "local")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # moto's documented dummy credentials
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    bucket = f"inventory-{next(_buckets)}"
    httpx.put(f"{moto_s3_endpoint}/{bucket}").raise_for_status()  # moto takes it unsigned
    return f"s3://{bucket}/data"
