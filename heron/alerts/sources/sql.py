"""Query rules: every row an SQL query returns (after its threshold) is one breached alert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from heron.alerts.rules import RuleDef
from heron.alerts.sources import Observation

#: Most alerts one SQL rule may hold at once; rows beyond are ignored and the status says so.
MAX_ALERTS_PER_RULE = 5000


#: Runs a checked read-only query: (tenant, database, statement) -> rows as dicts.
RunSql = Callable[[str, str, str], list[dict[str, Any]]]


def _number(value: Any) -> float | None:
    """A row's value as a float: integers, floats and DECIMAL (DuckDB's type for ``1.5`` and
    for sums of decimals); None for anything else (a bool is not a number here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    return None


def _label_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


def _row_value(value: Any) -> Any:
    """What templates see of a column: numbers and booleans as they are (DECIMAL as a float)."""
    if isinstance(value, Decimal):
        return float(value)
    return value if isinstance(value, int | float | bool) else _label_text(value)


class SqlSource:
    """Query rules: every row the query returns (after the threshold) is a breached alert."""

    def __init__(self, run_sql: RunSql) -> None:
        self._run_sql = run_sql
        self.truncated: set[int] = set()

    def observe(self, rule: RuleDef, now: float) -> list[Observation]:
        spec = rule.sql
        assert spec is not None
        rows = self._run_sql(spec.tenant, spec.database, spec.statement())
        if len(rows) > MAX_ALERTS_PER_RULE:
            self.truncated.add(rule.id)
            rows = rows[:MAX_ALERTS_PER_RULE]
        else:
            self.truncated.discard(rule.id)
        out = []
        for row in rows:
            if spec.label_columns is not None:
                label_cols = [c for c in spec.label_columns if c in row]
            else:
                label_cols = [c for c, v in row.items() if isinstance(v, str) and c != spec.value_column]
            labels = {c: _label_text(row.get(c)) for c in label_cols}
            value = _number(row.get(spec.value_column))
            if value is None and row.get(spec.value_column) is None:
                value = next((n for n in map(_number, row.values()) if n is not None), None)
            shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
            message = f"{rule.name} {{{shown}}}" + (f" = {value:g}" if value is not None else "")
            out.append(
                Observation(
                    key="sql:" + "\x1f".join(f"{k}={labels[k]}" for k in sorted(labels)),
                    labels=labels,
                    breached=True,
                    value=value,
                    values={spec.value_column: value} if value is not None else {},
                    row={k: _row_value(v) for k, v in row.items()},
                    message=message,
                )
            )
        return out
