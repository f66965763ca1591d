"""Evaluating a parsed PromQL expression at every step of a query at once.

The evaluator walks the syntax tree of ``promql-parser`` once. Each node is evaluated
for all steps together (see :mod:`heron.promql.values`): a selector reads its series'
samples from DuckDB in one query (:mod:`heron.promql.series`) and aligns them to the steps
with one sorted search over all series; functions, operators and aggregations are array
operations over series and steps. Semantics follow Prometheus 2.x, the version the test
suite compares with: a range ``[t - range, t]`` and the lookback ``[t - 5m, t]`` both
include their start, a staleness marker ends a series until its next sample.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import promql_parser as pp

from heron.promql import aggregate, binary, functions
from heron.promql.errors import BadData, ExecutionError, QueryTimeout
from heron.promql.series import Matcher, SeriesReader
from heron.promql.values import (
    I64,
    Labels,
    Matrix,
    Scalar,
    String,
    Value,
    Vector,
    is_stale,
)

#: Prometheus's default lookback: a sample stands for its series this long.
DEFAULT_LOOKBACK_MS = 300_000
#: Step of a subquery written without one (Prometheus's default evaluation interval).
DEFAULT_SUBQUERY_STEP_MS = 60_000

# Prometheus 2.x's name for double_exponential_smoothing (renamed in 3.0); the parser knows only the new one.
pp.register_extra_functions(
    [pp.Function("holt_winters", [pp.ValueType.Matrix, pp.ValueType.Scalar, pp.ValueType.Scalar], pp.ValueType.Vector)]
)

_MATCH_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def parse(query: str) -> pp.Expr:
    """The syntax tree of ``query``; a syntax error is a 400 naming it."""
    if not query.strip():
        raise BadData("the query is empty")
    try:
        return pp.parse(query)
    except ValueError as exc:
        raise BadData(f"parse error: {exc}") from None


def duration_ms(delta: timedelta | None) -> int:
    if delta is None:
        return 0
    return round(delta.total_seconds() * 1000)


def _time_ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Options:
    """Limits and defaults of one evaluation."""

    lookback_ms: int = DEFAULT_LOOKBACK_MS
    subquery_step_ms: int = DEFAULT_SUBQUERY_STEP_MS
    deadline: float = float("inf")  # time.monotonic() by which the query must end
    timeout_seconds: float = 0.0


class Evaluator:
    """Evaluates expressions of one query: its start, end and step, its series reader."""

    def __init__(self, reader: SeriesReader, *, start_ms: int, end_ms: int, step_ms: int, options: Options) -> None:
        self.reader = reader
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.step_ms = step_ms
        self.options = options

    def steps(self) -> I64:
        return np.arange(self.start_ms, self.end_ms + 1, max(self.step_ms, 1), dtype=np.int64)

    def run(self, expr: pp.Expr) -> Value:
        return self.eval(expr, self.steps())

    def check_time(self) -> None:
        if time.monotonic() > self.options.deadline:
            raise QueryTimeout(f"the query ran longer than {self.options.timeout_seconds:g} s and was stopped")

    # -- dispatch ------------------------------------------------------------------------

    def eval(self, node: Any, ts: I64) -> Value:
        self.check_time()
        handler = _HANDLERS.get(type(node))
        if handler is None:
            raise BadData(f"unsupported expression: {node}")
        value = handler(self, node, ts)
        self.check_time()
        return value

    def _number(self, node: pp.NumberLiteral, ts: I64) -> Value:
        return Scalar(np.full(len(ts), float(node.val)))

    def _string(self, node: pp.StringLiteral, ts: I64) -> Value:
        return String(node.val)

    def _paren(self, node: pp.ParenExpr, ts: I64) -> Value:
        return self.eval(node.expr, ts)

    def _unary(self, node: pp.UnaryExpr, ts: I64) -> Value:
        inner = self.eval(node.expr, ts)
        if isinstance(inner, Scalar):
            return Scalar(-inner.values)
        if isinstance(inner, Vector):
            return Vector([_drop_name(lab) for lab in inner.labels], -inner.values, inner.present).merged()
        raise BadData("unary minus needs a scalar or an instant vector")

    def _binary(self, node: pp.BinaryExpr, ts: I64) -> Value:
        lhs = self.eval(node.lhs, ts)
        rhs = self.eval(node.rhs, ts)
        return binary.evaluate(str(node.op), lhs, rhs, node.modifier)

    def _aggregate(self, node: pp.AggregateExpr, ts: I64) -> Value:
        inner = self.eval(node.expr, ts)
        if not isinstance(inner, Vector):
            raise BadData(f"{node.op}() expects an instant vector")
        param = self.eval(node.param, ts) if node.param is not None else None
        modifier = node.modifier
        grouping: tuple[str, list[str]] | None = None
        if modifier is not None:
            kind = "by" if modifier.type == pp.AggModifierType.By else "without"
            grouping = (kind, list(modifier.labels))
        return aggregate.evaluate(str(node.op), inner, param, grouping)

    def _call(self, node: pp.Call, ts: I64) -> Value:
        return functions.call(self, node, ts)

    # -- selectors -----------------------------------------------------------------------

    def eval_times(self, at: pp.AtModifier | None, offset: timedelta | None, ts: I64) -> I64:
        """The time each step reads at: the step, or the ``@`` time, less the offset."""
        if at is not None:
            if at.type == pp.AtModifierType.Start:
                base = self.start_ms
            elif at.type == pp.AtModifierType.End:
                base = self.end_ms
            else:
                assert at.at is not None
                base = _time_ms(at.at)
            out: I64 = np.full(len(ts), base, dtype=np.int64)
        else:
            out = ts.copy()
        return out - duration_ms(offset)

    def _vector_selector(self, node: pp.VectorSelector, ts: I64) -> Value:
        return self.select_vector(node, ts)

    def select_vector(self, node: pp.VectorSelector, ts: I64) -> Vector:
        """Each series' latest sample within the lookback of each step (none if it is stale)."""
        eff = self.eval_times(node.at, node.offset, ts)
        lookback = self.options.lookback_ms
        sel = self.reader.select(matcher_groups(node), int(eff.min()) - lookback, int(eff.max()))
        n = len(sel.labels)
        if n == 0:
            return Vector.empty(len(ts))
        self.reader.check_cells(n, len(ts))
        idx = positions(sel.series, sel.times, n, eff, side="right") - 1
        safe = np.clip(idx, 0, max(len(sel.times) - 1, 0))
        rows = np.arange(n, dtype=np.int64)[:, None]
        found = (idx >= 0) & (sel.series[safe] == rows)
        times = sel.times[safe]
        values = sel.values[safe]
        present = found & (times >= eff[None, :] - lookback) & ~is_stale(values)
        return Vector(sel.labels, values, present, times).drop_empty()

    def _matrix_selector(self, node: pp.MatrixSelector, ts: I64) -> Value:
        return self.select_matrix(node, ts)

    def select_matrix(self, node: pp.MatrixSelector, ts: I64) -> Matrix:
        """Each series' samples in ``[t - range, t]`` of each step, staleness markers left out."""
        vs = node.vector_selector
        eff = self.eval_times(vs.at, vs.offset, ts)
        range_ms = duration_ms(node.range)
        sel = self.reader.select(matcher_groups(vs), int(eff.min()) - range_ms, int(eff.max()))
        self.reader.check_cells(len(sel.labels), len(ts))
        keep = ~is_stale(sel.values)
        series, times, values = sel.series[keep], sel.times[keep], sel.values[keep]
        return windows(sel.labels, series, times, values, eff, range_ms)

    def _subquery(self, node: pp.SubqueryExpr, ts: I64) -> Value:
        """Evaluate the inner expression at its own steps, then window the result per step."""
        eff = self.eval_times(node.at, node.offset, ts)
        range_ms = duration_ms(node.range)
        step = duration_ms(node.step) or self.options.subquery_step_ms
        low = int(eff.min()) - range_ms
        start = step * int(low / step)  # Go's integer division truncates toward zero
        if start < low:
            start += step
        # Each step is a sample of the subquery's result: counted before anything is allocated.
        self.reader.count(max(0, (int(eff.max()) - start) // step + 1))
        sub_ts = np.arange(start, int(eff.max()) + 1, step, dtype=np.int64)
        if len(sub_ts) == 0:
            sub_ts = np.array([start], dtype=np.int64)
        inner = self.eval(node.expr, sub_ts)
        if isinstance(inner, Scalar):
            inner = Vector([()], inner.values[None, :], np.ones((1, len(sub_ts)), dtype=bool))
        if not isinstance(inner, Vector):
            raise BadData("a subquery needs an instant vector expression")
        rows, cols = np.nonzero(inner.present)
        return windows(
            inner.labels,
            rows.astype(np.int64),
            sub_ts[cols],
            inner.values[rows, cols],
            eff,
            range_ms,
        )


def windows(labels: list[Labels], series: I64, times: I64, values: Any, eff: I64, range_ms: int) -> Matrix:
    """A :class:`Matrix` of samples sorted by series and time, windowed at ``eff``."""
    n = len(labels)
    starts = positions(series, times, n, eff - range_ms, side="left")
    ends = positions(series, times, n, eff, side="right")
    return Matrix(labels, series, times, values, starts, ends, eff, range_ms)


def positions(series: I64, times: I64, n: int, at: I64, *, side: str) -> I64:
    """For each series and step, where ``at`` falls among that series' samples (``n x T``).

    ``side="right"`` counts the samples at or before each time, ``"left"`` those before it,
    as ``searchsorted`` would per series. Steps are sorted, so each sample is placed among
    the steps instead (a search in a short array), the samples of each series are counted
    per step, and a running sum along the steps gives every position at once.
    """
    steps = len(at)
    if n == 0:
        return np.zeros((0, steps), dtype=np.int64)
    series_start = np.searchsorted(series, np.arange(n, dtype=np.int64))
    if len(times) == 0:
        return np.zeros((n, steps), dtype=np.int64)
    if steps > 1 and bool((np.diff(at) < 0).any()):
        out = np.empty((n, steps), dtype=np.int64)
        bounds = np.append(series_start, len(times))
        for i in range(n):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            out[i] = lo + np.searchsorted(times[lo:hi], at, side=side)  # type: ignore[call-overload]
        return out
    # The first step whose time counts this sample.
    first_step = np.searchsorted(at, times, side="left" if side == "right" else "right")
    per_step = np.bincount(series * (steps + 1) + first_step, minlength=n * (steps + 1)).reshape(n, steps + 1)
    counted: I64 = np.cumsum(per_step[:, :steps], axis=1)
    return counted + series_start[:, None]


def matcher_groups(node: pp.VectorSelector) -> list[list[Matcher]]:
    """The selector's matchers (one list per ``or`` alternative), the metric name included."""
    base = [Matcher("=", "__name__", node.name)] if node.name else []
    alternatives = node.matchers.or_matchers or [node.matchers.matchers]
    groups = []
    for alt in alternatives:
        groups.append(base + [Matcher(_MATCH_OPS[str(m.op)], m.name, m.value) for m in alt])
    return groups


def _drop_name(labels: Labels) -> Labels:
    return tuple(p for p in labels if p[0] != "__name__")


_HANDLERS: dict[type, Callable[[Evaluator, Any, I64], Value]] = {
    pp.NumberLiteral: Evaluator._number,
    pp.StringLiteral: Evaluator._string,
    pp.ParenExpr: Evaluator._paren,
    pp.UnaryExpr: Evaluator._unary,
    pp.BinaryExpr: Evaluator._binary,
    pp.AggregateExpr: Evaluator._aggregate,
    pp.Call: Evaluator._call,
    pp.VectorSelector: Evaluator._vector_selector,
    pp.MatrixSelector: Evaluator._matrix_selector,
    pp.SubqueryExpr: Evaluator._subquery,
}

__all__ = ["DEFAULT_LOOKBACK_MS", "Evaluator", "ExecutionError", "Options", "parse", "positions", "windows"]
