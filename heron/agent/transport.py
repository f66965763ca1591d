"""The agent's connection: one WebSocket, host info on connect, status every interval.

Collection and sending are separate threads joined by a bounded backlog: reports are collected
on schedule whether or not the server is reachable, and sent oldest first once it is. The
backlog drops the oldest report when full, so a long outage costs bounded memory and the
server still gets the most recent stretch of history. A report is forgotten only when the
server acknowledges its ``seq``: a WebSocket ``send`` returns once the bytes are in the
socket's buffer, so reports in flight when a connection dies would otherwise be lost. Sent
but unacknowledged reports go back to the front of the backlog; the price is that a report
whose ack was lost is sent twice.

The agent uses no asyncio: a collector thread wakes on a timer, and the sending thread blocks in
``select`` on the socket and a wake-up socket pair, so between reports the process sleeps in
the kernel. This, and the small client in :mod:`heron.agent.websocket`, keep the agent's
memory near the interpreter's own (see docs/agent.md, "Footprint").

A connection that stays silent is checked with a ping after ``ping_interval_seconds`` and
given up after ``ping_timeout_seconds`` more without a byte from the server, as the
``websockets`` library does by default (20 s and 20 s): a server that vanished without
closing its TCP connection is noticed in under a minute instead of at the kernel's
retransmission timeout.

Reconnects wait with exponential backoff and full jitter (a random delay between zero and the
current cap), so a fleet of agents that lost the server at the same moment does not come
back at the same moment.

The wire format, one JSON text message each::

    {"type": "host", "agent_id": "...", "name": "...", "host": {...}}   first, once per connection
    {"type": "status", "seq": 1, "ts": 1700000000.5, "status": {...}} then one per report

The server answers the first message with ``{"type": "welcome", "server_id": 1, "name": "..."}``
and each report with ``{"type": "ack", "seq": 1}``. Other message families share the connection:
:meth:`AgentLink.send` queues a message of theirs (numbered and acknowledged like reports, e.g.
``probe_results``), and a message from the server goes to the handler of its ``type`` in
:attr:`AgentLink.handlers` (e.g. ``probes``, the monitors to run); acks are handled here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from heron.agent.websocket import HandshakeRefused, WebSocket, WebSocketError

log = logging.getLogger(__name__)

#: Reports kept while the server is away: one hour at the default 3 s interval.
DEFAULT_BACKLOG_REPORTS = 1200
#: First reconnect delay and the most a delay may grow to.
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0
#: Connecting, the TLS and WebSocket handshakes, and each send must finish within this.
OPEN_TIMEOUT_SECONDS = 10.0
#: How long the server may take to answer the host block with its welcome.
WELCOME_TIMEOUT_SECONDS = 30.0
#: Silence after which the agent pings, and then gives the connection up.
PING_INTERVAL_SECONDS = 20.0
PING_TIMEOUT_SECONDS = 20.0
#: The server's path for agents.
AGENT_PATH = "/api/v1/agent/ws"


def backoff_delays(
    *, base_seconds: float = BACKOFF_BASE_SECONDS, cap_seconds: float = BACKOFF_CAP_SECONDS, rng: random.Random
) -> Iterator[float]:
    """Delays before each reconnect: uniform in [0, min(cap, base * 2**attempt)] ("full jitter")."""
    attempt = 0
    while True:
        yield rng.uniform(0, min(cap_seconds, base_seconds * 2**attempt))
        attempt = min(attempt + 1, 32)


@dataclass
class Backlog:
    """Reports not yet sent, oldest first; the oldest is dropped when ``limit`` is reached.

    Not thread-safe by itself: :class:`AgentLink` holds its lock around every use.
    """

    limit: int = DEFAULT_BACKLOG_REPORTS
    items: deque[dict[str, Any]] = field(default_factory=deque)
    dropped: int = 0

    def add(self, report: dict[str, Any]) -> None:
        if len(self.items) >= self.limit:
            self.items.popleft()
            self.dropped += 1
        self.items.append(report)

    def requeue(self, reports: deque[dict[str, Any]]) -> None:
        """Put back reports sent but not acknowledged, before the newer ones, within ``limit``."""
        self.items.extendleft(reversed(reports))
        while len(self.items) > self.limit:
            self.items.popleft()
            self.dropped += 1

    def __len__(self) -> int:
        return len(self.items)


def ws_url(server_url: str) -> str:
    """The agent endpoint for a server's base URL (``http://h:p`` -> ``ws://h:p/api/v1/agent/ws``)."""
    base = server_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    elif not base.startswith(("ws://", "wss://")):
        base = "ws://" + base
    return base + AGENT_PATH


