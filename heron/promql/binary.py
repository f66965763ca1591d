"""Binary operators: arithmetic, comparisons (filtering or ``bool``), and/or/unless,
with ``on``/``ignoring`` and ``group_left``/``group_right`` vector matching.

Matching is worked out per step, because which series are present changes from step to
step: each side's series get a signature (their matching labels) once, then presence of
each signature at each step is an array, and the "one" side's series for each signature
and step is looked up with one fancy index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import promql_parser as pp

from heron.promql.errors import BadData, ExecutionError
from heron.promql.values import F64, I64, NAME, Labels, Mask, Scalar, Value, Vector, merge_same_labels

ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})
#: Operators whose result drops the metric name (``atan2`` keeps it, as in Prometheus 2.x).
DROPS_NAME = frozenset({"+", "-", "*", "/", "%", "^"})
COMPARISON = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPS = frozenset({"and", "or", "unless"})


def apply(op: str, a: Any, b: Any) -> Any:
    """``a op b`` elementwise, with Go's float semantics (x/0 is ±Inf, NaN compares false)."""
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return np.divide(a, b)
        if op == "%":
            return np.fmod(a, b)
        if op == "^":
            return np.power(a, b)
        if op == "atan2":
            return np.arctan2(a, b)
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == ">":
            return a > b
        if op == "<":
            return a < b
        if op == ">=":
            return a >= b
        if op == "<=":
            return a <= b
    raise BadData(f"unknown operator {op}")


def evaluate(op: str, lhs: Value, rhs: Value, modifier: pp.BinModifier | None) -> Value:
    return_bool = bool(modifier and modifier.return_bool)
    if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
        out = apply(op, lhs.values, rhs.values)
        return Scalar(out.astype(np.float64) if op in COMPARISON else out)
    if isinstance(lhs, Vector) and isinstance(rhs, Scalar):
        return _vector_scalar(op, lhs, rhs.values, swapped=False, return_bool=return_bool)
    if isinstance(lhs, Scalar) and isinstance(rhs, Vector):
        return _vector_scalar(op, rhs, lhs.values, swapped=True, return_bool=return_bool)
    if isinstance(lhs, Vector) and isinstance(rhs, Vector):
        if op in SET_OPS:
            return _set_op(op, lhs, rhs, modifier)
        return _vector_vector(op, lhs, rhs, modifier, return_bool)
    raise BadData(f"operator {op} is not defined between these operand types")


def _drop_name(labels: Labels) -> Labels:
    return tuple(p for p in labels if p[0] != NAME)


def _vector_scalar(op: str, vec: Vector, scalar: F64, *, swapped: bool, return_bool: bool) -> Vector:
    s = scalar[None, :]
    if op in COMPARISON:
        keep = apply(op, s, vec.values) if swapped else apply(op, vec.values, s)
        if return_bool:
            return Vector([_drop_name(x) for x in vec.labels], keep.astype(np.float64), vec.present).merged()
        return Vector(vec.labels, vec.values, vec.present & keep).drop_empty()
    values = apply(op, s, vec.values) if swapped else apply(op, vec.values, s)
    labels = [_drop_name(x) for x in vec.labels] if op in DROPS_NAME else vec.labels
    return Vector(labels, values, vec.present).merged()


def _signature(labels: Labels, matching: pp.LabelModifier | None) -> Labels:
    if matching is not None and matching.type == pp.LabelModifierType.Include:
        wanted = set(matching.labels)
        return tuple(p for p in labels if p[0] in wanted)
    ignored = set(matching.labels) if matching is not None else set()
    ignored.add(NAME)
    return tuple(p for p in labels if p[0] not in ignored)


def _signature_ids(vec: Vector, matching: pp.LabelModifier | None, index: dict[Labels, int]) -> I64:
    return np.array([index.setdefault(_signature(lab, matching), len(index)) for lab in vec.labels], dtype=np.int64)


def _presence(sig: I64, present: Mask, count: int) -> I64:
    """How many series of each signature are present at each step (``count x T``)."""
    out = np.zeros((count, present.shape[1]), dtype=np.int64)
    if len(sig):
        np.add.at(out, sig, present.astype(np.int64))
    return out


