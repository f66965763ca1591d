"""Over-size bodies and gzip bombs are refused before they cost memory; the server stays up."""

from __future__ import annotations

import gzip
import secrets

from tests.conftest import RunningServer, start_server


def test_over_size_bodies_and_bombs_get_413(tmp_path_factory: object) -> None:
    srv: RunningServer = start_server(
        tmp_path_factory.mktemp("limits"),
        env={"HERON_MAX_BODY_BYTES": "100000"},  # type: ignore[attr-defined]
    )
    try:
        with srv.client() as c:
            big = b"m v=1 1\n" * 20000
            r = c.post("/api/v1/write", content=big)
            assert r.status_code == 413 and "limit of 100000 bytes" in r.json()["error_message"]

            def chunks() -> object:
                for _ in range(40):
                    yield b"m v=1 1\n" * 1000

            r = c.post("/write", params={"db": "public"}, content=chunks())  # no Content-Length
            assert r.status_code == 413 and "limit" in r.json()["error"]

            bomb = gzip.compress(b"\0" * 50_000_000)
            assert len(bomb) < 100_000
            r = c.post("/api/v1/write", content=bomb, headers={"Content-Encoding": "gzip"})
            assert r.status_code == 413 and "decompressed" in r.json()["error_message"]

            r = c.post("/api/v1/write", content=b"m v=1 " + str(secrets.randbelow(10**9)).encode())
            assert r.status_code == 200
        assert srv.process.poll() is None
    finally:
        srv.stop()
