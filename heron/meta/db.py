"""Engine and sessions for the metadata database, and migration at start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

_MIGRATIONS = Path(__file__).parent / "migrations"
#: Where a session keeps the tables its flushes changed until it commits.
_CHANGED_KEY = "heron_changed_tables"
#: Columns whose updates do not count as a change of their table: ``servers.last_active`` is
#: moved forward for every reporting host about once a second (buffered sightings), and
#: readers that cache the table refresh it on their own clock rather than on every sighting.
QUIET_COLUMNS: dict[str, frozenset[str]] = {"servers": frozenset({"last_active"})}


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode and foreign keys, as PostgreSQL has them."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema up to the newest Alembic revision (run at every start).

    On SQLite a revision may rebuild a table (copy, drop, rename). Dropping a table deletes its
    rows first, and with foreign keys on that would cascade into every child table, so the
    migration runs with them off (the pragma only takes effect outside a transaction) and
    checks every reference before it commits.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"metadata migration left references to missing rows: {broken[:5]}")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


class MetaStore:
    """Sessions on the metadata database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._versions: dict[str, int] = {}
        self._versions_lock = threading.Lock()
        event.listen(self._sessions, "after_flush", _note_changed_tables)
        event.listen(self._sessions, "after_commit", self._count_commit)
        event.listen(self._sessions, "after_rollback", _forget_changed_tables)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        with self._sessions() as s, s.begin():
            yield s

    def version(self, table: str) -> int:
        """How many committed transactions of this process changed ``table`` through the ORM.

        Caches of a table compare it before and after a read: a value that moved means a
        change they must not hide (a renamed server, a new owner). It is counted after the
        commit, so a reader that sees the new number also sees the new rows. Updates of
        :data:`QUIET_COLUMNS` alone are not counted.
        """
        with self._versions_lock:
            return self._versions.get(table, 0)

    def touched(self, table: str) -> None:
        """Count a committed change made with plain statements (the ORM's are counted by itself)."""
        with self._versions_lock:
            self._versions[table] = self._versions.get(table, 0) + 1

    def _count_commit(self, session: Session) -> None:
        tables: set[str] = session.info.pop(_CHANGED_KEY, set())
        if tables:
            with self._versions_lock:
                for table in tables:
                    self._versions[table] = self._versions.get(table, 0) + 1


def _note_changed_tables(session: Session, _flush_context: Any) -> None:
    """Remember which tables this flush changed (the session still lists its pre-flush objects)."""
    changed: set[str] = session.info.setdefault(_CHANGED_KEY, set())
    for obj in (*session.new, *session.deleted):
        changed.add(obj.__table__.name)
    for obj in session.dirty:
        table = obj.__table__.name
        state = inspect(obj)
        modified = set(state.attrs.keys()) - state.unmodified - QUIET_COLUMNS.get(table, frozenset())
        for key in modified:
            history = state.attrs[key].history
            if list(history.added) != list(history.deleted):
                changed.add(table)
                break


def _forget_changed_tables(session: Session) -> None:
    session.info.pop(_CHANGED_KEY, None)
