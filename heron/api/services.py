"""Everything a request handler needs, opened once at start and closed at shutdown."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import duckdb

from heron.auth.users import UserDirectory
from heron.config import Settings
from heron.inventory.live import LiveState
from heron.inventory.registry import HostRegistry
from heron.meta.db import MetaStore, make_engine, migrate
from heron.meta.namespaces import Namespaces
from heron.tsdb.compaction import Compactor
from heron.tsdb.names import schema_for
from heron.tsdb.rollups import parse_rollups
from heron.tsdb.store import create_schema, list_schemas, open_store
from heron.tsdb.writer import Writer

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Services:
    settings: Settings
    meta: MetaStore
    namespaces: Namespaces
    users: UserDirectory
    tsdb: duckdb.DuckDBPyConnection
    writer: Writer
    hosts: HostRegistry
    generated_admin_password: str | None = None
    live: LiveState = field(default_factory=LiveState)
    closed: bool = False

    def close(self) -> None:
        """Save host sightings, drain the writer, checkpoint the TSDB; safe to call twice."""
        if self.closed:
            return
        self.closed = True
        try:
            self.hosts.flush()
        except Exception:
            log.exception("could not save the last host sightings")
        self.writer.close()
        self.tsdb.close()
        self.meta.engine.dispose()


def open_services(settings: Settings) -> Services:
    """Migrate metadata, open the TSDB, make sure defaults and the first admin exist."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.meta_database_url)
    migrate(engine)
    meta = MetaStore(engine)
    namespaces = Namespaces(meta)
    namespaces.ensure_defaults()
    users = UserDirectory(meta, cache_seconds=settings.auth_cache_seconds)
    generated = users.ensure_admin(settings.admin_password)

    con = open_store(
        settings.tsdb_path,
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
        checkpoint_wal_size=settings.duckdb_checkpoint_wal_size,
    )
    existing = list_schemas(con)
    for info in namespaces.list():
        schema = schema_for(info.tenant, info.name)
        if schema not in existing:
            create_schema(con, schema)
    writer = Writer(
        con,
        wal_dir=settings.data_dir / "tsdb" / "wal",
        quarantine_dir=settings.data_dir / "tsdb" / "quarantine",
        max_queue_rows=settings.max_write_queue_rows,
        max_commit_rows=settings.max_commit_rows,
        flush_rows=settings.tsdb_flush_rows,
        flush_interval_seconds=settings.tsdb_flush_interval_seconds,
        compactor=Compactor(
            window_seconds=settings.compaction_window_seconds,
            delay_seconds=settings.compaction_delay_seconds,
            max_step_rows=settings.compaction_max_step_rows,
            merge_window_seconds=settings.compaction_merge_window_seconds,
            merge_delay_seconds=settings.compaction_merge_delay_seconds,
            enabled=settings.compaction_enabled,
        ),
        compact_at_close_seconds=settings.compaction_at_shutdown_seconds,
    )
    for info in namespaces.list():
        if info.rollups:
            writer.compactor.set_rollups(schema_for(info.tenant, info.name), parse_rollups(info.rollups))
    return Services(settings, meta, namespaces, users, con, writer, HostRegistry(meta), generated)
