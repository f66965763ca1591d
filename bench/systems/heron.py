"""Heron, the system under test, run from the interpreter that runs the benchmark."""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from bench.systems.base import PointCount, Server
from bench.timefmt import sql_timestamp

#: The repository root, so `-m heron` imports the working tree's package.
REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_USER = "admin"


def sql_rows(payload: Any) -> list[Any]:
    """Rows of a `/api/v1/sql` JSON answer.

    CnosDB answers a JSON array of row objects; Heron may wrap it in its native
    ``{"success", "data"}`` envelope, or give ``{"columns", "rows"}``. Accepting each keeps
    the benchmark working while the server's response shape settles.
    """
    if isinstance(payload, dict):
        for key in ("data", "rows", "result", "results", "values"):
            if key in payload:
                return sql_rows(payload[key])
        raise ValueError(f"unrecognised SQL answer with keys {sorted(payload)}")
    if isinstance(payload, list):
        return payload
    raise ValueError(f"unrecognised SQL answer of type {type(payload).__name__}")


def first_row_values(payload: Any) -> list[Any]:
    """The values of the first row of a SQL answer, in column order."""
    rows = sql_rows(payload)
    if not rows:
        raise ValueError("SQL answer has no rows")
    row = rows[0]
    return list(row.values()) if isinstance(row, dict) else list(row)


class Heron(Server):
    """`python -m heron serve` with a random admin password."""

    key = "heron"
    label = "Heron"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.password = secrets.token_urlsafe(18)

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "heron", "serve",
            "--data-dir", str(self.data_dir),
            "--listen", f"127.0.0.1:{self.port}",
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        # cwd is the work directory, so the package must come from the repository.
        python_path = str(REPO_ROOT)
        return {"HERON_ADMIN_PASSWORD": self.password, "PYTHONPATH": python_path}

    def headers(self) -> dict[str, str]:
        token = base64.b64encode(f"{ADMIN_USER}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def ready(self, client: httpx.Client) -> bool:
        return client.get("/api/v1/ping").status_code == 200

    def compacted(self, client: httpx.Client) -> bool:
        """Whether no window waits for compaction (merges of whole days may still wait)."""
        response = client.get("/api/v1/health")
        return response.status_code == 200 and response.json()["store"]["compaction"]["windows_waiting"] == 0

    def create_database(self, client: httpx.Client) -> None:
        response = client.post("/api/v1/sql", content=f"CREATE DATABASE {self.database}")
        response.raise_for_status()

    def write_path(self) -> str:
        return f"/write?db={self.database}&precision=ns"

    def sql(self, client: httpx.Client, query: str) -> httpx.Response:
        """POST one SQL statement against the bench database; raise, with the answer's
        text, on a non-2xx status."""
        response = client.post(
            "/api/v1/sql",
            params={"db": self.database},
            content=query,
            headers={"Accept": "application/json"},
        )
        if response.is_error:
            raise RuntimeError(f"Heron answered {response.status_code} to {query!r}: {response.text[:300]}")
        return response

    def count_points(self, client: httpx.Client, *, start_ns: int, end_ns: int) -> PointCount:
        query = (
            "SELECT count(*) AS points, count(DISTINCT (hostname, time)) AS distinct_points "
            f"FROM cpu WHERE time >= {sql_timestamp(start_ns)} AND time < {sql_timestamp(end_ns)}"
        )
        points, distinct = first_row_values(self.sql(client, query).json())
        return PointCount(points=int(points), distinct_points=int(distinct))

    @classmethod
    def missing(cls) -> str | None:
        done = subprocess.run(
            [sys.executable, "-m", "heron", "serve", "--help"],
            capture_output=True, text=True, cwd=REPO_ROOT, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"`heron serve --help` failed: {tail[0]}"
        return None

    def version(self) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "heron", "--version"],
            capture_output=True, text=True, cwd=REPO_ROOT, check=False,
        )  # fmt: skip
        words = done.stdout.split()
        return words[-1] if done.returncode == 0 and words else "unknown"
