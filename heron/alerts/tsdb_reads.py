"""What alert rules read from the TSDB: query rules through the SQL sandbox, transfer quotas.

Query rules run exactly like ``POST /api/v1/sql``: one checked read-only statement in the
rule's database, with the server's time and row limits. Transfer quotas sum the positive
steps of each server's byte counters in ``server_status`` since the cycle's start; a counter
that went down (the machine rebooted) counts its new value.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb

from heron.core.errors import QueryFailed
from heron.meta.namespaces import Namespaces
from heron.tsdb.names import quote_ident, schema_for
from heron.tsdb.sandbox import run_select

#: Most rows a query rule may return (each row is one alert at most).
MAX_RULE_ROWS = 10_000


class TsdbReads:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        namespaces: Namespaces,
        table_names: Callable[[str], frozenset[str]],
        *,
        sync: Callable[[], None],
        timeout_seconds: float,
        status_schema: str,
        status_table: str,
    ) -> None:
        self._con = con
        self._namespaces = namespaces
        self._tables = table_names
        self._sync = sync
        self._timeout = timeout_seconds
        self._status_schema = status_schema
        self._status_table = status_table

    def run(self, tenant: str, database: str, statement: str, *, max_rows: int = MAX_RULE_ROWS) -> list[dict[str, Any]]:
        self._namespaces.get(tenant, database)
        schema = schema_for(tenant, database)
        stream = run_select(
            self._con, schema, statement, timeout_seconds=self._timeout, max_rows=max_rows, tables=self._tables(schema)
        )
        try:
            rows: list[dict[str, Any]] = []
            for batch in stream:
                rows.extend(batch.to_pylist())
            return rows
        finally:
            stream.close()

    def check(self, tenant: str, database: str, statement: str) -> None:
        """Compile ``statement`` against the database now: it must pass the sandbox and plan.

        Acknowledged writes are applied first, so a table written just before the rule exists.
        """
        self._sync()
        self.run(tenant, database, f"SELECT * FROM ({statement}) AS heron_check LIMIT 0", max_rows=1)

    def transfer_since(self, start: datetime) -> dict[int, tuple[float, float]]:
        schema = self._status_schema
        if self._status_table not in self._tables(schema):
            return {}
        table = f"{quote_ident(schema)}.{quote_ident(self._status_table)}"
        sql = f"""
            SELECT server_id,
                   SUM(CASE WHEN d_in < 0 THEN net_in_transfer ELSE d_in END),
                   SUM(CASE WHEN d_out < 0 THEN net_out_transfer ELSE d_out END)
            FROM (
                SELECT server_id, net_in_transfer, net_out_transfer,
                       net_in_transfer - LAG(net_in_transfer) OVER w AS d_in,
                       net_out_transfer - LAG(net_out_transfer) OVER w AS d_out
                FROM {table} WHERE time >= ?
                WINDOW w AS (PARTITION BY server_id ORDER BY time)
            ) GROUP BY server_id
        """
        cur = self._con.cursor()
        try:
            rows = cur.execute(sql, [start.astimezone(UTC).replace(tzinfo=None)]).fetchall()
        except duckdb.Error as exc:
            raise QueryFailed(str(exc).split("\n")[0]) from exc
        finally:
            cur.close()
        out = {}
        for server_id, moved_in, moved_out in rows:
            try:
                out[int(server_id)] = (float(moved_in or 0), float(moved_out or 0))
            except (TypeError, ValueError):
                continue
        return out
