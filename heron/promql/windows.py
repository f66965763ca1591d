"""Functions of range vectors (``rate``, ``*_over_time``, ``deriv`` ...), for every window at once.

A :class:`~heron.promql.values.Matrix` gives each series and step a slice of one sorted
sample array. Sums, minima and maxima over every slice are one ``ufunc.reduceat`` over
interleaved start and end indices; counts of changes and resets are differences of one
cumulative sum; functions that need a window's samples together (quantiles, standard
deviation, regression) expand the slices into one array tagged with its window number and
work on that. Formulas are Prometheus 2.x's (``promql/functions.go``), so answers agree
to its float tolerance.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from heron.promql.values import F64, I64, Mask, Matrix, Vector

Reducer = Callable[[Matrix], tuple[F64, Mask]]


def _flat(m: Matrix) -> tuple[I64, I64]:
    return m.starts.reshape(-1), m.ends.reshape(-1)


def reduce_windows(ufunc: np.ufunc, values: F64, m: Matrix) -> F64:
    """``ufunc`` over each window's values (garbage where a window is empty: mask it)."""
    starts, ends = _flat(m)
    if not len(starts):
        return np.zeros(m.starts.shape)
    extended = np.append(values, 0.0)
    idx = np.empty(2 * len(starts), dtype=np.int64)
    idx[0::2] = starts
    idx[1::2] = ends
    out = ufunc.reduceat(extended, idx)[0::2]
    result: F64 = out.reshape(m.starts.shape)
    return result


def expand(m: Matrix, first: int = 0) -> tuple[I64, I64]:
    """Every (window, sample) pair: the flat window number and the sample's index.

    ``first`` skips that many samples at the start of each window (1 for pairs with the
    sample before).
    """
    starts, ends = _flat(m)
    starts = starts + first
    lengths = np.maximum(ends - starts, 0)
    total = int(lengths.sum())
    window = np.repeat(np.arange(len(starts), dtype=np.int64), lengths)
    offsets = np.cumsum(lengths) - lengths
    index = starts[window] + (np.arange(total, dtype=np.int64) - offsets[window])
    return window, index


def _sum_by_window(window: I64, weights: F64, m: Matrix) -> F64:
    out = np.bincount(window, weights=weights, minlength=m.starts.size).astype(np.float64)
    result: F64 = out.reshape(m.starts.shape)
    return result


def _vector(m: Matrix, values: F64, present: Mask, *, keep_name: bool = False) -> Vector:
    labels = m.labels if keep_name else [tuple(p for p in lab if p[0] != "__name__") for lab in m.labels]
    return Vector(labels, values, present).merged().drop_empty()


def over_time(name: str, m: Matrix) -> Vector:
    """The ``<aggregation>_over_time`` functions, ``changes`` and ``resets``."""
    count = m.counts()
    has = count > 0
    v = m.values
    with np.errstate(all="ignore"):
        if name == "count_over_time":
            return _vector(m, count.astype(np.float64), has)
        if name == "present_over_time":
            return _vector(m, np.ones(count.shape), has)
        if name == "last_over_time":
            last = v[np.maximum(m.ends - 1, 0)] if len(v) else np.zeros(count.shape)
            return _vector(m, last, has, keep_name=True)
        if name == "sum_over_time":
            return _vector(m, reduce_windows(np.add, v, m), has)
        if name == "avg_over_time":
            plain = reduce_windows(np.add, v, m) / count
            # Where the sum overflows, each value divided first (Prometheus switches to a running mean).
            window, index = expand(m)
            shares = _sum_by_window(window, v[index] / count.reshape(-1)[window], m)
            return _vector(m, np.where(np.isinf(plain) & np.isfinite(shares), shares, plain), has)
        if name == "min_over_time":
            return _vector(m, reduce_windows(np.fmin, v, m), has)
        if name == "max_over_time":
            return _vector(m, reduce_windows(np.fmax, v, m), has)
        if name in ("stddev_over_time", "stdvar_over_time"):
            # Deviations from one of the window's own values, so equal values give exactly 0.
            reference = reduce_windows(np.fmax, v, m).reshape(-1)
            window, index = expand(m)
            shifted = v[index] - reference[window]
            mean = _sum_by_window(window, shifted, m) / count
            dev = shifted - mean.reshape(-1)[window]
            var = _sum_by_window(window, dev * dev, m) / count
            return _vector(m, var if name == "stdvar_over_time" else np.sqrt(var), has)
        if name in ("changes", "resets"):
            changed = np.zeros(len(v), dtype=np.int64)
            if len(v) > 1:
                same_series = m.series[1:] == m.series[:-1]
                if name == "changes":
                    diff = (v[1:] != v[:-1]) & ~(np.isnan(v[1:]) & np.isnan(v[:-1]))
                else:
                    diff = v[1:] < v[:-1]
                changed[1:] = diff & same_series
            total = np.concatenate([[0], np.cumsum(changed)])
            first = np.minimum(m.starts + 1, m.ends)
            out = (total[m.ends] - total[first]).astype(np.float64)
            return _vector(m, out, has)
    raise ValueError(name)


