"""``POST /api/v1/maintenance`` (admin): compact the metadata database and the time-series store.

SQLite gets ``VACUUM`` and ``PRAGMA optimize``; PostgreSQL ``VACUUM ANALYZE`` on Heron's
tables (its autovacuum does most of this already). The time-series store applies what waits
in its write-ahead log and checkpoints DuckDB, which writes its WAL into the database file.
The answer says what ran, the sizes before and after, and how long each step took.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import duckdb
from fastapi import APIRouter, Depends, Request
from sqlalchemy import text

from heron.api.deps import require_admin, services
from heron.api.ops.state import OpsState, actor_of, ops_state
from heron.api.services import Services
from heron.auth.users import Principal
from heron.meta.models import Base

router = APIRouter(tags=["heron"], dependencies=[Depends(require_admin)])


def _size(*paths: Path) -> int:
    return sum(p.stat().st_size for p in paths if p.exists())


def compact_metadata(svc: Services) -> dict[str, Any]:
    started = time.monotonic()
    engine = svc.meta.engine
    if engine.dialect.name == "sqlite":
        db = Path(engine.url.database or "")
        files = [db, db.with_name(db.name + "-wal")]
        before = _size(*files)
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            conn.execute(text("VACUUM"))
            conn.execute(text("PRAGMA optimize"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        after = _size(*files)
        steps = ["VACUUM", "PRAGMA optimize", "WAL checkpoint"]
    else:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            before = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0)
            for table in Base.metadata.sorted_tables:
                conn.execute(text(f'VACUUM ANALYZE "{table.name}"'))
            after = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0)
        steps = ["VACUUM ANALYZE"]
    return {
        "database": engine.dialect.name,
        "steps": steps,
        "bytes_before": before,
        "bytes_after": after,
        "seconds": round(time.monotonic() - started, 3),
    }


def _checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CHECKPOINT")


@router.post(
    "/api/v1/maintenance", summary="Compact the metadata database and checkpoint the time-series store (admin)"
)
async def run_maintenance(
    request: Request,
    svc: Services = Depends(services),
    user: Principal = Depends(require_admin),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    meta = await asyncio.to_thread(compact_metadata, svc)
    started = time.monotonic()
    files = [svc.settings.tsdb_path, svc.settings.tsdb_path.with_name(svc.settings.tsdb_path.name + ".wal")]
    before = _size(*files)
    await asyncio.wrap_future(svc.writer.sync())
    await asyncio.wrap_future(svc.writer.call(_checkpoint))
    tsdb = {
        "steps": ["apply the write-ahead log", "CHECKPOINT"],
        "bytes_before": before,
        "bytes_after": _size(*files),
        "seconds": round(time.monotonic() - started, 3),
    }
    state.ops.audit.record(actor_of(request, user), "maintenance", metadata=meta, tsdb=tsdb)
    return {"success": True, "data": {"metadata": meta, "tsdb": tsdb}}
