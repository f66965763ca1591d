"""Prometheus remote read, the answer: a ``ReadResponse`` of samples, encoded without a loop per sample.

The request is small and decoded with the generated module
(``heron/protocols/_pb/remote_read.proto``); the answer may hold millions of samples, so
it is written here directly in the protobuf wire format
(https://protobuf.dev/programming-guides/encoding/), every sample at once with NumPy::

    ReadResponse  { repeated QueryResult results = 1; }
    QueryResult   { repeated TimeSeries timeseries = 1; }
    TimeSeries    { repeated Label labels = 1; repeated Sample samples = 2; }
    Label         { string name = 1; string value = 2; }
    Sample        { double value = 1; int64 timestamp = 2; }

Each ``Sample`` is ``0x12 <len> 0x09 <8-byte double> 0x10 <varint ms>``: its length fits
one byte (at most 20), so every sample's bytes are a row of one matrix, cut to its
varint's length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from heron.protocols.protowire import varint

#: Longest varint (a negative int64 takes ten bytes).
_MAX_VARINT = 10
#: Bytes of a sample before its timestamp's varint: field tag, length, value tag, double, timestamp tag.
_SAMPLE_HEAD = 12


def _field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def _labels(labels: Sequence[tuple[str, str]]) -> bytes:
    return b"".join(_field(1, _field(1, k.encode()) + _field(2, v.encode())) for k, v in labels)


def encode_samples(
    times: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> tuple[bytes, npt.NDArray[np.int64]]:
    """Every sample as a ``TimeSeries.samples`` field, concatenated; and each one's size in bytes."""
    n = len(times)
    u = times.astype(np.int64).view(np.uint64)
    length = np.ones(n, dtype=np.int64)
    for k in range(1, _MAX_VARINT):
        length += (u >> np.uint64(7 * k)) != 0
    rows = np.zeros((n, _SAMPLE_HEAD + _MAX_VARINT), dtype=np.uint8)
    rows[:, 0] = 0x12
    rows[:, 1] = 10 + length
    rows[:, 2] = 0x09
    rows[:, 3:11] = np.ascontiguousarray(values, dtype="<f8").view(np.uint8).reshape(n, 8)
    rows[:, 11] = 0x10
    for k in range(_MAX_VARINT):
        group = ((u >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        more = (k + 1) < length
        rows[:, _SAMPLE_HEAD + k] = group | np.where(more, 0x80, 0).astype(np.uint8)
    keep = np.arange(_SAMPLE_HEAD + _MAX_VARINT)[None, :] < (_SAMPLE_HEAD + length)[:, None]
    return rows[keep].tobytes(), _SAMPLE_HEAD + length


def encode_query_result(
    labels: Sequence[Sequence[tuple[str, str]]],
    series: npt.NDArray[np.int64],
    times: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
) -> bytes:
    """One ``QueryResult`` field of a ``ReadResponse``: ``labels`` per series, samples sorted by series.

    A response is these fields concatenated, one per query, in order.
    """
    data, sizes = encode_samples(times, values)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    bounds = np.searchsorted(series, np.arange(len(labels) + 1))
    parts = []
    for i, names in enumerate(labels):
        lo, hi = int(offsets[bounds[i]]), int(offsets[bounds[i + 1]])
        parts.append(_field(1, _labels(names) + data[lo:hi]))
    return _field(1, b"".join(parts))