def quantile_windows(q: F64, m: Matrix) -> tuple[F64, Mask]:
    """Prometheus's ``quantile`` of each window's values, ``q`` per step."""
    count = m.counts()
    has = count > 0
    window, index = expand(m)
    values = m.values[index]
    order = np.lexsort((np.where(np.isnan(values), -np.inf, values), ~np.isnan(values), window))
    sorted_values = values[order]
    flat_counts = count.reshape(-1)
    offsets = np.cumsum(flat_counts) - flat_counts
    qs = np.broadcast_to(q[None, :], m.starts.shape).reshape(-1)
    with np.errstate(invalid="ignore"):
        rank = qs * (flat_counts - 1)
        lower = np.clip(np.floor(np.nan_to_num(rank)), 0, None).astype(np.int64)
        lower = np.minimum(lower, np.maximum(flat_counts - 1, 0))
        upper = np.minimum(np.maximum(flat_counts - 1, 0), lower + 1)
        weight = rank - np.floor(rank)
        if len(sorted_values):
            low_v = sorted_values[np.minimum(offsets + lower, len(sorted_values) - 1)]
            up_v = sorted_values[np.minimum(offsets + upper, len(sorted_values) - 1)]
        else:
            low_v = up_v = np.zeros(len(flat_counts))
        result = low_v * (1 - weight) + up_v * weight
    result = np.where(qs < 0, -np.inf, np.where(qs > 1, np.inf, result))
    result = np.where(np.isnan(qs), np.nan, result)
    return result.reshape(m.starts.shape), has


def extrapolated(name: str, m: Matrix) -> Vector:
    """``rate``, ``increase`` and ``delta``: Prometheus's extrapolation to the window's edges.

    Computed only for the windows with two samples or more (a long range query over a
    short history has many empty ones).
    """
    count = m.counts()
    has = count >= 2
    out = np.zeros(count.shape)
    v, t = m.values, m.times
    which = np.flatnonzero(has.reshape(-1))
    if not len(which):
        return _vector(m, out, has)
    first = m.starts.reshape(-1)[which]
    last = m.ends.reshape(-1)[which] - 1
    n = count.reshape(-1)[which]
    range_end = np.broadcast_to(m.eval_ms[None, :], count.shape).reshape(-1)[which]
    counter = name != "delta"
    with np.errstate(all="ignore"):
        v_first = v[first]
        t_first, t_last = t[first], t[last]
        result = v[last] - v_first
        if counter and len(v) > 1:
            reset = (v[1:] < v[:-1]) & (m.series[1:] == m.series[:-1])
            if reset.any():
                drop = np.zeros(len(v))
                drop[1:] = np.where(reset, v[:-1], 0.0)
                # The few resets summed exactly, not as a difference of a long running sum.
                correction = reduce_windows(np.add, drop, _shifted(m)).reshape(-1)[which]
                result = result + np.where(first + 1 < last + 1, correction, 0.0)
        to_start = (t_first - (range_end - m.range_ms)) / 1000.0
        to_end = (range_end - t_last) / 1000.0
        sampled = (t_last - t_first) / 1000.0
        average = sampled / (n - 1)
        if counter:
            zero = sampled * (v_first / result)
            to_start = np.where((result > 0) & (v_first >= 0) & (zero < to_start), zero, to_start)
        threshold = average * 1.1
        interval = sampled + np.where(to_start < threshold, to_start, average / 2)
        interval += np.where(to_end < threshold, to_end, average / 2)
        result = result * (interval / sampled)
        if name == "rate":
            result = result / (m.range_ms / 1000.0)
    out.reshape(-1)[which] = result
    return _vector(m, out, has)


