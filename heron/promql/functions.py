"""PromQL's functions on floats: math, clamping, time, labels, histograms, and the range functions.

Each works on all series and steps at once; Python loops only over series (label
functions) or histogram groups, never over samples.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
import promql_parser as pp

from heron.promql import windows
from heron.promql.errors import BadData, ExecutionError
from heron.promql.regex import compile_full
from heron.promql.values import F64, I64, NAME, Labels, Matrix, Scalar, Value, Vector

if TYPE_CHECKING:
    from heron.promql.engine import Evaluator

#: Label names Prometheus 2.x accepts as a destination (3.x also takes any UTF-8).
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

_MATH = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sgn": np.sign,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "deg": np.degrees,
    "rad": np.radians,
}
_OVER_TIME = frozenset(
    {
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "count_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "last_over_time",
        "present_over_time",
        "changes",
        "resets",
    }
)
_DATE = frozenset({"day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"})


def _drop_names(labels: list[Labels]) -> list[Labels]:
    return [tuple(p for p in lab if p[0] != NAME) for lab in labels]


def _with_values(vec: Vector, values: F64, *, keep_name: bool = False) -> Vector:
    labels = vec.labels if keep_name else _drop_names(vec.labels)
    return Vector(labels, values, vec.present).merged()


def _scalar_arg(ev: Evaluator, node: Any, ts: I64, name: str) -> F64:
    value = ev.eval(node, ts)
    if not isinstance(value, Scalar):
        raise BadData(f"{name}() expects a scalar argument")
    return value.values


def _vector_arg(ev: Evaluator, node: Any, ts: I64, name: str) -> Vector:
    value = ev.eval(node, ts)
    if not isinstance(value, Vector):
        raise BadData(f"{name}() expects an instant vector argument")
    return value


def _matrix_arg(ev: Evaluator, node: Any, ts: I64, name: str) -> Matrix:
    value = ev.eval(node, ts)
    if not isinstance(value, Matrix):
        raise BadData(f"{name}() expects a range vector argument")
    return value


def _string_arg(node: Any, name: str) -> str:
    if isinstance(node, pp.ParenExpr):
        return _string_arg(node.expr, name)
    if not isinstance(node, pp.StringLiteral):
        raise BadData(f"{name}() expects a string literal argument")
    return node.val


def call(ev: Evaluator, node: pp.Call, ts: I64) -> Value:
    name = node.func.name
    args = list(node.args)
    steps = len(ts)
    if name in _MATH:
        vec = _vector_arg(ev, args[0], ts, name)
        with np.errstate(all="ignore"):
            return _with_values(vec, _MATH[name](vec.values))
    if name in _OVER_TIME:
        return windows.over_time(name, _matrix_arg(ev, args[0], ts, name))
    if name in ("rate", "increase", "delta"):
        return windows.extrapolated(name, _matrix_arg(ev, args[0], ts, name))
    if name in ("irate", "idelta"):
        return windows.instant(name, _matrix_arg(ev, args[0], ts, name))
    if name == "quantile_over_time":
        q = _scalar_arg(ev, args[0], ts, name)
        m = _matrix_arg(ev, args[1], ts, name)
        values, has = windows.quantile_windows(q, m)
        return Vector(_drop_names(m.labels), values, has).merged().drop_empty()
    if name == "mad_over_time":
        return _mad_over_time(_matrix_arg(ev, args[0], ts, name))
    if name == "deriv":
        m = _matrix_arg(ev, args[0], ts, name)
        slope, _intercept, has = windows.regression(m, ts)  # the slope does not depend on where x starts
        return Vector(_drop_names(m.labels), slope, has).merged().drop_empty()
    if name == "predict_linear":
        m = _matrix_arg(ev, args[0], ts, name)
        horizon = _scalar_arg(ev, args[1], ts, name)
        slope, intercept, has = windows.regression(m, ts)
        return Vector(_drop_names(m.labels), slope * horizon[None, :] + intercept, has).merged().drop_empty()
    if name in ("holt_winters", "double_exponential_smoothing"):
        m = _matrix_arg(ev, args[0], ts, name)
        sf = float(_scalar_arg(ev, args[1], ts, name)[0])
        tf = float(_scalar_arg(ev, args[2], ts, name)[0])
        if not 0 < sf < 1:
            raise ExecutionError(f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:f}")
        if not 0 < tf < 1:
            raise ExecutionError(f"invalid trend factor. Expected: 0 < tf < 1, got: {tf:f}")
        return windows.smoothing(m, sf, tf)
    if name == "absent_over_time":
        m = _matrix_arg(ev, args[0], ts, name)
        has_any = (m.counts() > 0).any(axis=0) if len(m.labels) else np.zeros(steps, dtype=bool)
        return _absent(has_any, _absent_labels(args[0]))
    if name == "absent":
        vec = _vector_arg(ev, args[0], ts, name)
        has_any = vec.present.any(axis=0) if len(vec) else np.zeros(steps, dtype=bool)
        return _absent(has_any, _absent_labels(args[0]))
    if name == "time":
        return Scalar(ts / 1000.0)
    if name == "pi":
        return Scalar(np.full(steps, np.pi))
    if name == "vector":
        s = _scalar_arg(ev, args[0], ts, name)
        return Vector([()], s[None, :].copy(), np.ones((1, steps), dtype=bool))
    if name == "scalar":
        vec = _vector_arg(ev, args[0], ts, name)
        count = vec.present.sum(axis=0)
        value = np.where(vec.present, vec.values, 0.0).sum(axis=0) if len(vec) else np.zeros(steps)
        return Scalar(np.where(count == 1, value, np.nan))
    if name == "timestamp":
        return _timestamp(ev, args[0], ts)
    if name in _DATE:
        if args:
            vec = _vector_arg(ev, args[0], ts, name)
        else:
            vec = Vector([()], (ts / 1000.0)[None, :], np.ones((1, steps), dtype=bool))
        return _with_values(vec, _date_part(name, vec.values))
    if name in ("clamp", "clamp_min", "clamp_max"):
        vec = _vector_arg(ev, args[0], ts, name)
        bounds = [_scalar_arg(ev, a, ts, name)[None, :] for a in args[1:]]
        with np.errstate(invalid="ignore"):
            if name == "clamp_min":
                values = np.maximum(bounds[0], vec.values)
            elif name == "clamp_max":
                values = np.minimum(bounds[0], vec.values)
            else:
                low, high = bounds
                values = np.maximum(low, np.minimum(high, vec.values))
                vec = Vector(vec.labels, vec.values, vec.present & ~(high < low))
        return _with_values(vec, values).drop_empty()
    if name == "round":
        vec = _vector_arg(ev, args[0], ts, name)
        nearest = _scalar_arg(ev, args[1], ts, name)[None, :] if len(args) > 1 else np.ones((1, steps))
        with np.errstate(all="ignore"):
            inverse = 1.0 / nearest
            return _with_values(vec, np.floor(vec.values * inverse + 0.5) / inverse)
    if name in ("sort", "sort_desc"):
        vec = _vector_arg(ev, args[0], ts, name)
        out = Vector(vec.labels, vec.values, vec.present)
        out.order = "asc" if name == "sort" else "desc"
        return out
    if name == "label_replace":
        return _label_replace(ev, args, ts)
    if name == "label_join":
        return _label_join(ev, args, ts)
    if name == "histogram_quantile":
        q = _scalar_arg(ev, args[0], ts, name)
        return _histogram_quantile(q, _vector_arg(ev, args[1], ts, name))
    raise BadData(
        f"function {name}() is not supported by Heron (native histograms and Prometheus 3 additions are not;"
        " see docs/promql.md)"
    )


def _shift_times(m: Matrix, first_times: Any) -> Matrix:
    """Windows whose sample times are relative to their window's first sample.

    Windows share samples, so the shift is applied per (window, sample) pair: each pair
    becomes a sample of its own in a matrix whose windows no longer overlap.
    """
    window, index = windows.expand(m)
    shifted = m.times[index] - first_times.reshape(-1)[window]
    counts = m.counts().reshape(-1)
    ends = np.cumsum(counts)
    starts = ends - counts
    return Matrix(
        m.labels,
        m.series[index],
        shifted.astype(np.int64),
        m.values[index],
        starts.reshape(m.starts.shape),
        ends.reshape(m.starts.shape),
        m.eval_ms,
        m.range_ms,
    )


def _mad_over_time(m: Matrix) -> Vector:
    """Median absolute deviation of each window's values from their median."""
    steps = m.starts.shape[1]
    half = np.full(steps, 0.5)
    median, has = windows.quantile_windows(half, m)
    window, index = windows.expand(m)
    deviations = np.abs(m.values[index] - median.reshape(-1)[window])
    shifted = _shift_times(m, np.zeros(m.starts.shape, dtype=np.int64))
    spread = Matrix(
        shifted.labels, shifted.series, shifted.times, deviations, shifted.starts, shifted.ends, m.eval_ms, m.range_ms
    )
    mad, _ = windows.quantile_windows(half, spread)
    return Vector(_drop_names(m.labels), mad, has).merged().drop_empty()