def _set_op(op: str, lhs: Vector, rhs: Vector, modifier: pp.BinModifier | None) -> Vector:
    matching = modifier.matching if modifier is not None else None
    index: dict[Labels, int] = {}
    lsig = _signature_ids(lhs, matching, index)
    rsig = _signature_ids(rhs, matching, index)
    count = len(index)
    if op == "and":
        on_right = _presence(rsig, rhs.present, count) > 0
        return Vector(lhs.labels, lhs.values, lhs.present & on_right[lsig], lhs.times).drop_empty()
    if op == "unless":
        on_right = _presence(rsig, rhs.present, count) > 0
        return Vector(lhs.labels, lhs.values, lhs.present & ~on_right[lsig], lhs.times).drop_empty()
    on_left = _presence(lsig, lhs.present, count) > 0
    extra = rhs.present & ~on_left[rsig]
    labels = list(lhs.labels) + list(rhs.labels)
    values = np.concatenate([lhs.values, rhs.values])
    present = np.concatenate([lhs.present, extra])
    return merge_same_labels(labels, values, present).drop_empty()


def _vector_vector(op: str, lhs: Vector, rhs: Vector, modifier: pp.BinModifier | None, return_bool: bool) -> Vector:
    matching = modifier.matching if modifier is not None else None
    card = modifier.card if modifier is not None else pp.VectorMatchCardinality.OneToOne
    include = list(modifier.group_labels or []) if modifier is not None else []
    one_to_many = card == pp.VectorMatchCardinality.OneToMany
    many, one = (rhs, lhs) if one_to_many else (lhs, rhs)
    steps = lhs.values.shape[1]
    if not len(many) or not len(one):
        return Vector.empty(steps)
    index: dict[Labels, int] = {}
    many_sig = _signature_ids(many, matching, index)
    one_sig = _signature_ids(one, matching, index)
    count = len(index)
    one_count = _presence(one_sig, one.present, count)
    many_any: Mask = np.asarray(many.present.any(axis=0), dtype=bool)
    if ((one_count > 1) & many_any[None, :]).any():
        side = "left" if one_to_many else "right"
        raise ExecutionError(
            f"found duplicate series for the match group on the {side} hand-side of the operation;"
            " many-to-many matching not allowed: matching labels must be unique on one side"
        )
    partner_of_sig = np.full((count, steps), -1, dtype=np.int64)
    rows, cols = np.nonzero(one.present)
    partner_of_sig[one_sig[rows], cols] = rows
    partner = partner_of_sig[many_sig]
    matched = many.present & (partner >= 0)
    if card == pp.VectorMatchCardinality.OneToOne:
        taken = _presence(many_sig, matched, count)
        if (taken > 1).any():
            raise ExecutionError(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
            )
    safe = np.maximum(partner, 0)
    one_values = one.values[safe, np.arange(steps)[None, :]]
    left, right = (one_values, many.values) if one_to_many else (many.values, one_values)
    drop = op in DROPS_NAME or return_bool
    if op in COMPARISON:
        keep = apply(op, left, right)
        if return_bool:
            values: F64 = keep.astype(np.float64)
            present = matched
        else:
            values = left
            present = matched & keep
    else:
        values = apply(op, left, right)
        present = matched
    # One result series per many-side series, or per (series, partner) when group_x takes
    # labels from the partner, which may change from step to step.
    out_labels: list[Labels] = []
    out_rows: list[int] = []
    out_partner: list[int] = []
    for i in range(len(many)):
        where = np.flatnonzero(present[i])
        if not len(where):
            continue
        partners = np.unique(partner[i, where]) if include else np.array([int(partner[i, where[0]])])
        for p in partners.tolist():
            out_labels.append(_result_labels(many.labels[i], one.labels[p], matching, card, include, drop=drop))
            out_rows.append(i)
            out_partner.append(p if include else -1)
    if not out_rows:
        return Vector.empty(steps)
    r = np.array(out_rows, dtype=np.int64)
    p_arr = np.array(out_partner, dtype=np.int64)
    out_present = present[r]
    if include:
        out_present = out_present & (partner[r] == p_arr[:, None])
    return merge_same_labels(out_labels, values[r], out_present)


def _result_labels(
    many: Labels,
    one: Labels,
    matching: pp.LabelModifier | None,
    card: Any,
    include: list[str],
    *,
    drop: bool,
) -> Labels:
    """Prometheus's ``resultMetric``: the many side's labels, trimmed and completed."""
    out = dict(many)
    if drop:
        out.pop(NAME, None)
    if card == pp.VectorMatchCardinality.OneToOne and matching is not None:
        if matching.type == pp.LabelModifierType.Include:
            wanted = set(matching.labels)
            out = {k: v for k, v in out.items() if k in wanted}
        else:
            for name in matching.labels:
                out.pop(name, None)
    if include:
        partner = dict(one)
        for name in include:
            value = partner.get(name, "")
            if value:
                out[name] = value
            else:
                out.pop(name, None)
    return tuple(sorted(out.items()))
