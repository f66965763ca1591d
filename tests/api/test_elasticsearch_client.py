"""``elasticsearch-py`` 8's ``helpers.bulk`` writes logs to Heron, which reads them back with SQL."""

from __future__ import annotations

import secrets

import httpx
from elasticsearch import Elasticsearch, helpers

from tests.conftest import RunningServer


def _sql(client: httpx.Client, query: str) -> object:
    r = client.post("/api/v1/sql", content=query, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()


def test_helpers_bulk_of_elasticsearch_py_8_writes_to_the_actions_index(
    server: RunningServer, client: httpx.Client
) -> None:
    events, audit = f"es_events_{secrets.token_hex(3)}", f"es_audit_{secrets.token_hex(3)}"
    docs = [
        {"_index": events, "_source": {"@timestamp": 1_700_000_000 + i, "level": "info", "n": i}} for i in range(50)
    ]
    docs.append({"_index": audit, "_source": {"@timestamp": 1_700_000_100, "who": "alice"}})
    es = Elasticsearch(f"{server.url}/api/v1/es", basic_auth=server.auth, request_timeout=30)
    try:
        assert es.info()["version"]["number"].startswith("8.")
        ok, errors = helpers.bulk(es, docs)
    finally:
        es.close()
    assert (ok, errors) == (51, [])
    assert _sql(client, f"SELECT count(*) AS n, max(n) AS top FROM {events}") == [{"n": 50, "top": 49.0}]
    assert _sql(client, f"SELECT who FROM {audit}") == [{"who": "alice"}]
