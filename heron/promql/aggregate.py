"""Aggregation operators with ``by`` and ``without``, over every step at once.

Series are ordered by group once; a sum, count, min or max is then one ``reduceat`` over
the rows of each group for all steps. Operators that rank (topk, bottomk, limitk,
quantile) sort the present samples by step, group and value with one ``lexsort``.
"""

from __future__ import annotations

import numpy as np

from heron.promql.errors import BadData
from heron.promql.values import F64, I64, NAME, Labels, Mask, Scalar, String, Value, Vector

SIMPLE = frozenset({"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar"})


def group_labels(labels: Labels, grouping: tuple[str, list[str]] | None) -> Labels:
    if grouping is None:
        return ()
    kind, names = grouping
    if kind == "by":
        wanted = set(names)
        return tuple(p for p in labels if p[0] in wanted)
    dropped = set(names) | {NAME}
    return tuple(p for p in labels if p[0] not in dropped)


def evaluate(op: str, vec: Vector, param: Value | None, grouping: tuple[str, list[str]] | None) -> Vector:
    steps = vec.values.shape[1]
    keys = [group_labels(lab, grouping) for lab in vec.labels]
    index: dict[Labels, int] = {}
    gid = np.array([index.setdefault(k, len(index)) for k in keys], dtype=np.int64)
    groups = list(index)
    if op in SIMPLE:
        if not len(vec):
            return Vector.empty(steps)
        return _simple(op, vec, gid, groups)
    if op in ("topk", "bottomk", "limitk"):
        return _select(op, vec, gid, _scalar(param, op))
    if op == "quantile":
        return _quantile(vec, gid, groups, _scalar(param, op))
    if op == "count_values":
        if not isinstance(param, String):
            raise BadData("count_values() expects a string label name as its first argument")
        return _count_values(vec, grouping, param.value)
    if op == "limit_ratio":
        raise BadData("limit_ratio() is not supported")
    raise BadData(f"unknown aggregation {op}")


def _scalar(param: Value | None, op: str) -> F64:
    if not isinstance(param, Scalar):
        raise BadData(f"{op}() expects a scalar as its first argument")
    return param.values


def _simple(op: str, vec: Vector, gid: I64, groups: list[Labels]) -> Vector:
    order = np.argsort(gid, kind="stable")
    starts = np.searchsorted(gid[order], np.arange(len(groups)))
    present = vec.present[order]
    values = vec.values[order]
    count = np.add.reduceat(present.astype(np.int64), starts, axis=0)
    any_present = count > 0
    with np.errstate(all="ignore"):
        if op == "count":
            out = count.astype(np.float64)
        elif op == "group":
            out = np.ones(count.shape)
        elif op in ("min", "max"):
            fill = np.where(present, values, np.nan)
            out = (np.fmin if op == "min" else np.fmax).reduceat(fill, starts, axis=0)
        elif op == "sum":
            out = np.add.reduceat(np.where(present, values, 0.0), starts, axis=0)
        elif op == "avg":
            rows_group = gid[order]
            plain = np.add.reduceat(np.where(present, values, 0.0), starts, axis=0) / count
            # Where the sum overflows, each value divided first (Prometheus switches to a running mean).
            scaled = np.where(present, values / np.maximum(count, 1)[rows_group], 0.0)
            shares = np.add.reduceat(scaled, starts, axis=0)
            out = np.where(np.isinf(plain) & np.isfinite(shares), shares, plain)
        else:
            rows_group = gid[order]
            # Deviations from one of the group's own values, so equal values give exactly 0.
            reference = np.fmax.reduceat(np.where(present, values, np.nan), starts, axis=0)
            shifted = np.where(present, values - reference[rows_group], 0.0)
            mean = np.add.reduceat(shifted, starts, axis=0) / count
            dev = np.where(present, shifted - mean[rows_group], 0.0)
            var = np.add.reduceat(dev * dev, starts, axis=0) / count
            out = var if op == "stdvar" else np.sqrt(var)
    return Vector(groups, out, any_present).drop_empty()


def _ranked(vec: Vector, gid: I64, key: F64) -> tuple[I64, I64, I64]:
    """Present samples as (row, step, rank within its step and group), ranked by ``key``."""
    rows, cols = np.nonzero(vec.present)
    g = gid[rows]
    order = np.lexsort((rows, key[rows, cols], g, cols))
    rows, cols, g = rows[order], cols[order], g[order]
    n = len(rows)
    new_run = np.ones(n, dtype=bool)
    if n:
        new_run[1:] = (cols[1:] != cols[:-1]) | (g[1:] != g[:-1])
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0)) if n else np.zeros(0, dtype=np.int64)
    return rows, cols, np.arange(n) - run_start


