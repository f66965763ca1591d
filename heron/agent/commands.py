"""The agent's end of the command channel: typed requests from the server, beside the reports.

Every capability is off unless the agent's owner turned it on (``heron agent --allow
exec,terminal,files,nat``, or ``allow = [...]`` in its config file). The agent names what it
allows in its host message, and refuses anything else itself, whatever the server asks:
the server's checks are a convenience, this one is the guarantee.

The wire format shares the agent's WebSocket with the reports (see
:mod:`heron.agent.transport`). Control messages are JSON text frames whose ``type`` starts
with ``op.``; stream data are binary frames, a 4-byte big-endian stream id and the payload
(an empty payload ends that direction)::

    server -> agent  {"type": "op.open", "id": 7, "kind": "exec", "args": {...}}
                     {"type": "op.credit", "id": 7, "bytes": 262144}      room for more data
                     {"type": "op.cancel", "id": 7}
                     {"type": "op.resize", "id": 7, "cols": 120, "rows": 40}
    agent -> server  {"type": "op.reply", "id": 7, "result": {...}}        a stream is open
                     {"type": "op.end", "id": 7, "result": {...}}          done (after all data)
                     {"type": "op.error", "id": 7, "code": "refused", "error": "..."}
                     {"type": "op.credit", "id": 7, "bytes": 262144}

Back-pressure is by credit, as in HTTP/2: each side may have at most :data:`WINDOW_BYTES` of a
stream's data unread by the other, and grants more as it consumes. So neither side buffers
more than a window per stream, and the sending thread, which sends waiting reports before any
stream data, is never stuck behind a slow terminal or download.

Capability code (subprocesses, PTYs, files, sockets) lives in :mod:`heron.agent.operations`
and is imported only when the first operation its owner allowed arrives.
"""

from __future__ import annotations

import json
import logging
import struct
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: What an owner can allow, and the request kinds each one opens.
CAPABILITIES = ("exec", "terminal", "files", "nat")
KIND_CAPABILITY = {
    "exec": "exec",
    "pty": "terminal",
    "file.list": "files",
    "file.read": "files",
    "file.write": "files",
    "tunnel": "nat",
    "config.get": None,
    "config.set": None,
}
#: Unread stream data one side may have in flight; also the credit granted at once.
WINDOW_BYTES = 1024 * 1024
#: Largest payload of one data frame.
MAX_FRAME_BYTES = 256 * 1024
#: How long a thread may hold the GIL while another waits, once operations run (CPython: 5 ms).
GIL_SWITCH_SECONDS = 0.0005
#: Operations running at once; more are refused (``busy``) rather than queued.
MAX_OPERATIONS = 64
_ID = struct.Struct("!I")


class OpError(Exception):
    """An operation failed in a way the server should show: ``code`` is a short word, the message says what."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Cancelled(OpError):
    def __init__(self) -> None:
        super().__init__("cancelled", "the operation was cancelled")


class Stream:
    """One operation's stream, as its handler sees it: read what the server sends, send data back."""

    def __init__(self, channel: CommandChannel, op_id: int, kind: str, args: dict[str, Any]) -> None:
        self.channel = channel
        self.id = op_id
        self.kind = kind
        self.args = args
        self.cancelled = threading.Event()
        #: The server cancelled it: it has forgotten the operation, so no end is sent.
        self.cancelled_by_server = False
        self._cond = threading.Condition()
        self._credit = WINDOW_BYTES
        self._inbox: deque[bytes] = deque()
        self._eof = False
        self._unacked = 0
        self.on_control: Callable[[dict[str, Any]], None] | None = None

    # -- from the server ----------------------------------------------------------------------

    def _feed(self, payload: bytes) -> None:
        with self._cond:
            if payload:
                self._inbox.append(payload)
            else:
                self._eof = True
            self._cond.notify_all()

    def _grant(self, count: int) -> None:
        with self._cond:
            self._credit += count
            self._cond.notify_all()

    def _cancel(self) -> None:
        self.cancelled.set()
        with self._cond:
            self._cond.notify_all()

    def read(self, timeout: float | None = None) -> bytes | None:
        """The next data the server sent, ``None`` at its end; raises :class:`Cancelled`.

        ``timeout`` (seconds) returns ``b""`` when nothing came in time.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._inbox or self._eof or self.cancelled.is_set(), timeout):
                return b""
            if self.cancelled.is_set():
                raise Cancelled()
            if not self._inbox:
                return None
            data = self._inbox.popleft()
            self._unacked += len(data)
            grant = self._unacked if self._unacked >= WINDOW_BYTES // 4 else 0
            if grant:
                self._unacked = 0
        if grant:
            self.channel.queue_control({"type": "op.credit", "id": self.id, "bytes": grant})
        return data

    # -- to the server ------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Send ``data``, waiting for credit; raises :class:`Cancelled` when the operation ends first."""
        view = memoryview(data)
        while view:
            with self._cond:
                self._cond.wait_for(lambda: self._credit > 0 or self.cancelled.is_set())
                if self.cancelled.is_set():
                    raise Cancelled()
                size = min(len(view), self._credit, MAX_FRAME_BYTES)
                self._credit -= size
            self.channel.queue_data(self.id, bytes(view[:size]))
            view = view[size:]

    def reply(self, result: dict[str, Any]) -> None:
        """Tell the server the stream is open (a file's size, say) before its data."""
        self.channel.queue_control({"type": "op.reply", "id": self.id, "result": result})


Handler = Callable[[Stream], dict[str, Any]]


