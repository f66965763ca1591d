"""Migration 0011: an existing database keeps every row, index and reference, and never reuses an id."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session

from heron.meta import alert_models, ops_models
from heron.meta.db import _MIGRATIONS, make_engine, migrate
from heron.meta.models import Base, Server, ServerGroup, ServerGroupMember, User


def _tables_of_the_migration() -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location(
        "ids_never_reused", _MIGRATIONS / "versions" / "0011_ids_never_reused.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tables: tuple[str, ...] = module.TABLES
    return tables


def _upgrade_to(engine: sa.Engine, revision: str) -> None:
    """Upgrade the way Heron did before 0011: one transaction, SQLite's foreign keys on."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


@pytest.fixture
def engine(meta_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(meta_url)
    yield eng
    eng.dispose()


def _schema(engine: sa.Engine) -> dict[str, Any]:
    insp = sa.inspect(engine)
    found: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        found[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in insp.get_columns(table)],
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(table)
            ),
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            "fks": sorted(
                (
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    tuple(f["referred_columns"]),
                    f["options"].get("ondelete"),
                )
                for f in insp.get_foreign_keys(table)
            ),
        }
    return found


def _rows(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table: sorted(tuple(r) for r in conn.execute(sa.text(f'SELECT * FROM "{table}"')))
            for table in sorted(sa.inspect(engine).get_table_names())
            if table != "alembic_version"
        }


def _populate(engine: sa.Engine) -> None:
    """Parents with children that a cascading drop would take along: users with tokens, servers in
    groups, a cron task with runs, an alert rule with its event and delivery."""
    with Session(engine) as s, s.begin():
        users = [User(username=f"user{i}", password_hash="x", role="member") for i in range(3)]
        s.add_all(users)
        s.flush()
        servers = [Server(name=f"host{i}", owner_id=users[i].id) for i in range(3)]
        s.add_all(servers)
        group = ServerGroup(name="web", owner_id=users[0].id)
        s.add(group)
        s.flush()
        s.add_all(ServerGroupMember(group_id=group.id, server_id=srv.id) for srv in servers)
        for user in users:
            s.add(alert_models.UserGroupMember(group_id=_user_group(s).id, user_id=user.id))
        task = ops_models.CronTask(name="backup", owner_id=users[2].id, command="true")
        s.add(task)
        s.flush()
        s.add_all(ops_models.CronRun(cron_id=task.id, server_id=srv.id, status="ok") for srv in servers)


def _user_group(s: Session) -> alert_models.UserGroup:
    found = s.scalars(sa.select(alert_models.UserGroup)).first()
    if found is None:
        found = alert_models.UserGroup(name="ops")
        s.add(found)
        s.flush()
    return found


def _new_server(engine: sa.Engine, name: str) -> int:
    with Session(engine) as s, s.begin():
        server = Server(name=name)
        s.add(server)
        s.flush()
        return server.id


def test_upgrade_keeps_rows_and_schema_and_ids_are_never_reused(engine: sa.Engine) -> None:
    _upgrade_to(engine, "0010")
    _populate(engine)
    with engine.begin() as conn:
        # Deleted before the upgrade: only its cron run still names it.
        gone = conn.execute(sa.text("SELECT MAX(id) FROM servers")).scalar_one()
        conn.execute(sa.text("DELETE FROM servers WHERE id = :id"), {"id": gone})
    schema_before, rows_before = _schema(engine), _rows(engine)
    assert rows_before["ops_cron_runs"] and rows_before["server_group_servers"] and rows_before["user_group_members"]

    migrate(engine)
    migrate(engine)  # a second start finds nothing to do

    assert _rows(engine) == rows_before
    assert _schema(engine) == schema_before
    assert _new_server(engine, "first") > gone
    for name in ("after", "again"):
        with engine.begin() as conn:
            top = conn.execute(sa.text("SELECT MAX(id) FROM servers")).scalar_one()
            conn.execute(sa.text("DELETE FROM servers WHERE id = :id"), {"id": top})
        assert _new_server(engine, name) > top
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1  # back on for the server


def test_a_copy_left_by_an_interrupted_upgrade_does_not_stop_the_next(engine: sa.Engine) -> None:
    _upgrade_to(engine, "0010")
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE _alembic_tmp_tenants (id INTEGER PRIMARY KEY AUTOINCREMENT)")
    migrate(engine)
    assert not [t for t in sa.inspect(engine).get_table_names() if t.startswith("_alembic_tmp")]


def test_every_table_with_a_generated_id_never_reuses_it(engine: sa.Engine) -> None:
    migrate(engine)
    tables = _tables_of_the_migration()
    with_ids = {
        t.name
        for t in Base.metadata.tables.values()
        if [c.name for c in t.primary_key.columns] == ["id"] and isinstance(t.c.id.type, sa.Integer)
    }
    assert with_ids == set(tables)
    for name in tables:
        assert Base.metadata.tables[name].dialect_options["sqlite"]["autoincrement"] is True, name
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            for name in tables:
                created = conn.execute(
                    sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :n"), {"n": name}
                ).scalar_one()
                assert "AUTOINCREMENT" in created, name
