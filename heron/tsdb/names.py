"""How tenants, databases, tables and columns are named inside DuckDB."""

from __future__ import annotations

import re

from heron.core.errors import BadRequest

#: Tenant and database names: what CnosDB accepts, and safe to embed in a schema name.
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,62}$")

#: Prefix of the metric store's own tables (heron.tsdb.metrics); no table or metric may use it.
INTERNAL_PREFIX = "_heron_"

#: Schema that holds Heron's SQL macros (time_window, date_bin, first/last); never tables.
MACRO_SCHEMA = "main"


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it is a valid tenant or database name, else explain the rule."""
    if not NAME_PATTERN.match(name):
        raise BadRequest(
            f"invalid {kind} name '{name}': use 1-63 letters, digits, '_' or '-', starting with a letter or '_'"
        )
    return name


def schema_for(tenant: str, database: str) -> str:
    """The DuckDB schema holding one database's tables: ``tenant/database``."""
    return f"{tenant}/{database}"


def quote_ident(name: str) -> str:
    """Quote any string as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"
