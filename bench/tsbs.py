"""TSBS-style `cpu` data as line-protocol bodies, generated with numpy.

The Time Series Benchmark Suite's cpu-only use case is the usual yardstick for line-protocol
ingest: one measurement, 10 tags, 10 float fields, one point per host every 10 s. Formatting
millions of floats one by one in Python would make the generator slower than the systems it
feeds, so each body is laid out once as bytes and only the digits are written into it:

* every value has the fixed width ``dd.dd`` (a random walk kept within 10.00..99.99),
* every timestamp has 19 digits (nanoseconds since 1970 between 2001 and 2286),

so a line's layout depends only on its host, and every body of one data set has the same
layout. A body holds ``lines_per_body / hosts`` consecutive timestamps for all hosts, in
time order, as a real fleet of agents would send them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

MEASUREMENT = "cpu"
FIELDS = (
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
)
TAGS = (
    "hostname",
    "region",
    "datacenter",
    "rack",
    "os",
    "arch",
    "team",
    "service",
    "service_version",
    "service_environment",
)
INTERVAL_NS = 10 * 1_000_000_000
DEFAULT_HOSTS = 100
DEFAULT_LINES_PER_BODY = 5_000

_REGIONS = {
    "us-east-1": ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"),
    "us-west-1": ("us-west-1a", "us-west-1b"),
    "us-west-2": ("us-west-2a", "us-west-2b", "us-west-2c"),
    "eu-west-1": ("eu-west-1a", "eu-west-1b", "eu-west-1c"),
    "eu-central-1": ("eu-central-1a", "eu-central-1b"),
    "ap-southeast-1": ("ap-southeast-1a", "ap-southeast-1b"),
    "ap-southeast-2": ("ap-southeast-2a", "ap-southeast-2b"),
    "ap-northeast-1": ("ap-northeast-1a", "ap-northeast-1c"),
    "sa-east-1": ("sa-east-1a", "sa-east-1b", "sa-east-1c"),
}
_OS = ("Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10")
_ARCH = ("x64", "x86")
_TEAMS = ("SF", "NYC", "LON", "CHI")
_ENVIRONMENTS = ("production", "staging", "test")
_VALUE_MIN, _VALUE_MAX = 1000, 9999  # hundredths: 10.00 .. 99.99, always five characters
_TS_DIGITS = 19
_ZERO = ord("0")


@dataclass(frozen=True, slots=True)
class BodySet:
    """Bodies written to ``directory`` as ``00000.lp``, ``00001.lp``, ... in time order."""

    directory: Path
    count: int
    lines_per_body: int
    hosts: int
    start_ns: int
    end_ns: int  # one interval past the last timestamp

    @property
    def points(self) -> int:
        """Points in all bodies together."""
        return self.count * self.lines_per_body

    def head(self, count: int) -> BodySet:
        """The first ``count`` bodies of this set."""
        if not 0 < count <= self.count:
            raise ValueError(f"cannot take {count} of {self.count} bodies")
        steps = count * (self.lines_per_body // self.hosts)
        return replace(self, count=count, end_ns=self.start_ns + steps * INTERVAL_NS)

    def path(self, index: int) -> Path:
        """The file holding body ``index``."""
        return self.directory / body_name(index)


def body_name(index: int) -> str:
    """File name of body ``index``; the wrk script builds the same names."""
    return f"{index:05d}.lp"


def host_name(index: int) -> str:
    """Hostname tag of host ``index``, as TSBS names them."""
    return f"host_{index}"


def host_prefixes(hosts: int, seed: int) -> list[bytes]:
    """Return ``cpu,<tags> `` for each host: the measurement and tag set, seeded."""
    rng = np.random.default_rng(seed)
    regions = list(_REGIONS)
    prefixes = []
    for index in range(hosts):
        region = regions[int(rng.integers(len(regions)))]
        datacenters = _REGIONS[region]
        values = (
            host_name(index),
            region,
            datacenters[int(rng.integers(len(datacenters)))],
            str(int(rng.integers(100))),
            _OS[int(rng.integers(len(_OS)))],
            _ARCH[int(rng.integers(len(_ARCH)))],
            _TEAMS[int(rng.integers(len(_TEAMS)))],
            str(int(rng.integers(20))),
            str(int(rng.integers(2))),
            _ENVIRONMENTS[int(rng.integers(len(_ENVIRONMENTS)))],
        )
        tags = ",".join(f"{key}={value}" for key, value in zip(TAGS, values, strict=True))
        prefixes.append(f"{MEASUREMENT},{tags} ".encode())
    return prefixes


class _Layout:
    """Byte positions of every digit in a body, computed once per data set."""

    def __init__(self, prefixes: list[bytes], timestamps_per_body: int) -> None:
        suffix = (",".join(f"{name}=00.00" for name in FIELDS) + " " + "0" * _TS_DIGITS + "\n").encode()
        block = b"".join(prefix + suffix for prefix in prefixes)
        self.template = np.tile(np.frombuffer(block, dtype=np.uint8), timestamps_per_body)
        line_ends = np.cumsum([len(prefix) + len(suffix) for prefix in prefixes])
        ends = np.arange(timestamps_per_body)[:, None] * len(block) + line_ends[None, :]
        # Where each field's "dd.dd" starts, counted back from the end of the line.
        value_back = []
        for index in range(len(FIELDS)):
            tail = ",".join(f"{name}=00.00" for name in FIELDS[index:])
            value_back.append(len(tail) - len(f"{FIELDS[index]}=") + _TS_DIGITS + 2)
        starts = ends[:, :, None] - np.array(value_back)[None, None, :]
        self.value_positions = starts[..., None] + np.array([0, 1, 3, 4])
        self.time_positions = (ends - _TS_DIGITS - 1)[:, :, None] + np.arange(_TS_DIGITS)


def _digits(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """Decimal digits of non-negative ``values`` as ASCII, zero-padded to ``width``."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[..., None] // powers) % 10 + _ZERO).astype(np.uint8)