def _absent_labels(node: Any) -> Labels:
    """Labels of ``absent()``'s answer: the selector's equality matchers, once each."""
    if isinstance(node, pp.MatrixSelector):
        node = node.vector_selector
    if not isinstance(node, pp.VectorSelector):
        return ()
    out: dict[str, str] = {}
    dropped: set[str] = set()
    for m in node.matchers.matchers:
        if m.name == NAME:
            continue
        if str(m.op) == "MatchOp.Equal" and m.name not in out and m.name not in dropped:
            out[m.name] = m.value
        else:
            out.pop(m.name, None)
            dropped.add(m.name)
    return tuple(sorted((k, v) for k, v in out.items() if v != ""))


def _absent(has_any: Any, labels: Labels) -> Vector:
    present = ~np.asarray(has_any, dtype=bool)
    return Vector([labels], np.ones((1, len(present))), present[None, :]).drop_empty()


def _timestamp(ev: Evaluator, node: Any, ts: I64) -> Vector:
    inner = node
    while isinstance(inner, pp.ParenExpr):
        inner = inner.expr
    if isinstance(inner, pp.VectorSelector):
        vec = ev.select_vector(inner, ts)
        assert vec.times is not None
        return _with_values(vec, vec.times / 1000.0)
    vec = _vector_arg(ev, node, ts, "timestamp")
    return _with_values(vec, np.broadcast_to(ts / 1000.0, vec.values.shape).copy())


