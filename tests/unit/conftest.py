"""Unit tests are offline: every test in tests/unit runs with sockets (and DNS lookups) blocked.

Scoped to this directory on purpose: the integration tests need the network.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_socket


@pytest.fixture(autouse=True)
def _block_sockets() -> Iterator[None]:
    pytest_socket.disable_socket(allow_unix_socket=False)
    try:
        yield
    finally:
        pytest_socket.enable_socket()
