"""One Heron server for the monitor API tests, with the cast, and a helper to poll it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.cast import Cast, make_cast
from tests.conftest import RunningServer, start_server


@pytest.fixture(scope="session")
def probes_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-probes"), env={"HERON_PROBE_NODE_NAME": "heron-node"})
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def cast(probes_server: RunningServer) -> Cast:
    return make_cast(probes_server)


def wait_for(check: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy (no timed assertion: a generous deadline)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