def _date_part(name: str, values: F64) -> F64:
    finite = np.isfinite(values)
    seconds = np.where(finite, values, 0).astype(np.int64)
    stamp = seconds.astype("datetime64[s]")
    month_start = stamp.astype("datetime64[M]")
    if name == "year":
        out = stamp.astype("datetime64[Y]").astype(np.int64) + 1970
    elif name == "month":
        out = month_start.astype(np.int64) % 12 + 1
    elif name == "day_of_month":
        out = (stamp.astype("datetime64[D]") - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    elif name == "day_of_year":
        year_start = stamp.astype("datetime64[Y]").astype("datetime64[D]")
        out = (stamp.astype("datetime64[D]") - year_start).astype(np.int64) + 1
    elif name == "days_in_month":
        out = ((month_start + 1).astype("datetime64[D]") - month_start.astype("datetime64[D]")).astype(np.int64)
    elif name == "day_of_week":
        out = (np.floor_divide(seconds, 86400) + 4) % 7
    elif name == "hour":
        out = np.floor_divide(seconds, 3600) % 24
    else:
        out = np.floor_divide(seconds, 60) % 60
    return np.where(finite, out.astype(np.float64), np.nan)


_GO_TEMPLATE = re.compile(r"\$(?:\$|\{([^}]*)\}|([A-Za-z0-9_]+))")


def expand_template(template: str, match: re.Match[str]) -> str:
    """Go's ``regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; unknown groups are empty."""

    def group(ref: str) -> str:
        if ref.isdigit():
            index = int(ref)
            return (match.group(index) or "") if index <= (match.re.groups) else ""
        try:
            return match.group(ref) or ""
        except IndexError:
            return ""

    out: list[str] = []
    pos = 0
    for m in _GO_TEMPLATE.finditer(template):
        out.append(template[pos : m.start()])
        pos = m.end()
        if m.group(0) == "$$":
            out.append("$")
        elif m.group(1) is not None:
            ref = m.group(1)
            if re.fullmatch(r"[A-Za-z0-9_]+", ref):
                out.append(group(ref))
            else:
                out.append(m.group(0))
        else:
            out.append(group(m.group(2)))
    out.append(template[pos:])
    return "".join(out)


def _compile(pattern: str, fn: str) -> re.Pattern[str]:
    try:
        return compile_full(pattern)
    except re.error as exc:
        raise ExecutionError(f"invalid regular expression in {fn}(): {pattern}: {exc}") from None


def _label_replace(ev: Evaluator, args: list[Any], ts: I64) -> Vector:
    vec = _vector_arg(ev, args[0], ts, "label_replace")
    dst, repl, src, pattern = (_string_arg(a, "label_replace") for a in args[1:5])
    regex = _compile(pattern, "label_replace")
    if not LABEL_NAME.match(dst):
        raise ExecutionError(f"invalid destination label name in label_replace(): {dst}")
    labels: list[Labels] = []
    for lab in vec.labels:
        current = dict(lab)
        found = regex.match(current.get(src, ""))
        if found is not None:
            value = expand_template(repl, found)
            current.pop(dst, None)
            if value:
                current[dst] = value
        labels.append(tuple(sorted(current.items())))
    return Vector(labels, vec.values, vec.present).merged()


def _label_join(ev: Evaluator, args: list[Any], ts: I64) -> Vector:
    vec = _vector_arg(ev, args[0], ts, "label_join")
    dst = _string_arg(args[1], "label_join")
    sep = _string_arg(args[2], "label_join")
    sources = [_string_arg(a, "label_join") for a in args[3:]]
    if not LABEL_NAME.match(dst):
        raise ExecutionError(f"invalid destination label name in label_join(): {dst}")
    for src in sources:
        if not LABEL_NAME.match(src):
            raise ExecutionError(f"invalid source label name in label_join(): {src}")
    labels: list[Labels] = []
    for lab in vec.labels:
        current = dict(lab)
        value = sep.join(current.get(s, "") for s in sources)
        current.pop(dst, None)
        if value:
            current[dst] = value
        labels.append(tuple(sorted(current.items())))
    return Vector(labels, vec.values, vec.present).merged()


def _le(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def _histogram_quantile(q: F64, vec: Vector) -> Vector:
    """``histogram_quantile`` over classic buckets (series with an ``le`` label)."""
    steps = vec.values.shape[1]
    groups: dict[Labels, list[tuple[float, int]]] = {}
    for i, lab in enumerate(vec.labels):
        pairs = dict(lab)
        bound = _le(pairs.pop("le", "")) if "le" in pairs else None
        if bound is None:
            continue
        groups.setdefault(tuple(sorted(pairs.items())), []).append((bound, i))
    out_labels: list[Labels] = []
    out_values: list[F64] = []
    out_present: list[Any] = []
    for key, buckets in groups.items():
        bounds = np.array(sorted({b for b, _ in buckets}))
        rows = np.array([i for _, i in buckets], dtype=np.int64)
        slot = np.searchsorted(bounds, np.array([b for b, _ in buckets]))
        counts = np.zeros((len(bounds), steps))
        have = np.zeros((len(bounds), steps), dtype=bool)
        np.add.at(counts, slot, np.where(vec.present[rows], vec.values[rows], 0.0))
        np.logical_or.at(have, slot, vec.present[rows])
        present = have.any(axis=0)
        result = np.full(steps, np.nan)
        patterns, which = np.unique(have.T, axis=0, return_inverse=True)
        for p, pattern in enumerate(patterns):
            cols = np.flatnonzero(which.reshape(-1) == p)
            if not pattern.any():
                continue
            result[cols] = _bucket_quantile(q[cols], bounds[pattern], counts[pattern][:, cols])
        out_labels.append(tuple(p for p in key if p[0] != NAME))
        out_values.append(result)
        out_present.append(present)
    if not out_labels:
        return Vector.empty(steps)
    return Vector(out_labels, np.array(out_values), np.array(out_present)).merged().drop_empty()


def _bucket_quantile(q: F64, bounds: F64, counts: F64) -> F64:
    """Prometheus's ``bucketQuantile`` for every step of one group (buckets x steps)."""
    steps = counts.shape[1]
    out = np.full(steps, np.nan)
    with np.errstate(all="ignore"):
        if len(bounds) >= 2 and np.isposinf(bounds[-1]):
            counts = np.maximum.accumulate(counts, axis=0)
            total = counts[-1]
            rank = q * total
            reached = counts[:-1] >= rank[None, :]
            b = np.where(reached.any(axis=0), reached.argmax(axis=0), len(bounds) - 1)
            cols = np.arange(steps)
            start = np.where(b > 0, bounds[np.maximum(b - 1, 0)], 0.0)
            end = bounds[b]
            below = np.where(b > 0, counts[np.maximum(b - 1, 0), cols], 0.0)
            inside = counts[b, cols] - below
            value = start + (end - start) * ((rank - below) / inside)
            value = np.where(b == len(bounds) - 1, bounds[-2], value)
            value = np.where((b == 0) & (bounds[0] <= 0), bounds[0], value)
            out = np.where(total == 0, np.nan, value)
    out = np.where(q < 0, -np.inf, np.where(q > 1, np.inf, out))
    result: F64 = np.where(np.isnan(q), np.nan, out)
    return result
