"""Run wrk with bench/wrk/ingest.lua and read back what it counted.

wrk is a compiled event-loop client, so on a 2-core machine it leaves nearly all CPU to
the server. Its own CPU time is taken from the kernel (``wait4`` rusage) so the report
can show how small its share was: a load generator near 100% of a core would be
measuring itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.tsbs import BodySet

SCRIPT = Path(__file__).with_name("wrk") / "ingest.lua"
BINARY = "wrk"
THREADS = 2
CONNECTIONS = 4
#: A body is 1.8 MB; under backpressure a server may take seconds to acknowledge one, and
#: wrk's 2 s default would count those as errors.
REQUEST_TIMEOUT_S = 60


@dataclass(frozen=True, slots=True)
class WrkResult:
    """What one wrk run sent and got back, and what it cost."""

    sent: int  # requests issued, including those still in flight at the end
    ok: int  # 2xx answers
    other_status: dict[str, int]  # non-2xx answers by status
    wrapped: bool  # whether a thread ran out of distinct bodies and started over
    duration_s: float
    errors: dict[str, int]
    latency_us: dict[str, float]
    cpu_s: float  # wrk's own user + system time

    @property
    def cpu_percent(self) -> float:
        """wrk's CPU seconds per second of the run, in percent of one core."""
        return 100.0 * self.cpu_s / self.duration_s if self.duration_s else 0.0


def bodies_needed(*, duration_s: float, max_points_per_s: float, lines_per_body: int) -> int:
    """How many distinct bodies a run of ``duration_s`` can use at ``max_points_per_s``,
    rounded up to a multiple of the thread count (each thread owns every n-th body)."""
    count = int(duration_s * max_points_per_s / lines_per_body) + CONNECTIONS
    return -(-count // THREADS) * THREADS


def run_wrk(
    *, url: str, bodies: BodySet, write_path: str, authorization: str, duration_s: int, connections: int = CONNECTIONS
) -> WrkResult:
    """Load ``url`` for ``duration_s`` with ``bodies`` over ``connections`` and return the counts."""
    if bodies.count % THREADS:
        raise ValueError(f"{bodies.count} bodies are not a multiple of {THREADS} threads")
    argv = [
        BINARY, f"-t{THREADS}", f"-c{connections}", f"-d{duration_s}s",
        f"--timeout={REQUEST_TIMEOUT_S}s", "-s", str(SCRIPT), url,
        "--", str(bodies.directory), str(bodies.count), write_path, authorization, str(THREADS),
    ]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}:\n{output}")
    return _parse(output, cpu_s=usage.ru_utime + usage.ru_stime, wall_s=time.monotonic() - started)


def _parse(output: str, *, cpu_s: float, wall_s: float) -> WrkResult:
    for line in output.splitlines():
        if line.startswith("WRK_RESULT "):
            data: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
            break
    else:
        raise RuntimeError(f"wrk printed no WRK_RESULT line:\n{output}")
    duration_s = data["duration_us"] / 1e6 or wall_s
    return WrkResult(
        sent=data["sent"],
        ok=data["ok"],
        other_status=data["other_status"],
        wrapped=data["wrapped"],
        duration_s=duration_s,
        errors=data["errors"],
        latency_us=data["latency_us"],
        cpu_s=cpu_s,
    )
