"""The shape of `bench/results/*.json`, shared by every benchmark and read by report.py.

Every file has the same top-level keys, so a new benchmark only fills them in and the
report renders it without changes:

``benchmark``, ``title``, ``description``
``command``, ``date`` (UTC), ``machine`` (cores, memory, CPU, load), ``parameters``
``metrics``: ``[{"key", "label", "unit", "better": "higher" | "lower"}]``, the table's rows
``systems``: ``{key: {"label", "version", "values": {metric: number | null}, ...}}``
``baseline``: the system under test (``heron``), compared with every other system
``ratio``: ``{"meaning", peer: {metric: number | null}}``, oriented so higher is better
``checks``: sanity and durability findings; ``notes``: caveats, in words
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psutil

RESULTS_DIR = Path(__file__).with_name("results")
BASELINE = "heron"
RATIO_MEANING = (
    "Heron relative to each peer, oriented so that higher is better for Heron: "
    "heron/peer for metrics where higher is better (throughput), peer/heron where lower "
    "is better (latency, memory, CPU, bytes). 1.0 is parity."
)


@dataclass(frozen=True, slots=True)
class Metric:
    """One row of a benchmark's table."""

    key: str
    label: str
    unit: str
    better: Literal["higher", "lower"]


def ratio(metric: Metric, heron: float | None, peer: float | None) -> float | None:
    """Heron against a peer on ``metric``, so that a value above 1 favours Heron."""
    if heron is None or peer is None or heron <= 0 or peer <= 0:
        return None
    value = heron / peer if metric.better == "higher" else peer / heron
    return round(value, 3)


def machine() -> dict[str, Any]:
    """What the numbers were measured on; the load average shows how busy it was."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def command_line() -> str:
    """How this run was started, for the report (``make bench`` runs ``python -m bench``)."""
    command = " ".join(["python -m bench", shlex.join(sys.argv[1:])]).strip()
    return f"make bench ({command})" if os.environ.get("MAKELEVEL") else command


def build(
    *,
    benchmark: str,
    title: str,
    description: str,
    parameters: dict[str, Any],
    metrics: list[Metric],
    systems: dict[str, dict[str, Any]],
    checks: dict[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    """Assemble one results document, computing ``ratio`` from the systems' values."""
    baseline = systems.get(BASELINE, {}).get("values", {})
    ratios: dict[str, Any] = {"meaning": RATIO_MEANING}
    for key, system in systems.items():
        if key == BASELINE:
            continue
        values = system.get("values", {})
        ratios[key] = {m.key: ratio(m, baseline.get(m.key), values.get(m.key)) for m in metrics}
    return {
        "benchmark": benchmark,
        "title": title,
        "description": description,
        "command": command_line(),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "parameters": parameters,
        "metrics": [asdict(m) for m in metrics],
        "baseline": BASELINE,
        "systems": systems,
        "ratio": ratios,
        "checks": checks,
        "notes": notes,
    }


def write(document: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """Write ``document`` to ``<directory>/<benchmark>.json`` and return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{document['benchmark']}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return path
