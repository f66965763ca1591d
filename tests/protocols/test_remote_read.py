"""The remote-read answer written by hand decodes, with the generated module, to what was given."""

from __future__ import annotations

import math
import struct

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from heron.protocols._pb import remote_read_pb2 as rr
from heron.protocols.remote_read import encode_query_result

STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]


def _decode(blob: bytes) -> list[list[tuple[dict[str, str], list[tuple[int, float]]]]]:
    response = rr.ReadResponse()
    response.ParseFromString(blob)
    return [
        [
            ({lab.name: lab.value for lab in ts.labels}, [(s.timestamp, s.value) for s in ts.samples])
            for ts in r.timeseries
        ]
        for r in response.results
    ]


def test_series_labels_and_samples_survive_including_negative_times_nan_and_staleness() -> None:
    labels = [(("__name__", "a"), ("job", "x")), (("__name__", "b"), ("héron", "ü"))]
    series = np.array([0, 0, 0, 1], dtype=np.int64)
    times = np.array([-5, 0, 1_700_000_000_000, 127], dtype=np.int64)
    values = np.array([1.5, math.nan, STALE, -0.0])
    blob = encode_query_result(labels, series, times, values) + encode_query_result(
        [], series[:0], times[:0], values[:0]
    )
    decoded = _decode(blob)
    assert len(decoded) == 2 and decoded[1] == []
    (la, sa), (lb, sb) = decoded[0]
    assert la == {"__name__": "a", "job": "x"} and lb == {"__name__": "b", "héron": "ü"}
    assert [t for t, _ in sa] == [-5, 0, 1_700_000_000_000] and sb == [(127, -0.0)]
    assert sa[0][1] == 1.5 and math.isnan(sa[1][1])
    assert struct.pack("<d", sa[2][1]) == struct.pack("<d", STALE)


@given(st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False)), max_size=50))
def test_any_timestamps_and_values_round_trip(samples: list[tuple[int, float]]) -> None:
    times = np.array([t for t, _ in samples], dtype=np.int64)
    values = np.array([v for _, v in samples], dtype=np.float64)
    series = np.zeros(len(samples), dtype=np.int64)
    decoded = _decode(encode_query_result([(("__name__", "m"),)], series, times, values))
    assert decoded[0][0][1] == samples
