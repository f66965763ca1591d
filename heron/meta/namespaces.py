"""Tenants and databases in the metadata store, with an in-memory view for the write path."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select

from heron.core.errors import DatabaseExists, DatabaseNotFound
from heron.meta.db import MetaStore
from heron.meta.models import Database, Tenant

DEFAULT_TENANT = "cnosdb"
DEFAULT_DATABASE = "public"


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    tenant: str
    name: str
    ttl_seconds: int
    rollups: str = ""  # rollup tiers, e.g. "5m:90d,1h:104w" (heron.tsdb.rollups)


class Namespaces:
    """Reads are served from memory (every write request checks its database); changes go to SQL first."""

    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta
        self._lock = threading.Lock()
        self._databases: dict[tuple[str, str], DatabaseInfo] = {}

    def load(self) -> None:
        with self._meta.session() as s:
            rows = s.execute(
                select(Tenant.name, Database.name, Database.ttl_seconds, Database.rollups).join(Database.tenant)
            ).all()
        with self._lock:
            self._databases = {(t, d): DatabaseInfo(t, d, ttl, rollups or "") for t, d, ttl, rollups in rows}

    def ensure_defaults(self) -> None:
        """The default tenant and database exist from the first start."""
        with self._meta.session() as s:
            tenant = s.scalar(select(Tenant).where(Tenant.name == DEFAULT_TENANT))
            if tenant is None:
                tenant = Tenant(name=DEFAULT_TENANT)
                s.add(tenant)
                s.flush()
            exists = s.scalar(
                select(Database).where(Database.tenant_id == tenant.id, Database.name == DEFAULT_DATABASE)
            )
            if exists is None:
                s.add(Database(tenant_id=tenant.id, name=DEFAULT_DATABASE, ttl_seconds=0))
        self.load()

    def get(self, tenant: str, name: str) -> DatabaseInfo:
        info = self._databases.get((tenant, name))
        if info is None:
            raise DatabaseNotFound(tenant, name)
        return info

    def exists(self, tenant: str, name: str) -> bool:
        return (tenant, name) in self._databases

    def list(self, tenant: str | None = None) -> list[DatabaseInfo]:
        return sorted(
            (d for d in self._databases.values() if tenant is None or d.tenant == tenant),
            key=lambda d: (d.tenant, d.name),
        )

    def create(self, tenant: str, name: str, *, ttl_seconds: int) -> DatabaseInfo:
        with self._meta.session() as s:
            row = s.scalar(select(Tenant).where(Tenant.name == tenant))
            if row is None:
                row = Tenant(name=tenant)
                s.add(row)
                s.flush()
            if s.scalar(select(Database).where(Database.tenant_id == row.id, Database.name == name)):
                raise DatabaseExists(f"database '{name}' already exists in tenant '{tenant}'")
            s.add(Database(tenant_id=row.id, name=name, ttl_seconds=ttl_seconds))
        self.load()
        return self.get(tenant, name)

    def set_ttl(self, tenant: str, name: str, *, ttl_seconds: int) -> DatabaseInfo:
        with self._meta.session() as s:
            db = s.scalar(select(Database).join(Database.tenant).where(Tenant.name == tenant, Database.name == name))
            if db is None:
                raise DatabaseNotFound(tenant, name)
            db.ttl_seconds = ttl_seconds
        self.load()
        return self.get(tenant, name)

    def set_rollups(self, tenant: str, name: str, *, rollups: str) -> DatabaseInfo:
        with self._meta.session() as s:
            db = s.scalar(select(Database).join(Database.tenant).where(Tenant.name == tenant, Database.name == name))
            if db is None:
                raise DatabaseNotFound(tenant, name)
            db.rollups = rollups
        self.load()
        return self.get(tenant, name)

    def drop(self, tenant: str, name: str) -> None:
        with self._meta.session() as s:
            db = s.scalar(select(Database).join(Database.tenant).where(Tenant.name == tenant, Database.name == name))
            if db is None:
                raise DatabaseNotFound(tenant, name)
            s.delete(db)
        self.load()
