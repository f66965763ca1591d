"""One running instance of a system under test, owned by the benchmark.

Each instance gets a free port on 127.0.0.1 and its own directory, so nothing collides with
a system-wide install (Debian's packages ship services we never start) and everything is
removed afterwards. Stopping is always graceful first (SIGTERM, as an init system would),
because bytes on disk are only meaningful after a clean shutdown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import httpx

from bench.procs import free_port, wait_until

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 180.0
LOG_TAIL_BYTES = 3_000
SETTLE_TIMEOUT_S = 60.0
SETTLE_INTERVAL_S = 1.0


class ServerFailed(RuntimeError):
    """The server exited, or never became ready; the message ends with its log's tail."""


def describe_failure(exc: BaseException, *, max_lines: int = 4) -> str:
    """A short account of a failed phase for the results: the first line of the message
    and the last lines of any log tail it carries (a traceback's last lines say why)."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    if len(lines) > max_lines:
        lines = [lines[0], "...", *lines[-(max_lines - 1) :]]
    return f"{type(exc).__name__}: " + "\n".join(lines)


#: What a failed benchmark phase raises: the report records it and the run goes on.
PHASE_ERRORS: tuple[type[Exception], ...] = (
    ServerFailed,
    httpx.HTTPError,
    TimeoutError,
    RuntimeError,
    ValueError,
    KeyError,
    IndexError,
    OSError,
)


@dataclass(frozen=True, slots=True)
class PointCount:
    """Points a system holds: all rows, and distinct (hostname, time) pairs among them."""

    points: int
    distinct_points: int


def debian_version(package: str) -> str:
    """The installed version of a Debian package (some binaries do not know their own)."""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return f"{done.stdout.strip()} (Debian package {package})" if done.returncode == 0 else "unknown"


class Server(ABC):
    """A system under test, started as a child process on 127.0.0.1."""

    key: ClassVar[str]
    label: ClassVar[str]
    #: The database (or equivalent) every benchmark writes to.
    database: ClassVar[str] = "bench"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path = workdir / "server.log"

    # What each system provides.

    @abstractmethod
    def command(self) -> list[str]:
        """The argv that starts the server on ``self.port`` with ``self.data_dir``."""

    @abstractmethod
    def ready(self, client: httpx.Client) -> bool:
        """Whether the server answers its health check."""

    @abstractmethod
    def create_database(self, client: httpx.Client) -> None:
        """Create ``self.database`` (a no-op for systems without databases)."""

    @abstractmethod
    def write_path(self) -> str:
        """Path and query of the line-protocol write endpoint, nanosecond precision."""

    @abstractmethod
    def count_points(self, client: httpx.Client, *, start_ns: int, end_ns: int) -> PointCount:
        """Count the ``cpu`` points stored with ``start_ns <= time < end_ns``."""

    @abstractmethod
    def version(self) -> str:
        """The version string of the installed binary."""

    @classmethod
    @abstractmethod
    def missing(cls) -> str | None:
        """Why this system cannot run here, or None when it can."""

    def environment(self) -> dict[str, str]:
        """Environment variables for the server process, on top of ours."""
        return {}

    def headers(self) -> dict[str, str]:
        """Headers every request needs (credentials)."""
        return {}

    def flush(self, client: httpx.Client) -> None:
        """Make everything written so far visible to queries and ready to be persisted.

        Most systems acknowledge a write only once it is searchable, so this does nothing.
        """
        return None

    def count_settled(self, client: httpx.Client, *, start_ns: int, end_ns: int) -> tuple[PointCount, PointCount]:
        """Count until two counts a second apart agree; return the first and the last.

        VictoriaMetrics acknowledges writes before they are searchable (even after
        `/internal/force_flush` a few bodies may still be missing for a second or two),
        so one count straight after a run would report acknowledged points as lost.
        """
        self.flush(client)
        first = last = self.count_points(client, start_ns=start_ns, end_ns=end_ns)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            time.sleep(SETTLE_INTERVAL_S)
            self.flush(client)
            current = self.count_points(client, start_ns=start_ns, end_ns=end_ns)
            if current == last:
                break
            last = current
        return first, last

    # Process handling shared by all systems.

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ServerFailed(f"{self.label} is not running")
        return self._process.pid

    def client(self, *, timeout_s: float = 300.0) -> httpx.Client:
        """An HTTP client bound to this server, with its credentials."""
        return httpx.Client(base_url=self.base_url, headers=self.headers(), timeout=timeout_s)

    def start(self) -> None:
        """Start on a fresh free port and wait until the health check passes."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        log = self._log_path.open("ab")
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env={**os.environ, **self.environment()},
        )
        log.close()
        with self.client(timeout_s=2.0) as client:

            def answered() -> bool:
                self._raise_if_exited()
                try:
                    return self.ready(client)
                except httpx.HTTPError:
                    return False

            try:
                wait_until(answered, timeout_s=START_TIMEOUT_S, what=f"{self.label} ready")
            except TimeoutError as exc:
                self.kill()
                raise ServerFailed(f"{exc}\n{self.log_tail()}") from exc

    def stop(self) -> None:
        """SIGTERM, wait for a clean exit; SIGKILL only if it does not come in time."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired as exc:
                process.kill()
                process.wait()
                self._process = None
                raise ServerFailed(f"{self.label} ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s") from exc
        self._process = None

    def kill(self) -> None:
        """SIGKILL our process, for cleanup after a failure."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None

    def _raise_if_exited(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            code = self._process.returncode
            self._process = None
            raise ServerFailed(f"{self.label} exited with {code}\n{self.log_tail()}")

    def assert_alive(self) -> None:
        """Raise ``ServerFailed`` with the log's tail if the server has exited."""
        self._raise_if_exited()

    def log_tail(self) -> str:
        """The end of the server's log, for error messages."""
        try:
            data = self._log_path.read_bytes()
        except FileNotFoundError:
            return "(no log)"
        return data[-LOG_TAIL_BYTES:].decode(errors="replace")


@contextmanager
def running(server: Server) -> Iterator[Server]:
    """Start ``server`` and make sure it is gone afterwards, even when a phase fails."""
    server.start()
    try:
        yield server
    finally:
        server.kill()
