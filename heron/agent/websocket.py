"""A small blocking WebSocket client (RFC 6455): what the agent needs and nothing more.

Why not the ``websockets`` package: importing its client costs the agent about 7.5 MiB of
resident memory (it loads OpenSSL's libcrypto through ``hashlib`` for the handshake and
mask bytes, and ``importlib.metadata`` with the ``email`` package for its version string),
and its asyncio client adds asyncio and ssl on top: together a third of the agent's RSS. The
agent sends small JSON text messages and reads small JSON acks over one connection, which
takes a few dozen lines of framing. The server side still uses a full implementation.

What is implemented (https://www.rfc-editor.org/rfc/rfc6455):

- the opening handshake (section 4.1), with ``Sec-WebSocket-Accept`` checked; no
  extensions and no subprotocols are offered, so frames never carry RSV bits;
- client frames masked with a fresh random key (section 5.3); server frames must be
  unmasked (section 5.1);
- text, binary and continuation frames reassembled into messages up to ``max_message_bytes``;
- pings answered with pongs, pings sent by :meth:`WebSocket.ping` for liveness;
- the closing handshake (section 5.5.1): a close frame is echoed, then the socket closed.

``ssl`` is imported only for ``wss://`` URLs: it maps libssl and libcrypto, several MiB that
an agent talking to ``ws://`` or ``http://`` never uses.
"""

from __future__ import annotations

import base64
import os
import select
import socket
import struct
import time
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

try:
    # The built-in SHA-1 avoids importing hashlib, which loads OpenSSL's libcrypto (about
    # 3.5 MiB resident) for one 20-byte digest per connection. CPython built without its
    # bundled hashes lacks ``_sha1``; hashlib is the fallback there.
    from _sha1 import sha1  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on how CPython was built
    from hashlib import sha1

from heron import __version__

#: Appended to the key before hashing (RFC 6455, section 1.3).
HANDSHAKE_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: Longest response head accepted in the opening handshake.
MAX_HEAD_BYTES = 16 * 1024
#: Longest message accepted from the server: acks and welcomes are under 100 bytes.
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
USER_AGENT = f"heron-agent/{__version__}"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
_DATA_OPCODES = (OP_CONTINUATION, OP_TEXT, OP_BINARY)
_CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_TOO_BIG = 1009


class WebSocketError(Exception):
    """The peer broke the protocol, or the connection ended."""


