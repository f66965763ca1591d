"""A Heron server of the auth tests' own, so bans and users made here touch no other test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cast import Cast, make_cast
from tests.conftest import RunningServer, start_server


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # Many logins from one address here; the rate limit itself is tested in test_waf.py on its own server.
    env = {"HERON_REAL_IP_HEADER": "X-Real-IP", "HERON_LOGIN_ATTEMPTS_PER_MINUTE": "1000"}
    srv = start_server(tmp_path_factory.mktemp("heron-auth"), env=env)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def cast(auth_server: RunningServer) -> Cast:
    return make_cast(auth_server)
