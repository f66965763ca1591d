"""The OpenAPI document is complete, and the server keeps to it: schemathesis against /openapi.json.

Every operation gets a bounded number of generated requests, sent with an admin's token;
no answer may be a 5xx, and every JSON answer must match the schema the document declares
for its status (errors included: each operation's ``4XX`` is its family's envelope).
The fuzzer's own account and token are left alone, so one generated DELETE cannot end the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import RunningServer, start_server

#: Generated requests per operation (bounded so the suite stays quick on two cores).
EXAMPLES_PER_OPERATION = 12


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-fuzz"), env={"HERON_AUTH_MAX_FAILURES": "1000000"})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def fuzzer(fuzz_server: RunningServer) -> dict[str, Any]:
    """A second admin for the fuzzer, with a token; its ids are kept out of generated paths."""
    with fuzz_server.client() as c:
        user = c.post("/api/v1/user", json={"username": "fuzzer", "password": "fuzzer-password", "role": "admin"})
        token = c.post("/api/v1/token", json={"note": "schemathesis"}, auth=("fuzzer", "fuzzer-password"))
    return {
        "user_id": user.json()["data"]["id"],
        "token_id": token.json()["data"]["id"],
        "token": token.json()["data"]["token"],
    }


@pytest.fixture(scope="module")
def api_schema(fuzz_server: RunningServer) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


def test_the_document_lists_auth_and_error_shapes(fuzz_server: RunningServer) -> None:
    doc = httpx.get(f"{fuzz_server.url}/openapi.json").json()
    assert {"bearerAuth", "basicAuth", "tokenHeader", "userToken", "sessionCookie"} <= set(
        doc["components"]["securitySchemes"]
    )
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert {"4XX", "5XX"} <= set(op["responses"]), f"{method} {path} has no error response"
            assert "422" not in op["responses"] or "HTTPValidationError" not in str(op["responses"]["422"])
            access = op["x-heron-access"]
            if access in ("user", "admin"):
                assert op["security"] and {} not in op["security"], f"{method} {path}"
    assert doc["paths"]["/api/v1/login"]["post"].get("security") is None
    assert {} in doc["paths"]["/api/v1/setting"]["get"]["security"]
    assert doc["paths"]["/api/v1/user"]["post"]["requestBody"]["content"]["application/json"]["schema"]


def _operations() -> list[str]:
    """Labels of the operations, for one test each (read once from a freshly built app)."""
    import tempfile
    from pathlib import Path

    from heron.api.app import create_app
    from heron.api.services import open_services
    from heron.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        svc = open_services(Settings(data_dir=Path(tmp), admin_password="unused-password"))
        try:
            doc = create_app(svc).openapi()
        finally:
            svc.close()
    return sorted(f"{method.upper()} {path}" for path, ops in doc["paths"].items() for method in ops)


@pytest.mark.parametrize("label", _operations())
def test_generated_requests_get_no_5xx_and_answers_match_the_schema(
    api_schema: Any, fuzz_server: RunningServer, fuzzer: dict[str, Any], label: str
) -> None:
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]

    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        params = case.path_parameters or {}
        if params.get("user_id") == fuzzer["user_id"] or params.get("token_id") == fuzzer["token_id"]:
            return
        if path.startswith("/api/v1/service") and method in ("POST", "PATCH") and isinstance(case.body, dict):
            # A generated monitor never runs: its target could be any address (tests/probes fuzz the rest).
            case.body = {**case.body, "enabled": False}
        case.call_and_validate(
            base_url=fuzz_server.url,
            headers={"Authorization": f"Bearer {fuzzer['token']}"},
            checks=[not_a_server_error, response_schema_conformance],
            timeout=30,
        )
        if method in ("POST", "PUT"):
            _assert_store_answers(fuzz_server, fuzzer["token"])

    run()


def _assert_store_answers(srv: RunningServer, token: str) -> None:
    """After a generated request, the store still answers: ``SELECT 1`` and a table of its own."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with httpx.Client(base_url=srv.url, headers=headers, timeout=30) as c:
        if c.post("/api/v1/sql?db=public", content="SELECT count(*) AS n FROM fuzz_sentinel").status_code != 200:
            assert c.post("/api/v1/write?db=public", content="fuzz_sentinel v=1 1").status_code == 200
        one = c.post("/api/v1/sql?db=public", content="SELECT 1 AS one")
        assert one.status_code == 200, one.text
        sentinel = c.post("/api/v1/sql?db=public", content="SELECT count(*) AS n FROM fuzz_sentinel")
        assert sentinel.status_code == 200, sentinel.text