class HandshakeRefused(WebSocketError):
    """The server answered the upgrade with an HTTP status other than 101 (e.g. 403 for a bad token)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}".rstrip())
        self.status = status


class ConnectionClosed(WebSocketError):
    """The peer closed the connection, with a close frame (``code``) or without one (``code`` 1006)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"closed with code {code}" + (f" ({reason})" if reason else ""))
        self.code = code
        self.reason = reason


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``key`` (RFC 6455, section 4.2.2)."""
    return base64.b64encode(sha1((key + HANDSHAKE_GUID).encode("ascii")).digest()).decode("ascii")


#: Payloads from this size on are masked with translation tables (file transfers, tunnels).
TABLE_MASK_MIN_BYTES = 4096
#: ``_XOR_TABLES[k]`` maps each byte to itself XOR ``k``; built on the first large payload (64 KiB).
_XOR_TABLES: list[bytes] = []


def mask_payload(payload: bytes, key: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte ``key`` repeated (RFC 6455, section 5.3).

    A small payload (a report) is one big-integer XOR instead of a per-byte loop. A large
    one (a file's chunk) is four strided ``bytes.translate`` calls, one per key byte, all in
    C: about three times faster than the integer route (0.55 ms against 1.5 ms per 256 KiB
    here), which is what bounds a download from the agent.
    """
    if not payload:
        return b""
    n = len(payload)
    if n < TABLE_MASK_MIN_BYTES:
        repeated = (key * (n // 4 + 1))[:n]
        return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")
    if not _XOR_TABLES:
        _XOR_TABLES.extend(bytes(i ^ k for i in range(256)) for k in range(256))
    out = bytearray(payload)
    for i in range(4):
        out[i::4] = payload[i::4].translate(_XOR_TABLES[key[i]])
    return bytes(out)


def encode_frame(opcode: int, payload: bytes, *, mask_key: bytes | None = None) -> bytes:
    """One final frame from the client: masked with ``mask_key`` (random when not given)."""
    key = os.urandom(4) if mask_key is None else mask_key
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + key + mask_payload(payload, key)


def decode_frame(buffer: bytearray, *, max_bytes: int) -> tuple[bool, int, bytes] | None:
    """The first whole server frame in ``buffer`` as ``(fin, opcode, payload)``, removed from it.

    None while the frame is incomplete. A masked frame, RSV bits (no extension was
    negotiated), an unknown opcode, a fragmented or long control frame and a frame over
    ``max_bytes`` raise :class:`WebSocketError`.
    """
    if len(buffer) < 2:
        return None
    first, second = buffer[0], buffer[1]
    fin, rsv, opcode = bool(first & 0x80), first & 0x70, first & 0x0F
    if rsv:
        raise WebSocketError("the server set RSV bits without an extension")
    if opcode not in _DATA_OPCODES and opcode not in _CONTROL_OPCODES:
        raise WebSocketError(f"unknown opcode {opcode:#x}")
    if second & 0x80:
        raise WebSocketError("the server masked a frame")
    length, offset = second & 0x7F, 2
    if opcode in _CONTROL_OPCODES and (not fin or length > 125):
        raise WebSocketError("a control frame was fragmented or longer than 125 bytes")
    if length == 126:
        if len(buffer) < 4:
            return None
        (length,), offset = struct.unpack_from("!H", buffer, 2), 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        (length,), offset = struct.unpack_from("!Q", buffer, 2), 10
    if length > max_bytes:
        raise WebSocketError(f"a frame of {length} bytes is over the {max_bytes}-byte limit")
    if len(buffer) < offset + length:
        return None
    payload = bytes(buffer[offset : offset + length])
    del buffer[: offset + length]
    return fin, opcode, payload


class WebSocket:
    """One client connection on a blocking socket; every call is bounded by ``timeout``."""

    def __init__(
        self, sock: socket.socket, *, leftover: bytes = b"", max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    ) -> None:
        self.sock = sock
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray(leftover)
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self._kept: list[str | bytes] = []
        self._closed = False

    @classmethod
    def connect(
        cls, url: str, *, headers: dict[str, str] | None = None, timeout: float = 10.0, ssl_context: Any = None
    ) -> WebSocket:
        """Open ``url`` (``ws://`` or ``wss://``) and complete the opening handshake within ``timeout``.

        ``wss://`` verifies the server against the system's CAs unless ``ssl_context`` (an
        ``ssl.SSLContext``, typed loosely so this module need not import ssl) says otherwise.

        Raises :class:`HandshakeRefused` for a non-101 answer, :class:`WebSocketError` for a
        malformed one, and ``OSError`` (``TimeoutError`` included) for network failures.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise WebSocketError(f"not a WebSocket URL: {url}")
        secure = parts.scheme == "wss"
        port = parts.port or (443 if secure else 80)
        sock = socket.create_connection((parts.hostname, port), timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if secure:
                if ssl_context is None:
                    import ssl  # only here: see the module docstring

                    ssl_context = ssl.create_default_context()
                sock = ssl_context.wrap_socket(sock, server_hostname=parts.hostname)
            key = base64.b64encode(os.urandom(16)).decode("ascii")
            host = parts.netloc.rpartition("@")[2]
            lines = [
                f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
                f"Host: {host}",
                "Upgrade: websocket",
                "Connection: Upgrade",
                f"Sec-WebSocket-Key: {key}",
                "Sec-WebSocket-Version: 13",
                f"User-Agent: {USER_AGENT}",
            ]
            lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            head, leftover = _read_head(sock)
            _check_handshake(head, key)
        except BaseException:
            sock.close()
            raise
        return cls(sock, leftover=leftover)

    def __enter__(self) -> WebSocket:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def send_text(self, text: str) -> None:
        """Send one text message (blocks until the bytes are in the socket's buffer)."""
        self._send(OP_TEXT, text.encode("utf-8"))

    def send_binary(self, data: bytes) -> None:
        """Send one binary message (the command channel's stream data)."""
        self._send(OP_BINARY, data)

    def ping(self, payload: bytes = b"") -> None:
        """Send a ping; the pong (or any other frame) shows the connection is alive."""
        self._send(OP_PING, payload)

    def pending(self) -> bool:
        """Whether a message can be had without waiting: ``select`` does not see bytes read already.

        That is a message kept by :meth:`receive`, a whole frame in the buffer, or bytes that
        TLS decrypted but this object has not read yet.
        """
        tls_pending = getattr(self.sock, "pending", None)
        return bool(self._kept) or _frame_complete(self._buffer) or bool(tls_pending and tls_pending())

    def receive_available(self) -> list[str | bytes]:
        """The whole messages that arrived, reading the socket once unless enough is buffered.

        Call it when the socket is readable or :meth:`pending` is true, else it blocks for up to
        the socket's timeout. Pings are answered and pongs swallowed here. A close frame is
        answered and raises :class:`ConnectionClosed`; so does the end of the stream.
        """
        if self._kept:
            messages, self._kept = self._kept, []
            return messages
        if not _frame_complete(self._buffer):
            self._fill()
        return self._drain_messages()

    def receive(self, timeout: float) -> str | bytes:
        """The next message, waiting at most ``timeout`` seconds (``TimeoutError`` after that)."""
        deadline = time.monotonic() + timeout
        messages: list[str | bytes] = []
        while not messages:
            if not self.pending():
                ready, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    raise TimeoutError(f"no message from the server within {timeout:g} s")
            messages = self.receive_available()
        self._kept = messages[1:]
        return messages[0]

    def close(self, code: int = CLOSE_NORMAL) -> None:
        """Send a close frame (best effort) and close the socket; the peer's answer is not awaited."""
        if self._closed:
            return
        self._closed = True
        try:
            self._send(OP_CLOSE, struct.pack("!H", code))
        except OSError:
            pass
        finally:
            self.sock.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        if self._closed and opcode != OP_CLOSE:
            raise ConnectionClosed(1006, "the connection is closed")
        self.sock.sendall(encode_frame(opcode, payload))

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            self._closed = True
            self.sock.close()
            raise ConnectionClosed(1006, "the server closed the socket without a close frame")
        self._buffer += chunk

    def _drain_messages(self) -> list[str | bytes]:
        messages: list[str | bytes] = []
        while True:
            try:
                frame = decode_frame(self._buffer, max_bytes=self.max_message_bytes)
            except WebSocketError:
                self.close(CLOSE_PROTOCOL_ERROR)
                raise
            if frame is None:
                return messages
            fin, opcode, payload = frame
            if opcode == OP_PING:
                self._send(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                self._on_close(payload)
            elif opcode != OP_PONG:
                message = self._assemble(fin, opcode, payload)
                if message is not None:
                    messages.append(message)

    def _assemble(self, fin: bool, opcode: int, payload: bytes) -> str | bytes | None:
        if opcode == OP_CONTINUATION and not self._fragments:
            self.close(CLOSE_PROTOCOL_ERROR)
            raise WebSocketError("a continuation frame without a message to continue")
        if opcode != OP_CONTINUATION:
            if self._fragments:
                self.close(CLOSE_PROTOCOL_ERROR)
                raise WebSocketError("a new message started before the last one ended")
            self._fragment_opcode = opcode
        self._fragments.append(payload)
        if sum(map(len, self._fragments)) > self.max_message_bytes:
            self.close(CLOSE_TOO_BIG)
            raise WebSocketError(f"a message over the {self.max_message_bytes}-byte limit")
        if not fin:
            return None
        data, self._fragments = b"".join(self._fragments), []
        if self._fragment_opcode == OP_BINARY:
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.close(1007)
            raise WebSocketError("a text message that is not UTF-8") from None

    def _on_close(self, payload: bytes) -> None:
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        reason = payload[2:].decode("utf-8", errors="replace")
        self.close(code if len(payload) >= 2 else CLOSE_NORMAL)
        raise ConnectionClosed(code, reason)


def _frame_complete(buffer: bytearray) -> bool:
    """Whether ``buffer`` starts with a whole frame (its length fields and payload are all there)."""
    if len(buffer) < 2:
        return False
    length, offset = buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return False
        length, offset = struct.unpack_from("!H", buffer, 2)[0], 4
    elif length == 127:
        if len(buffer) < 10:
            return False
        length, offset = struct.unpack_from("!Q", buffer, 2)[0], 10
    return len(buffer) >= offset + length


def _read_head(sock: Any) -> tuple[bytes, bytes]:
    """The HTTP response head up to the blank line, and the bytes read past it (early frames)."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            raise WebSocketError(f"the handshake response is over {MAX_HEAD_BYTES} bytes")
        chunk = sock.recv(4096)
        if not chunk:
            raise WebSocketError("the server closed the connection during the handshake")
        data += chunk
    head, _, leftover = data.partition(b"\r\n\r\n")
    return head, leftover


def _check_handshake(head: bytes, key: str) -> None:
    """Raise unless ``head`` is a 101 that upgrades to WebSocket and proves it read ``key``."""
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise WebSocketError(f"not an HTTP response: {status_line[:80]!r}")
    if int(code) != 101:
        raise HandshakeRefused(int(code), reason)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket":
        raise WebSocketError("the server did not upgrade to websocket")
    if "upgrade" not in [token.strip().lower() for token in headers.get("connection", "").split(",")]:
        raise WebSocketError("the server's Connection header lacks 'upgrade'")
    if headers.get("sec-websocket-accept") != accept_key(key):
        raise WebSocketError("the server's Sec-WebSocket-Accept does not match the key")
    if headers.get("sec-websocket-extensions") or headers.get("sec-websocket-protocol"):
        raise WebSocketError("the server chose an extension or subprotocol the agent did not offer")