@dataclass
class AgentLink:
    """Everything the connection loop needs; ``collect_host`` and ``collect_status`` are the collectors."""

    server_url: str
    token: str
    agent_id: str
    name: str
    interval_seconds: float
    collect_host: Callable[[], dict[str, Any]]
    collect_status: Callable[[], dict[str, Any]]
    backlog: Backlog = field(default_factory=Backlog)
    rng: random.Random = field(default_factory=random.Random)
    ping_interval_seconds: float = PING_INTERVAL_SECONDS
    ping_timeout_seconds: float = PING_TIMEOUT_SECONDS
    #: Handlers of the server's messages by ``type`` (besides acks); called on the connection's thread.
    handlers: dict[str, Callable[[dict[str, Any]], None]] = field(default_factory=dict)
    _seq: int = field(default=0, init=False)
    _connected_once: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _wake_pair: tuple[socket.socket, socket.socket] = field(default_factory=socket.socketpair, init=False, repr=False)
    _tls: Any = field(default=None, init=False, repr=False)
    #: The command channel (:class:`heron.agent.commands.CommandChannel`), or None.
    channel: Any = None

    def __post_init__(self) -> None:
        for end in self._wake_pair:
            end.setblocking(False)
        if self.channel is not None:
            self.channel.set_wake(self._wake)

    def run(self) -> None:
        """Collect and send until :meth:`stop` is called (or the thread is interrupted)."""
        collector = threading.Thread(target=self._collect_forever, name="heron-agent-collect", daemon=True)
        collector.start()
        try:
            self._connect_forever()
        finally:
            self.stop()
            collector.join(timeout=OPEN_TIMEOUT_SECONDS)
            for end in self._wake_pair:
                end.close()

    def stop(self) -> None:
        """Ask :meth:`run` to close the connection and return; safe from other threads and signal handlers."""
        self._stopping.set()
        self._wake()

    def _wake(self) -> None:
        # Full means a wake-up is already pending; closed means the link has stopped.
        with contextlib.suppress(OSError):
            self._wake_pair[1].send(b"\0")

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message for the server; it gets a ``seq`` and is kept until acknowledged. Any thread."""
        with self._lock:
            self._seq += 1
            self.backlog.add({**message, "seq": self._seq})
        self._wake()

    def _collect_forever(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                status = self.collect_status()
            except Exception:  # one failed collection must not end the reports
                log.exception("collecting status failed; trying again next interval")
            else:
                with self._lock:
                    self._seq += 1
                    self.backlog.add({"type": "status", "seq": self._seq, "ts": time.time(), "status": status})
                self._wake()
            self._stopping.wait(max(0.0, self.interval_seconds - (time.monotonic() - started)))

    def _connect_forever(self) -> None:
        delays = backoff_delays(rng=self.rng)
        url = ws_url(self.server_url)
        while not self._stopping.is_set():
            try:
                with WebSocket.connect(
                    url,
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=OPEN_TIMEOUT_SECONDS,
                    ssl_context=self._tls_context(url),
                ) as ws:
                    self._session(ws)
            except HandshakeRefused as exc:
                log.warning("the server refused the agent: HTTP %s", exc.status)
            except (OSError, WebSocketError, ValueError) as exc:
                log.warning("connection to %s lost: %s", url, exc)
            else:
                continue  # the session ended because the agent is stopping
            delays = self._reset_if_connected(delays)
            delay = next(delays)
            with self._lock:
                waiting = len(self.backlog)
            log.info("reconnecting in %.1f s (%d reports waiting)", delay, waiting)
            self._stopping.wait(delay)

    def _tls_context(self, url: str) -> Any:
        """One ``ssl.SSLContext`` for every reconnect to a ``wss://`` server, None for ``ws://``.

        Made once: each context parses the system's CA bundle (about 2 MiB for 150
        certificates), which a new context per reconnect would repeat. ssl is imported here
        only, so an agent talking plain ``ws://`` never maps libssl.
        """
        if not url.startswith("wss://"):
            return None
        if self._tls is None:
            import ssl

            self._tls = ssl.create_default_context()
        return self._tls

    def _reset_if_connected(self, delays: Iterator[float]) -> Iterator[float]:
        """A connection that got as far as the welcome starts the backoff over."""
        if self._connected_once:
            self._connected_once = False
            return backoff_delays(rng=self.rng)
        return delays

    def _session(self, ws: WebSocket) -> None:
        """Introduce the host, then send reports as they come and read acks until the connection fails."""
        try:
            host = self.collect_host()
        except Exception:  # status is still worth sending without host facts
            log.exception("collecting host info failed; connecting without it")
            host = {}
        hello = {"type": "host", "agent_id": self.agent_id, "name": self.name, "host": host}
        if self.channel is not None:
            hello.update(self.channel.hello())
        ws.send_text(json.dumps(hello))
        welcome = json.loads(ws.receive(timeout=WELCOME_TIMEOUT_SECONDS))
        if not isinstance(welcome, dict):
            raise WebSocketError(f"expected the welcome object, got {welcome!r:.80}")
        self._connected_once = True
        log.info("connected as server %s (%s)", welcome.get("server_id"), welcome.get("name"))
        inflight: deque[dict[str, Any]] = deque()
        wake = self._wake_pair[0]
        heard = time.monotonic()
        pinged: float | None = None
        try:
            while not self._stopping.is_set():
                self._send_backlog(ws, inflight)
                busy = self._send_channel(ws)
                now = time.monotonic()
                if pinged is None and now - heard >= self.ping_interval_seconds:
                    ws.ping()
                    pinged = now
                if pinged is not None and now - pinged >= self.ping_timeout_seconds:
                    raise TimeoutError(f"no answer from the server within {self.ping_timeout_seconds:g} s of a ping")
                until = pinged + self.ping_timeout_seconds if pinged is not None else heard + self.ping_interval_seconds
                wait = 0.0 if busy else max(0.0, until - now)
                ready = [ws.sock] if ws.pending() else select.select([ws.sock, wake], [], [], wait)[0]
                if wake in ready:
                    _drain(wake)
                if ws.sock in ready:
                    for message in ws.receive_available():
                        if self.channel is None or not self.channel.on_message(message):
                            self._dispatch(message, inflight)
                    heard, pinged = time.monotonic(), None
        finally:
            with self._lock:
                self.backlog.requeue(inflight)
            if self.channel is not None:
                self.channel.disconnected()

    def _send_channel(self, ws: WebSocket) -> bool:
        """Send what the command channel queued (after the reports); True when more is waiting."""
        if self.channel is None:
            return False
        for message in self.channel.outgoing():
            if isinstance(message, bytes):
                ws.send_binary(message)
            else:
                ws.send_text(message)
        return bool(self.channel.pending())

    def _dispatch(self, message: str | bytes, inflight: deque[dict[str, Any]]) -> None:
        """An ack forgets what it acknowledges; any other message goes to its type's handler."""
        try:
            msg = json.loads(message)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        kind = msg.get("type")
        if kind == "ack":
            _forget_acknowledged(msg, inflight)
            return
        handler = self.handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            return
        try:
            handler(msg)
        except Exception:  # one family's bug must not end the connection
            log.exception("handling a %r message failed", kind)

    def _send_backlog(self, ws: WebSocket, inflight: deque[dict[str, Any]]) -> None:
        """Send waiting reports oldest first; each stays in ``inflight`` until the server acks it."""
        while True:
            with self._lock:
                if not self.backlog.items:
                    return
                report = self.backlog.items.popleft()
            inflight.append(report)
            ws.send_text(json.dumps(report))


def _drain(wake: socket.socket) -> None:
    """Empty the wake-up socket, so the next ``select`` sleeps until something new happens."""
    try:
        while wake.recv(4096):
            pass
    except (BlockingIOError, InterruptedError):
        pass


def _forget_acknowledged(msg: dict[str, Any], inflight: deque[dict[str, Any]]) -> None:
    """Forget sent messages as the server acknowledges them (``{"type": "ack", "seq": n}``)."""
    if isinstance(msg.get("seq"), int):
        while inflight and inflight[0]["seq"] <= msg["seq"]:
            inflight.popleft()
