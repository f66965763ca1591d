"""Synthetic series for the remote-write benchmark: recorded request bodies and scrape pages.

The shape follows the Prometheus community's load generator (avalanche): metric families of
ten series each, ten labels per series (``__name__``, ``instance``, ``job`` and seven more),
labels sorted by name as Prometheus sends them. One request holds one load-generator
connection's 2,000 series (200 metric families) at one instant, one float sample each.

Bodies are written as snappy blocks, the way Prometheus sends them, and built from a
template: every series record has the same size from one instant to the next, so only the
8-byte values and the 6-byte timestamps change, which numpy writes in place. That keeps
generating thousands of bodies to a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cramjam
import numpy as np

METRICS_PER_REQUEST = 200
SERIES_PER_METRIC = 10
SERIES_PER_REQUEST = METRICS_PER_REQUEST * SERIES_PER_METRIC
METRIC_PREFIX = "rwbench_metric_"
JOB = "rwbench"
#: Timestamps need 6 varint bytes from 2^35 ms (1971) to 2^42 ms (2109): a fixed record size.
_TIMESTAMP_BYTES = 6


def metric_name(m: int) -> str:
    return f"{METRIC_PREFIX}{m:03d}"


def series_labels(connection: int) -> list[list[tuple[str, str]]]:
    """The 2,000 label sets one connection owns, each sorted by label name."""
    out = []
    for m in range(METRICS_PER_REQUEST):
        for s in range(SERIES_PER_METRIC):
            labels = [
                ("__name__", metric_name(m)),
                ("instance", f"loadgen-{connection}:9100"),
                ("job", JOB),
                ("label_0", f"series_{s}"),
            ]
            labels += [(f"label_{k}", f"value_{k}_{(m + s) % (k + 2)}") for k in range(1, 7)]
            out.append(sorted(labels))
    return out


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


@dataclass(frozen=True, slots=True)
class Template:
    """One connection's request with holes for the samples' values and timestamps."""

    body: np.ndarray  # uint8
    value_at: np.ndarray  # offset of each series' 8 value bytes
    stamp_at: np.ndarray  # offset of each series' timestamp varint

    @classmethod
    def for_connection(cls, connection: int) -> Template:
        parts: list[bytes] = []
        value_at, stamp_at = [], []
        offset = 0
        for labels in series_labels(connection):
            head = b"".join(_field(1, _field(1, k.encode()) + _field(2, v.encode())) for k, v in labels)
            sample = b"\x09" + bytes(8) + b"\x10" + bytes(_TIMESTAMP_BYTES)
            series = head + _field(2, sample)
            record = _field(1, series)
            start = offset + len(record) - len(series)  # where the series payload begins
            sample_at = start + len(head) + 2  # after the sample's tag and length bytes
            value_at.append(sample_at + 1)
            stamp_at.append(sample_at + 10)
            parts.append(record)
            offset += len(record)
        return cls(np.frombuffer(b"".join(parts), dtype=np.uint8), np.array(value_at), np.array(stamp_at))

    def request(self, values: np.ndarray, ms: int) -> bytes:
        """The serialized ``WriteRequest`` with ``values`` (one per series) at time ``ms``."""
        stamp = _varint(ms)
        if len(stamp) != _TIMESTAMP_BYTES:
            raise ValueError(f"timestamp {ms} ms does not take {_TIMESTAMP_BYTES} varint bytes")
        body = self.body.copy()
        body[self.value_at[:, None] + np.arange(8)] = values.astype("<f8").view(np.uint8).reshape(-1, 8)
        body[self.stamp_at[:, None] + np.arange(_TIMESTAMP_BYTES)] = np.frombuffer(stamp, dtype=np.uint8)
        return body.tobytes()


@dataclass(frozen=True, slots=True)
class RecordedBodies:
    """Snappy bodies on disk: ``<dir>/<connection>/<step>.bin``, each connection in time order."""

    directory: Path
    connections: int
    steps: int
    start_ms: int
    step_ms: int
    body_bytes: int  # compressed size of the first body

    @property
    def samples_per_body(self) -> int:
        return SERIES_PER_REQUEST

    @property
    def samples(self) -> int:
        return self.connections * self.steps * SERIES_PER_REQUEST

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.steps * self.step_ms


def write_bodies(directory: Path, *, connections: int, steps: int, end_ms: int, step_ms: int) -> RecordedBodies:
    """Write ``steps`` bodies per connection, the last one at ``end_ms - step_ms``.

    Values are a random walk per series with two decimals, as gauges look.
    """
    start_ms = end_ms - steps * step_ms
    rng = np.random.default_rng(11)
    first_size = 0
    for connection in range(connections):
        template = Template.for_connection(connection)
        folder = directory / str(connection)
        folder.mkdir(parents=True, exist_ok=True)
        values = rng.uniform(10, 90, SERIES_PER_REQUEST).round(2)
        for step in range(steps):
            values = (values + rng.normal(0, 0.5, SERIES_PER_REQUEST)).round(2)
            raw = template.request(values, start_ms + step * step_ms)
            compressed = bytes(cramjam.snappy.compress_raw(raw))
            (folder / f"{step:05d}.bin").write_bytes(compressed)
            first_size = first_size or len(compressed)
    return RecordedBodies(directory, connections, steps, start_ms, step_ms, first_size)


def exposition_page(target: int, *, metrics: int = METRICS_PER_REQUEST) -> bytes:
    """A scrape page with ``metrics`` families of ten series; Prometheus adds ``instance`` and
    ``job``, which makes ten labels per series as in the recorded bodies."""
    rng = np.random.default_rng(target)
    lines = []
    for m in range(metrics):
        name = metric_name(m)
        lines.append(f"# HELP {name} Synthetic gauge {m}.\n# TYPE {name} gauge")
        for s in range(SERIES_PER_METRIC):
            labels = [("label_0", f"series_{s}"), ("label_7", f"target_{target}")]
            labels += [(f"label_{k}", f"value_{k}_{(m + s) % (k + 2)}") for k in range(1, 7)]
            text = ",".join(f'{k}="{v}"' for k, v in sorted(labels))
            lines.append(f"{name}{{{text}}} {rng.uniform(10, 90):.2f}")
    return ("\n".join(lines) + "\n").encode()