class CommandChannel:
    """Takes ``op.*`` messages off the connection and runs each operation in a thread of its own.

    The connection's thread calls :meth:`on_message` and :meth:`outgoing`; handlers call
    back into :class:`Stream`. Everything here is thread-safe.
    """

    def __init__(self, options: Any) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._streams: dict[int, Stream] = {}
        # Credits and replies jump the queue; data, ends and errors keep their order, so an
        # operation's end never overtakes its last data.
        self._control: deque[str] = deque()
        self._data: deque[str | bytes] = deque()
        self._wake: Callable[[], None] = lambda: None
        self._handlers: dict[str, Handler] | None = None

    def set_wake(self, wake: Callable[[], None]) -> None:
        """How to wake the sending thread when something is queued."""
        self._wake = wake

    def hello(self) -> dict[str, Any]:
        """What the host message says of the channel: the capabilities allowed here."""
        return {"ops": {"version": 1, "allow": sorted(self.options.allow)}}

    # -- the connection's side -----------------------------------------------------------------

    def on_message(self, message: str | bytes) -> bool:
        """Handle one message if it is the channel's; ``False`` leaves it to the reports' code."""
        if isinstance(message, bytes):
            if len(message) >= _ID.size:
                (op_id,) = _ID.unpack_from(message)
                stream = self._get(op_id)
                if stream is not None:
                    stream._feed(message[_ID.size :])
            return True
        if '"op.' not in message[:24]:  # an acknowledgement or a welcome
            return False
        try:
            msg = json.loads(message)
        except ValueError:
            return True
        if not isinstance(msg, dict) or not isinstance(msg.get("id"), int):
            return True
        kind, op_id = msg.get("type"), msg["id"]
        if kind == "op.open":
            args = msg.get("args")
            self._open(op_id, str(msg.get("kind", "")), args if isinstance(args, dict) else {})
            return True
        stream = self._get(op_id)
        if stream is None:
            return True
        if kind == "op.credit" and isinstance(msg.get("bytes"), int) and msg["bytes"] > 0:
            stream._grant(msg["bytes"])
        elif kind == "op.cancel":
            stream.cancelled_by_server = True
            stream._cancel()
        elif stream.on_control is not None:
            stream.on_control(msg)
        return True

    def outgoing(self, max_bytes: int = 4 * MAX_FRAME_BYTES) -> list[str | bytes]:
        """Queued messages to send now: every control message, then data up to ``max_bytes``."""
        out: list[str | bytes] = []
        with self._lock:
            while self._control:
                out.append(self._control.popleft())
            size = 0
            while self._data and size < max_bytes:
                frame = self._data.popleft()
                size += len(frame)
                out.append(frame)
        return out

    def pending(self) -> bool:
        with self._lock:
            return bool(self._control or self._data)

    def disconnected(self) -> None:
        """The connection ended: every operation is cancelled (the server forgot them too)."""
        with self._lock:
            streams = list(self._streams.values())
            self._streams.clear()
            self._control.clear()
            self._data.clear()
        for stream in streams:
            stream._cancel()

    # -- the handlers' side --------------------------------------------------------------------

    def queue_control(self, message: dict[str, Any], *, ordered: bool = False) -> None:
        """Queue a control message: ahead of waiting data, or after it when ``ordered``."""
        text = json.dumps(message, separators=(",", ":"))
        with self._lock:
            (self._data if ordered else self._control).append(text)
        self._wake()

    def queue_data(self, op_id: int, payload: bytes) -> None:
        with self._lock:
            self._data.append(_ID.pack(op_id) + payload)
        self._wake()

    def _get(self, op_id: int) -> Stream | None:
        with self._lock:
            return self._streams.get(op_id)

    def _open(self, op_id: int, kind: str, args: dict[str, Any]) -> None:
        if kind not in KIND_CAPABILITY:
            self._error(op_id, "unknown", f"this agent does not know the operation {kind!r}")
            return
        needed = KIND_CAPABILITY[kind]
        if needed is not None and needed not in self.options.allow:
            log.warning("refused %s: %s is not allowed on this agent", kind, needed)
            self._error(
                op_id, "refused", f"this agent does not allow {needed}; its owner can start it with --allow {needed}"
            )
            return
        stream = Stream(self, op_id, kind, args)
        with self._lock:
            if op_id in self._streams or len(self._streams) >= MAX_OPERATIONS:
                busy = True
            else:
                busy = False
                self._streams[op_id] = stream
        if busy:
            self._error(op_id, "busy", f"this agent runs {MAX_OPERATIONS} operations already; try again")
            return
        threading.Thread(target=self._run, args=(stream,), name=f"heron-op-{kind}", daemon=True).start()

    def _run(self, stream: Stream) -> None:
        try:
            handler = self._handler(stream.kind)
            result = handler(stream)
        except OpError as exc:
            if not stream.cancelled.is_set() or not isinstance(exc, Cancelled):
                self._error(stream.id, exc.code, exc.message)
        except Exception as exc:  # one failed operation must not take the agent down
            log.exception("operation %s failed", stream.kind)
            self._error(stream.id, "failed", f"{type(exc).__name__}: {exc}"[:500])
        else:
            if not stream.cancelled_by_server:
                self.queue_control({"type": "op.end", "id": stream.id, "result": result}, ordered=True)
        finally:
            with self._lock:
                self._streams.pop(stream.id, None)

    def _error(self, op_id: int, code: str, message: str) -> None:
        self.queue_control({"type": "op.error", "id": op_id, "code": code, "error": message}, ordered=True)

    def _handler(self, kind: str) -> Handler:
        if self._handlers is None:
            import sys

            from heron.agent import operations  # only once an allowed operation arrives

            self._handlers = operations.handlers(self.options)
            # Streams hand data between threads; at CPython's 5 ms switch interval each handoff
            # could wait that long for the GIL (a keystroke's echo, a NAT request).
            sys.setswitchinterval(GIL_SWITCH_SECONDS)
        return self._handlers[kind]
