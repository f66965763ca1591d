"""The compliance comparison: generated data, the query set expanded, answers compared.

The data has the shape of the demo service the PromQL compliance tester queries (gauges,
counters with a reset, a classic histogram, a metric that goes stale and comes back), made
here with a seeded generator so every run feeds Heron and Prometheus the same samples.
Answers are compared as the tester does: range queries over ten minutes at a 10 s
resolution ending twelve minutes before the data ends, series matched by labels, values
equal within a relative 1e-5, NaN equal to NaN.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tests.promql.feed import STALE_NAN, Series

QUERIES = Path(__file__).with_name("compliance_queries.yml")
INSTANCES = ("demo:10000", "demo:10001", "demo:10002")
SCRAPE_MS = 5_000
#: Data covers this long before its end: the longest range (1h) and offset (10m) of the
#: query set, before the tester's window (10m, ending 12m before the end).
SPAN_MS = 100 * 60_000
RELATIVE_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Case:
    query: str
    should_fail: bool = False


def expand_queries(path: Path = QUERIES) -> list[Case]:
    """Every query with every combination of the variants its placeholders name."""
    doc = yaml.safe_load(path.read_text())
    variants: dict[str, list[str]] = {k: [str(v) for v in vs] for k, vs in doc["variants"].items()}
    cases: list[Case] = []
    for entry in doc["queries"]:
        text = entry if isinstance(entry, str) else entry["query"]
        fail = False if isinstance(entry, str) else bool(entry.get("fail"))
        names = list(dict.fromkeys(re.findall(r"\{([A-Za-z]+)\}", text)))
        names = [n for n in names if n in variants]
        if not names:
            cases.append(Case(str(text), fail))
            continue
        for combo in itertools.product(*(variants[n] for n in names)):
            query = str(text)
            for name, value in zip(names, combo, strict=True):
                query = query.replace("{" + name + "}", value)
            cases.append(Case(query, fail))
    return cases


def generate(end_ms: int, *, seed: int = 15) -> list[Series]:
    """The demo-like series, one sample every 5 s over :data:`SPAN_MS` ending at ``end_ms``."""
    rng = np.random.default_rng(seed)
    times = np.arange(end_ms - SPAN_MS, end_ms + 1, SCRAPE_MS, dtype=np.int64)
    n = len(times)
    out: list[Series] = []

    def add(labels: dict[str, str], values: np.ndarray) -> None:
        out.append((labels, list(zip(times.tolist(), values.tolist(), strict=True))))

    for k, instance in enumerate(INSTANCES):
        base = {"instance": instance, "job": "demo"}
        for j, kind in enumerate(("free", "buffers", "cached", "used")):
            walk = np.cumsum(rng.integers(-50_000, 50_001, n)).astype(np.float64)
            add({"__name__": "demo_memory_usage_bytes", **base, "type": kind}, 1e9 * (j + 1) + k * 1e7 + walk)
        add({"__name__": "demo_num_cpus", **base}, np.full(n, float((4, 8, 2)[k])))
        for mode, speed in (("idle", 3.0), ("user", 0.8), ("system", 0.3)):
            counter = np.cumsum(rng.random(n) * speed)
            if k == 1 and mode == "user":
                counter[n // 2 :] -= counter[n // 2 - 1] - 0.5  # a restart: the counter starts over
            add({"__name__": "demo_cpu_usage_seconds_total", **base, "mode": mode}, counter)
        disk = 5e10 + k * 1e9 + (times - times[0]) * 0.25 + np.cumsum(rng.integers(0, 1000, n))
        add({"__name__": "demo_disk_usage_bytes", **base}, disk.astype(np.float64))
        batch = np.floor((times / 1000 - 17 * k) / 300) * 300 + 17 * k
        add({"__name__": "demo_batch_last_success_timestamp_seconds", **base}, batch)
        bounds = ("0.0001", "0.00015", "0.0002", "0.0003", "0.0005", "0.001", "0.01", "+Inf")
        for method in ("GET", "POST"):
            observations = rng.exponential(0.0003 * (k + 1), size=(n, 20))
            counts = np.cumsum(
                np.stack([(observations <= float(b)).sum(axis=1) for b in bounds], axis=0), axis=1
            ).astype(np.float64)
            labels = {**base, "method": method, "path": "/api/foo", "status": "200"}
            for le, row in zip(bounds, counts, strict=True):
                add({"__name__": "demo_api_request_duration_seconds_bucket", **labels, "le": le}, row)
            add({"__name__": "demo_api_request_duration_seconds_count", **labels}, counts[-1])
            add({"__name__": "demo_api_request_duration_seconds_sum", **labels}, np.cumsum(observations.sum(axis=1)))
        on = ((times - times[0]) // 300_000 + k) % 2 == 0
        values = rng.random(n) * 100
        samples = []
        for i in range(n):
            if on[i]:
                samples.append((int(times[i]), float(values[i])))
            elif i > 0 and on[i - 1]:
                samples.append((int(times[i]), STALE_NAN))
        out.append(({"__name__": "demo_intermittent_metric", **base}, samples))
    return out


def _values(series: dict[str, Any]) -> list[tuple[float, float]]:
    return [(float(t), float(v)) for t, v in series["values"]]


def _same_float(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    return abs(a - b) <= RELATIVE_TOLERANCE * max(abs(a), abs(b))


def difference(expected: dict[str, Any], got: dict[str, Any]) -> str | None:
    """Why two range-query answers differ, or None when they agree."""
    if expected.get("resultType") != got.get("resultType"):
        return f"result type {got.get('resultType')} instead of {expected.get('resultType')}"
    want = {tuple(sorted(s["metric"].items())): _values(s) for s in expected["result"]}
    have = {tuple(sorted(s["metric"].items())): _values(s) for s in got["result"]}
    if set(want) != set(have):
        missing = sorted(set(want) - set(have))[:2]
        extra = sorted(set(have) - set(want))[:2]
        return f"series differ: missing {missing}, unexpected {extra}"
    for labels, points in want.items():
        other = have[labels]
        if [t for t, _ in points] != [t for t, _ in other]:
            return f"timestamps of {dict(labels)} differ: {len(points)} points expected, {len(other)} got"
        for (t, a), (_, b) in zip(points, other, strict=True):
            if not _same_float(a, b):
                return f"{dict(labels)} at {t}: {b!r} instead of {a!r}"
    return None
