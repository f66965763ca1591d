"""Processes under measurement: free ports, readiness polling, resource sampling, HTTP load.

Every system runs as our own child process on 127.0.0.1, so its RSS and CPU time can be
read from /proc through psutil while it works. Children are included because a server
may use worker processes to reach both cores; leaving them out would flatter it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psutil

SAMPLE_INTERVAL_S = 0.2


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """Poll ``check`` until it returns true; raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")


def _tree(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu_seconds(process: psutil.Process) -> float:
    """CPU seconds (user + system) used so far by a process, its live and reaped children."""
    total = 0.0
    for member in _tree(process):
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def tree_rss_bytes(process: psutil.Process) -> int:
    """Resident memory of a process and its children, in bytes."""
    total = 0
    for member in _tree(process):
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent not idle since boot (any process, the kernel too)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


@dataclass(frozen=True, slots=True)
class Usage:
    """Resources a process tree used between ``Sampler.start`` and ``Sampler.stop``.

    ``machine_busy_s`` is what every core did meanwhile, so the caller can tell how much
    CPU went to other processes: on a shared machine that is the noise in the figures.
    """

    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    machine_busy_s: float

    @property
    def cpu_percent(self) -> float:
        """CPU seconds per wall second, in percent of one core."""
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s else 0.0


class Sampler:
    """Samples a process tree's RSS in a thread, to catch the peak, and its CPU time.

    RSS is sampled every ``SAMPLE_INTERVAL_S``; a spike shorter than that can be missed,
    which is why the report calls it sampled peak RSS.
    """

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sampler-{pid}", daemon=True)
        self._peak_rss_bytes = 0
        self._cpu_start_s = 0.0
        self._wall_start_s = 0.0
        self._busy_start_s = 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            self._peak_rss_bytes = max(self._peak_rss_bytes, tree_rss_bytes(self._process))
            self._stop.wait(SAMPLE_INTERVAL_S)

    def start(self) -> None:
        """Take the CPU baseline and begin sampling."""
        self._cpu_start_s = tree_cpu_seconds(self._process)
        self._busy_start_s = machine_busy_seconds()
        self._wall_start_s = time.monotonic()
        self._thread.start()

    def stop(self) -> Usage:
        """Stop sampling and return what was used since ``start``."""
        cpu_s = tree_cpu_seconds(self._process) - self._cpu_start_s
        busy_s = machine_busy_seconds() - self._busy_start_s
        wall_s = time.monotonic() - self._wall_start_s
        self._stop.set()
        self._thread.join()
        self._peak_rss_bytes = max(self._peak_rss_bytes, tree_rss_bytes(self._process))
        return Usage(wall_s=wall_s, cpu_s=cpu_s, peak_rss_bytes=self._peak_rss_bytes, machine_busy_s=busy_s)


def post_round_robin(
    base_url: str,
    headers: dict[str, str],
    path: str,
    bodies: list[bytes],
    *,
    seconds: float,
    threads: int,
    counts: tuple[str, ...],
    tally: Callable[[int, httpx.Response], dict[str, int]],
    params: dict[str, str] | None = None,
    timeout_s: float = 60,
) -> dict[str, int]:
    """POST ``bodies`` round-robin to ``path`` from ``threads`` threads until ``seconds`` pass.

    ``tally(i, response)`` says what the answer to body ``i`` adds to ``counts``; the sums
    come back with ``bodies`` (requests sent) beside them.
    """
    totals = dict.fromkeys(("bodies", *counts), 0)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(offset: int) -> None:
        mine = dict.fromkeys(totals, 0)
        with httpx.Client(base_url=base_url, headers=headers, timeout=timeout_s) as client:
            i = offset
            while time.monotonic() < deadline:
                body = i % len(bodies)
                response = client.post(path, params=params, content=bodies[body])
                mine["bodies"] += 1
                for key, value in tally(body, response).items():
                    mine[key] += value
                i += threads
        with lock:
            for key, value in mine.items():
                totals[key] += value

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return totals