def generate_bodies(
    *,
    count: int,
    start_ns: int,
    hosts: int = DEFAULT_HOSTS,
    lines_per_body: int = DEFAULT_LINES_PER_BODY,
    seed: int = 1,
) -> Iterator[bytes]:
    """Yield ``count`` bodies with consecutive timestamps from ``start_ns`` on.

    Values are a random walk per host and field (TSBS uses one too), so the data compresses
    like metrics do rather than like noise, which matters for bytes per value.
    """
    if lines_per_body % hosts:
        raise ValueError(f"lines_per_body={lines_per_body} is not a multiple of hosts={hosts}")
    steps = lines_per_body // hosts
    layout = _Layout(host_prefixes(hosts, seed), steps)
    rng = np.random.default_rng(seed + 1)
    state = rng.uniform(20.0, 80.0, size=(hosts, len(FIELDS)))
    for body in range(count):
        walk = state + np.cumsum(rng.uniform(-1.0, 1.0, size=(steps, hosts, len(FIELDS))), axis=0)
        walk = np.clip(walk, _VALUE_MIN / 100, _VALUE_MAX / 100)
        state = walk[-1]
        hundredths = np.rint(walk * 100).astype(np.int64)
        times = start_ns + (body * steps + np.arange(steps, dtype=np.int64)) * INTERVAL_NS
        buf = layout.template.copy()
        buf[layout.value_positions] = _digits(hundredths, 4)
        buf[layout.time_positions] = _digits(times, _TS_DIGITS)[:, None, :]
        yield buf.tobytes()


def write_bodies(
    directory: Path,
    *,
    count: int,
    start_ns: int,
    hosts: int = DEFAULT_HOSTS,
    lines_per_body: int = DEFAULT_LINES_PER_BODY,
    seed: int = 1,
) -> BodySet:
    """Generate ``count`` bodies into ``directory`` and describe them."""
    directory.mkdir(parents=True, exist_ok=True)
    bodies = generate_bodies(count=count, start_ns=start_ns, hosts=hosts, lines_per_body=lines_per_body, seed=seed)
    for index, body in enumerate(bodies):
        (directory / body_name(index)).write_bytes(body)
    steps = count * (lines_per_body // hosts)
    return BodySet(
        directory=directory,
        count=count,
        lines_per_body=lines_per_body,
        hosts=hosts,
        start_ns=start_ns,
        end_ns=start_ns + steps * INTERVAL_NS,
    )
