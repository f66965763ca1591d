"""The values an expression evaluates to, over every step of a query at once.

A query is evaluated at ``T`` steps together (one step for an instant query), so each
value holds all of them:

* :class:`Scalar`: one float per step;
* :class:`Vector`: ``n`` series (their labels) and an ``n x T`` matrix of values with a
  mask of where a sample is present, so an operator or a function is one array operation
  over every series and step instead of a loop;
* :class:`Matrix`: a range vector: the samples of ``n`` series, sorted by series and time,
  and for each series and step the slice of those samples that falls in its window;
* :class:`String`: a string literal.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from heron.promql.errors import ExecutionError

Labels = tuple[tuple[str, str], ...]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

NAME = "__name__"

#: The NaN a scrape or remote write sends to mark a series stale (Prometheus's ``value.StaleNaN``).
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale(values: F64) -> Mask:
    """Which values are Prometheus's staleness marker (one NaN bit pattern among many)."""
    found: Mask = np.asarray(values, dtype=np.float64).view(np.uint64) == np.uint64(STALE_NAN_BITS)
    return found


def labels_of(mapping: dict[str, str]) -> Labels:
    """Labels as a sorted tuple without empty values (an empty label is an absent one)."""
    return tuple(sorted((k, v) for k, v in mapping.items() if v != ""))


def without_name(labels: Labels) -> Labels:
    return tuple(p for p in labels if p[0] != NAME)


@dataclass(slots=True)
class Scalar:
    values: F64


@dataclass(slots=True)
class String:
    value: str


@dataclass(slots=True)
class Vector:
    """``n`` series at ``T`` steps. ``times`` (ms) is set only by a selector: ``timestamp()`` reads it."""

    labels: list[Labels]
    values: F64  # n x T
    present: Mask  # n x T
    times: I64 | None = None
    order: str = ""  # "asc" / "desc": sort() and sort_desc() asked for an order (instant queries)

    @classmethod
    def empty(cls, steps: int) -> Vector:
        return cls([], np.zeros((0, steps)), np.zeros((0, steps), dtype=bool))

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, rows: I64 | list[int]) -> Vector:
        idx = np.asarray(rows, dtype=np.int64)
        return Vector(
            [self.labels[i] for i in idx.tolist()],
            self.values[idx],
            self.present[idx],
            None if self.times is None else self.times[idx],
        )

    def merged(self) -> Vector:
        """Rows with equal labels as one series (see :func:`merge_same_labels`)."""
        return merge_same_labels(self.labels, self.values, self.present)

    def drop_empty(self) -> Vector:
        keep = np.flatnonzero(self.present.any(axis=1))
        return self if len(keep) == len(self.labels) else self.take(keep)


@dataclass(slots=True)
class Matrix:
    """Samples of ``n`` series (sorted by series, then time) and each step's window.

    The window of series ``i`` at step ``j`` is ``starts[i, j]:ends[i, j]`` of the sample
    arrays; ``eval_ms`` is the time each step's window ends at (after ``offset`` and ``@``),
    ``range_ms`` its length.
    """

    labels: list[Labels]
    series: I64  # per sample: its series (row of ``labels``)
    times: I64  # ms
    values: F64
    starts: I64  # n x T
    ends: I64  # n x T
    eval_ms: I64  # T
    range_ms: int

    def counts(self) -> I64:
        out: I64 = self.ends - self.starts
        return out


Value = Scalar | String | Vector | Matrix


def merge_same_labels(labels: Sequence[Labels], values: F64, present: Mask) -> Vector:
    """One series per distinct label set: rows with equal labels become one.

    Prometheus refuses a result with two series of the same labels at one step
    ("vector cannot contain metrics with the same labelset"), while the same labels at
    different steps (a match that moves from one series to another) is one series.
    """
    index: dict[Labels, int] = {}
    groups: list[int] = []
    for lab in labels:
        groups.append(index.setdefault(lab, len(index)))
    if len(index) == len(labels):
        return Vector(list(labels), values, present)
    g = np.asarray(groups, dtype=np.int64)
    steps = values.shape[1]
    counts = np.zeros((len(index), steps), dtype=np.int64)
    np.add.at(counts, g, present.astype(np.int64))
    if (counts > 1).any():
        raise ExecutionError("vector cannot contain metrics with the same labelset")
    out_values = np.zeros((len(index), steps))
    out_present = counts > 0
    rows, cols = np.nonzero(present)
    out_values[g[rows], cols] = values[rows, cols]
    return Vector(list(index), out_values, out_present)