def _shifted(m: Matrix) -> Matrix:
    """The same windows without their first sample (a reset is counted at its second sample)."""
    starts = np.minimum(m.starts + 1, m.ends)
    return Matrix(m.labels, m.series, m.times, m.values, starts, m.ends, m.eval_ms, m.range_ms)


def instant(name: str, m: Matrix) -> Vector:
    """``irate`` and ``idelta``: the last two samples of each window."""
    count = m.counts()
    has = count >= 2
    v, t = m.values, m.times
    if not len(v):
        return _vector(m, np.zeros(count.shape), has)
    last = np.maximum(m.ends - 1, 0)
    prev = np.maximum(m.ends - 2, 0)
    with np.errstate(all="ignore"):
        if name == "idelta":
            result = v[last] - v[prev]
        else:
            result = np.where(v[last] < v[prev], v[last], v[last] - v[prev])
            result = result / ((t[last] - t[prev]) / 1000.0)
    return _vector(m, result, has)


def regression(m: Matrix, intercept_ms: I64) -> tuple[F64, F64, Mask]:
    """Least-squares slope and intercept of each window, x in seconds from ``intercept_ms``.

    As Prometheus's ``linearRegression``: a window of one constant value has slope 0.
    """
    count = m.counts()
    has = count >= 2
    window, index = expand(m)
    x = (m.times[index] - np.broadcast_to(intercept_ms[None, :], m.starts.shape).reshape(-1)[window]) / 1000.0
    y = m.values[index]
    n = count.astype(np.float64)
    with np.errstate(all="ignore"):
        sum_x = _sum_by_window(window, x, m)
        sum_y = _sum_by_window(window, y, m)
        sum_xy = _sum_by_window(window, x * y, m)
        sum_x2 = _sum_by_window(window, x * x, m)
        cov = sum_xy - sum_x * sum_y / n
        var = sum_x2 - sum_x * sum_x / n
        slope = cov / var
        intercept = sum_y / n - slope * sum_x / n
        first = m.values[np.minimum(m.starts, max(len(m.values) - 1, 0))] if len(m.values) else np.zeros(n.shape)
        vmin = reduce_windows(np.fmin, m.values, m) if len(m.values) else first
        vmax = reduce_windows(np.fmax, m.values, m) if len(m.values) else first
        constant = (vmin == vmax) & ~np.isnan(first)
        slope = np.where(constant, np.where(np.isinf(first), np.nan, 0.0), slope)
        intercept = np.where(constant, np.where(np.isinf(first), np.nan, first), intercept)
    return slope, intercept, has


def smoothing(m: Matrix, sf: float, tf: float) -> Vector:
    """Holt's double exponential smoothing of each window (Prometheus's ``holt_winters``).

    The recurrence runs along the samples of a window, so the loop is over positions in a
    window, each step one array operation over every window.
    """
    count = m.counts()
    has = count >= 2
    starts, _ = _flat(m)
    flat_count = count.reshape(-1)
    v = m.values
    if not len(v):
        return _vector(m, np.zeros(count.shape), has)
    last = len(v) - 1
    s1 = v[np.minimum(starts, last)]
    b = v[np.minimum(starts + 1, last)] - s1
    s0 = np.zeros(len(starts))
    with np.errstate(all="ignore"):
        for i in range(1, int(flat_count.max()) if len(flat_count) else 0):
            active = flat_count > i
            x = v[np.minimum(starts + i, last)]
            trend = b if i == 1 else tf * (s1 - s0) + (1 - tf) * b
            new = sf * x + (1 - sf) * (s1 + trend)
            b = np.where(active, trend, b)
            s0 = np.where(active, s1, s0)
            s1 = np.where(active, new, s1)
    return _vector(m, s1.reshape(count.shape), has)
