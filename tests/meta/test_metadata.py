"""Metadata on SQLite and on the real PostgreSQL: migrations, namespaces, users."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from heron.auth.users import UserDirectory
from heron.core.errors import BadRequest, DatabaseExists, DatabaseNotFound
from heron.meta.db import MetaStore, make_engine, migrate
from heron.meta.namespaces import DEFAULT_DATABASE, DEFAULT_TENANT, Namespaces


@pytest.fixture
def meta(meta_url: str) -> MetaStore:
    engine = make_engine(meta_url)
    migrate(engine)
    store = MetaStore(engine)
    yield store
    engine.dispose()


def test_migrations_create_the_tables_and_are_idempotent(meta: MetaStore) -> None:
    migrate(meta.engine)
    names = set(sa.inspect(meta.engine).get_table_names())
    assert {"tenants", "databases", "users", "alembic_version"} <= names


def test_defaults_exist_after_first_start(meta: MetaStore) -> None:
    ns = Namespaces(meta)
    ns.ensure_defaults()
    ns.ensure_defaults()
    info = ns.get(DEFAULT_TENANT, DEFAULT_DATABASE)
    assert info.ttl_seconds == 0
    assert [d.name for d in ns.list(DEFAULT_TENANT)] == [DEFAULT_DATABASE]


def test_databases_are_created_altered_and_dropped(meta: MetaStore) -> None:
    ns = Namespaces(meta)
    ns.ensure_defaults()
    ns.create("acme", "metrics", ttl_seconds=86400 * 30)
    with pytest.raises(DatabaseExists):
        ns.create("acme", "metrics", ttl_seconds=1)
    assert ns.set_ttl("acme", "metrics", ttl_seconds=3600).ttl_seconds == 3600
    # A second view of the same store sees the change (nothing lives only in memory).
    other = Namespaces(meta)
    other.load()
    assert other.get("acme", "metrics").ttl_seconds == 3600
    ns.drop("acme", "metrics")
    with pytest.raises(DatabaseNotFound, match="CREATE DATABASE metrics"):
        ns.get("acme", "metrics")


def test_users_authenticate_and_no_plaintext_password_is_stored(meta: MetaStore) -> None:
    users = UserDirectory(meta)
    generated = users.ensure_admin("")
    assert generated and len(generated) >= 16
    assert users.ensure_admin("ignored") is None
    users.create("bob", "correct horse", role="member")
    bob = users.authenticate("bob", "correct horse")
    assert bob is not None and bob.role == "member" and not bob.is_admin
    assert users.authenticate("bob", "wrong password") is None
    assert users.authenticate("nobody", "correct horse") is None
    with meta.engine.connect() as conn:
        stored = [row[0] for row in conn.execute(sa.text("SELECT password_hash FROM users"))]
    assert all(h.startswith("$argon2") for h in stored)
    assert not any("correct horse" in h or generated in h for h in stored)


def test_password_change_invalidates_cached_credentials(meta: MetaStore) -> None:
    users = UserDirectory(meta, cache_seconds=3600)
    users.create("carol", "first password")
    assert users.authenticate("carol", "first password") is not None
    users.set_password("carol", "second password")
    assert users.authenticate("carol", "first password") is None
    assert users.authenticate("carol", "second password") is not None


def test_user_rules_are_enforced(meta: MetaStore) -> None:
    users = UserDirectory(meta)
    with pytest.raises(BadRequest, match="at least 8"):
        users.create("dave", "short")
    with pytest.raises(BadRequest, match="invalid role"):
        users.create("dave", "long enough", role="root")
    users.create("dave", "long enough")
    with pytest.raises(BadRequest, match="already exists"):
        users.create("dave", "long enough")


def test_version_counts_committed_changes_of_a_table_but_not_sightings(meta: MetaStore) -> None:
    from datetime import UTC, datetime

    from heron.inventory.registry import HostRegistry
    from heron.meta.models import Server

    before = meta.version("servers")
    with meta.session() as s:
        s.add(Server(name="web-1", source="ident"))
    assert meta.version("servers") == before + 1, "a new server counts"

    hosts = HostRegistry(meta)
    hosts.seen(["web-1"], at=datetime.now(UTC).timestamp())
    assert hosts.flush() == 1
    assert meta.version("servers") == before + 1, "moving last_active forward does not count"

    with pytest.raises(RuntimeError), meta.session() as s:
        s.scalars(sa.select(Server).where(Server.name == "web-1")).one().note = "rolled back"
        s.flush()
        raise RuntimeError("the transaction fails")
    assert meta.version("servers") == before + 1, "a rolled-back change does not count"

    with meta.session() as s:
        srv = s.scalars(sa.select(Server).where(Server.name == "web-1")).one()
        srv.note = srv.note
    assert meta.version("servers") == before + 1, "setting a column to its value is no change"

    with meta.session() as s:
        s.scalars(sa.select(Server).where(Server.name == "web-1")).one().hidden_for_guest = True
    assert meta.version("servers") == before + 2
    assert meta.version("users") == 0

    hosts.seen(["web-2"], at=datetime.now(UTC).timestamp())
    assert hosts.flush() == 1
    assert meta.version("servers") == before + 3, "a host first seen in pushed data counts"
    assert [i.name for i in hosts.list()] == ["web-1", "web-2"]
    assert hosts.get("web-2") is not None and hosts.get("web-2").source == "ident"  # type: ignore[union-attr]
