"""Parsing the catalog statements the SQL endpoint accepts."""

from __future__ import annotations

import pytest

from heron.tsdb.ddl import Statement, looks_like_catalog_statement, parse_catalog_statement

VALID = [
    ("CREATE DATABASE example", Statement("create", "example")),
    ("create database if not exists example;", Statement("create", "example", if_not_exists=True)),
    ("CREATE DATABASE x WITH TTL '30d'", Statement("create", "x", ttl="30d")),
    ("CREATE DATABASE x WITH SHARD 2 TTL '7d' REPLICA 1", Statement("create", "x", ttl="7d")),
    ('CREATE DATABASE "my-db"', Statement("create", "my-db")),
    ("ALTER DATABASE x SET TTL '7d'", Statement("alter", "x", ttl="7d")),
    ("DROP DATABASE x", Statement("drop", "x")),
    ("DROP DATABASE IF EXISTS x", Statement("drop", "x", if_exists=True)),
    ("DROP TABLE cpu", Statement("drop_table", "cpu")),
    ('drop table if exists "node load";', Statement("drop_table", "node load", if_exists=True)),
    ("SHOW DATABASES", Statement("show_databases")),
    ("show tables;", Statement("show_tables")),
    ("DESCRIBE TABLE cpu", Statement("describe_table", "cpu")),
    ("DESC TABLE cpu", Statement("describe_table", "cpu")),
    ("DESCRIBE DATABASE public", Statement("describe_database", "public")),
]


@pytest.mark.parametrize(("sql", "expected"), VALID)
def test_it_parses_catalog_statements(sql: str, expected: Statement) -> None:
    assert looks_like_catalog_statement(sql)
    assert parse_catalog_statement(sql) == expected


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "CREATE TABLE t (a INT)",
        "DROP TABLE a, b",
        "CREATE DATABASE x WITH TTL",
        "CREATE DATABASE x; DROP DATABASE y",
        "ALTER DATABASE x SET SHARD 3",
    ],
)
def test_anything_else_is_not_a_catalog_statement(sql: str) -> None:
    assert parse_catalog_statement(sql) is None
