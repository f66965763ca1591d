"""CREATE/ALTER/DROP DATABASE, SHOW and DESCRIBE: metadata first, then the TSDB schema."""

from __future__ import annotations

import asyncio

import pyarrow as pa

from heron.api.services import Services
from heron.auth.users import Principal
from heron.core.errors import DatabaseExists, DatabaseNotFound, Forbidden, SqlRejected
from heron.core.timeprec import format_duration_seconds, parse_duration_seconds
from heron.meta.namespaces import DEFAULT_DATABASE
from heron.tsdb.ddl import Statement
from heron.tsdb.names import INTERNAL_PREFIX, check_name, schema_for
from heron.tsdb.rollups import format_rollups, parse_rollups
from heron.tsdb.store import create_schema, describe_table, list_tables

_EMPTY = pa.table({})


def _require_admin(user: Principal, what: str) -> None:
    if not user.is_admin:
        raise Forbidden(f"{what} needs the admin role; user '{user.username}' is a member")


async def run_catalog_statement(
    svc: Services, stmt: Statement, *, tenant: str, database: str, user: Principal
) -> pa.Table:
    """Execute one catalog statement for ``user`` and return its result as a table."""
    if stmt.kind == "create":
        _require_admin(user, "CREATE DATABASE")
        name = check_name("database", stmt.name)
        ttl = parse_duration_seconds(stmt.ttl if stmt.ttl is not None else svc.settings.default_ttl)
        try:
            svc.namespaces.create(tenant, name, ttl_seconds=ttl)
        except DatabaseExists:
            if stmt.if_not_exists:
                return _EMPTY
            raise
        schema = schema_for(tenant, name)
        await asyncio.wrap_future(svc.writer.call(lambda con: create_schema(con, schema)))
        return _EMPTY
    if stmt.kind == "alter":
        _require_admin(user, "ALTER DATABASE")
        svc.namespaces.set_ttl(tenant, stmt.name, ttl_seconds=parse_duration_seconds(stmt.ttl or ""))
        return _EMPTY
    if stmt.kind == "alter_rollups":
        _require_admin(user, "ALTER DATABASE")
        rules = parse_rollups(stmt.rollups or "")
        svc.namespaces.get(tenant, stmt.name)
        svc.namespaces.set_rollups(tenant, stmt.name, rollups=format_rollups(rules))
        await asyncio.wrap_future(svc.writer.set_rollups(schema_for(tenant, stmt.name), rules))
        return _EMPTY
    if stmt.kind == "drop":
        _require_admin(user, "DROP DATABASE")
        if stmt.name == DEFAULT_DATABASE:
            raise SqlRejected(f"the default database '{DEFAULT_DATABASE}' cannot be dropped")
        if not svc.namespaces.exists(tenant, stmt.name):
            if stmt.if_exists:
                return _EMPTY
            raise DatabaseNotFound(tenant, stmt.name)
        svc.namespaces.drop(tenant, stmt.name)
        await asyncio.wrap_future(svc.writer.drop_schema(schema_for(tenant, stmt.name)))
        return _EMPTY
    if stmt.kind == "drop_table":
        _require_admin(user, "DROP TABLE")
        svc.namespaces.get(tenant, database)
        if stmt.name.lower().startswith(INTERNAL_PREFIX):
            raise SqlRejected(f"table '{stmt.name}' is part of Heron's metric store and cannot be dropped")
        dropped = await asyncio.wrap_future(svc.writer.drop_table(schema_for(tenant, database), stmt.name))
        if not dropped and not stmt.if_exists:
            raise SqlRejected(f"table '{stmt.name}' does not exist in database '{database}'")
        return _EMPTY
    if stmt.kind == "show_databases":
        return pa.table({"database_name": [d.name for d in svc.namespaces.list(tenant)]})
    if stmt.kind == "show_tables":
        svc.namespaces.get(tenant, database)
        cur = svc.tsdb.cursor()
        try:
            return pa.table({"table_name": list_tables(cur, schema_for(tenant, database), internal=False)})
        finally:
            cur.close()
    if stmt.kind == "describe_table":
        svc.namespaces.get(tenant, database)
        cur = svc.tsdb.cursor()
        try:
            cols = describe_table(cur, schema_for(tenant, database), stmt.name)
        finally:
            cur.close()
        if not cols:
            raise SqlRejected(f"table '{stmt.name}' does not exist in database '{database}'")
        return pa.table(
            {
                "column_name": [c.name for c in cols],
                "data_type": [c.sql_type for c in cols],
                "column_type": [c.kind.upper() for c in cols],
            }
        )
    if stmt.kind == "describe_database":
        info = svc.namespaces.get(tenant, stmt.name)
        return pa.table(
            {
                "ttl": [format_duration_seconds(info.ttl_seconds)],
                "shard": [1],
                "replica": [1],
                "precision": ["NS"],
                "rollups": [info.rollups],
            }
        )
    raise SqlRejected(f"unsupported statement: {stmt.kind}")
