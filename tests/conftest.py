"""Fixtures: the real server as a process on a loopback port, and metadata on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from hypothesis import settings

settings.register_profile("heron", deadline=None, max_examples=200)
settings.load_profile("heron")

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class RunningServer:
    """A ``heron serve`` process and how to reach it."""

    url: str
    data_dir: Path
    password: str
    process: subprocess.Popen[bytes]
    log_lines: list[str] = field(default_factory=list)
    drain: threading.Thread | None = None

    @property
    def auth(self) -> tuple[str, str]:
        return ("admin", self.password)

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=self.auth, timeout=30, **kwargs)  # type: ignore[arg-type]

    def stop(self, sig: str = "term") -> int:
        if self.process.poll() is None:
            if sig == "kill":
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.drain is not None:
            self.drain.join(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return self.process.returncode


def banner_path(data_dir: Path) -> Path:
    """Where :func:`start_server` keeps what ``heron serve`` printed on stdout."""
    return data_dir.with_name(data_dir.name + ".stdout")


def start_server(data_dir: Path, *, password: str | None = None, env: dict[str, str] | None = None) -> RunningServer:
    """Start ``heron serve`` on 127.0.0.1, port 0; read the bound address from its log."""
    password = password or secrets.token_urlsafe(12)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HERON_")}
    full_env.update({"HERON_ADMIN_PASSWORD": password, "HERON_RETENTION_INTERVAL_SECONDS": "0.5"})
    full_env.update(env or {})
    # The banner (stdout) goes to a file beside the data directory: it holds a generated password.
    banner = banner_path(data_dir).open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "heron", "serve", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0"],
        stdout=banner,
        stderr=subprocess.PIPE,
        env=full_env,
    )
    banner.close()
    assert proc.stderr is not None
    lines: list[str] = []
    url = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        raw = proc.stderr.readline()
        if not raw:
            break
        line = raw.decode("utf-8", "replace").rstrip()
        lines.append(line)
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("msg") == "listening":
            url = doc["address"]
            break
    if not url:
        proc.kill()
        raise RuntimeError("heron serve did not start:\n" + "\n".join(lines))

    def _drain() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            lines.append(raw.decode("utf-8", "replace").rstrip())

    drain = threading.Thread(target=_drain, daemon=True)
    drain.start()
    server = RunningServer(url=url, data_dir=data_dir, password=password, process=proc, log_lines=lines, drain=drain)
    for _ in range(200):
        try:
            if httpx.get(f"{url}/api/v1/ping", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None, "\n".join(lines)
        time.sleep(0.05)
    return server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-data"))
    yield srv
    srv.stop()


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.fixture
def fresh_db(client: httpx.Client) -> Iterator[str]:
    """A new empty database for one test, dropped afterwards."""
    name = "t_" + secrets.token_hex(4)
    r = client.post("/api/v1/sql", content=f"CREATE DATABASE {name}")
    assert r.status_code == 200, r.text
    yield name
    client.post("/api/v1/sql", content=f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(params=["sqlite", "postgresql"])
def meta_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A metadata database URL: SQLite in a temp dir, or a fresh schema on the local PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'meta.sqlite3'}"
        return
    import sqlalchemy as sa

    schema = "heron_test_" + secrets.token_hex(4)
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