def _select(op: str, vec: Vector, gid: I64, k: F64) -> Vector:
    steps = vec.values.shape[1]
    if not len(vec):
        return Vector.empty(steps)
    with np.errstate(invalid="ignore"):
        limit = np.where(np.isfinite(k), np.trunc(k), np.where(k > 0, np.inf, 0))
    if op == "limitk":
        key = np.broadcast_to(np.arange(len(vec), dtype=np.float64)[:, None], vec.values.shape)
    elif op == "topk":
        key = np.where(np.isnan(vec.values), np.inf, -vec.values)
    else:
        key = np.where(np.isnan(vec.values), np.inf, vec.values)
    rows, cols, rank = _ranked(vec, gid, np.asarray(key, dtype=np.float64))
    chosen = rank < limit[cols]
    present = np.zeros_like(vec.present)
    present[rows[chosen], cols[chosen]] = True
    out = Vector(vec.labels, vec.values, present).drop_empty()
    out.order = {"topk": "desc", "bottomk": "asc"}.get(op, "")
    return out


def _quantile(vec: Vector, gid: I64, groups: list[Labels], q: F64) -> Vector:
    steps = vec.values.shape[1]
    if not len(vec):
        return Vector.empty(steps)
    # NaN sorts first, as Prometheus's sort of the group's values puts it.
    key = np.where(np.isnan(vec.values), -np.inf, vec.values)
    nan_last = np.where(np.isnan(vec.values), 0.0, 1.0)
    rows, cols = np.nonzero(vec.present)
    g = gid[rows]
    order = np.lexsort((key[rows, cols], nan_last[rows, cols], g, cols))
    rows, cols, g = rows[order], cols[order], g[order]
    sorted_values = vec.values[rows, cols]
    n = len(rows)
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = (cols[1:] != cols[:-1]) | (g[1:] != g[:-1])
    run_starts = np.flatnonzero(new_run)
    run_len = np.diff(np.append(run_starts, n))
    run_g, run_c = g[run_starts], cols[run_starts]
    qs = q[run_c]
    with np.errstate(invalid="ignore"):
        rank = qs * (run_len - 1)
        lower = np.clip(np.floor(np.nan_to_num(rank)), 0, None).astype(np.int64)
        upper = np.minimum(run_len - 1, lower + 1)
        weight = rank - np.floor(rank)
        low_v = sorted_values[run_starts + np.minimum(lower, run_len - 1)]
        up_v = sorted_values[run_starts + upper]
        result = low_v * (1 - weight) + up_v * weight
    result = np.where(qs < 0, -np.inf, np.where(qs > 1, np.inf, result))
    result = np.where(np.isnan(qs), np.nan, result)
    out = np.zeros((len(groups), steps))
    present = np.zeros((len(groups), steps), dtype=bool)
    out[run_g, run_c] = result
    present[run_g, run_c] = True
    return Vector(groups, out, present).drop_empty()


def format_value(value: float) -> str:
    """A float as Go's ``strconv.FormatFloat(v, 'f', -1, 64)`` writes it (Prometheus's output)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text or "E" in text:
        text = np.format_float_positional(value, unique=True, trim="-")
    elif text.endswith(".0"):
        text = text[:-2]
    return text


def _count_values(vec: Vector, grouping: tuple[str, list[str]] | None, label: str) -> Vector:
    """Series per distinct value: the value is set as ``label`` before grouping, as Prometheus does."""
    steps = vec.values.shape[1]
    rows, cols = np.nonzero(vec.present)
    if not len(rows):
        return Vector.empty(steps)
    distinct, value_code = np.unique(vec.values[rows, cols], return_inverse=True)
    texts = [format_value(float(v)) for v in distinct.tolist()]
    pairs, pair_code = np.unique(rows * len(distinct) + value_code.reshape(-1), return_inverse=True)
    kind, names = grouping if grouping is not None else ("by", [])
    with_label = (kind, [*names, label]) if kind == "by" else (kind, names)
    index: dict[Labels, int] = {}
    group_of_pair = []
    for p in pairs.tolist():
        row, code = divmod(p, len(distinct))
        labels = dict(vec.labels[row])
        labels[label] = texts[code]
        key = group_labels(tuple(sorted(labels.items())), with_label)
        group_of_pair.append(index.setdefault(key, len(index)))
    counts = np.zeros((len(index), steps))
    np.add.at(counts, (np.array(group_of_pair, dtype=np.int64)[pair_code.reshape(-1)], cols), 1.0)
    present: Mask = counts > 0
    return Vector(list(index), counts, present)
