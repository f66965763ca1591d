"""The agent's small WebSocket client: its framing as tables, and its behaviour against the ``websockets`` server.

The server side is a full implementation (the one Heron's server stack uses), so a frame this
client gets wrong fails the handshake or closes the connection with a protocol error.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import struct
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from heron.agent.websocket import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_TEXT,
    ConnectionClosed,
    HandshakeRefused,
    WebSocket,
    WebSocketError,
    accept_key,
    decode_frame,
    encode_frame,
    mask_payload,
)

LIMIT = 1 << 20


def server_frame(opcode: int, payload: bytes, *, fin: bool = True, first_byte_extra: int = 0) -> bytes:
    """A frame as a server sends it: unmasked."""
    first = (0x80 if fin else 0) | first_byte_extra | opcode
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", first, n) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", first, 126, n) + payload
    return struct.pack("!BBQ", first, 127, n) + payload


def test_accept_key_is_the_rfc_example() -> None:
    # RFC 6455, section 1.3.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 126, 65535, 65536, 70000])
def test_client_frames_carry_the_length_and_a_mask_that_undoes(size: int) -> None:
    payload = os.urandom(size)
    key = b"\x01\x02\x03\x04"
    frame = encode_frame(OP_TEXT, payload, mask_key=key)
    assert frame[0] == 0x80 | OP_TEXT
    assert frame[1] & 0x80, "client frames are masked"
    length, offset = frame[1] & 0x7F, 2
    if length == 126:
        length, offset = struct.unpack_from("!H", frame, 2)[0], 4
    elif length == 127:
        length, offset = struct.unpack_from("!Q", frame, 2)[0], 10
    assert length == size
    assert frame[offset : offset + 4] == key
    assert mask_payload(frame[offset + 4 :], key) == payload


@pytest.mark.parametrize("size", [0, 10, 125, 126, 300, 65535, 65536])
def test_server_frames_decode_whole_one_byte_at_a_time_and_with_trailing_bytes(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    frame = server_frame(OP_BINARY, payload)
    assert decode_frame(bytearray(frame), max_bytes=LIMIT) == (True, OP_BINARY, payload)
    buffer = bytearray()
    for i, byte in enumerate(frame):
        assert decode_frame(buffer, max_bytes=LIMIT) is None, f"decoded early after {i} bytes"
        buffer.append(byte)
    assert decode_frame(buffer, max_bytes=LIMIT) == (True, OP_BINARY, payload)
    assert buffer == bytearray()
    trailing = bytearray(frame + b"\x81\x02hi")
    assert decode_frame(trailing, max_bytes=LIMIT) == (True, OP_BINARY, payload)
    assert trailing == bytearray(b"\x81\x02hi")


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        # Bits and opcodes nobody negotiated.
        (server_frame(OP_TEXT, b"x", first_byte_extra=0x40), "RSV"),
        (server_frame(0x3, b"x"), "opcode"),
        # Servers never mask (RFC 6455, section 5.1).
        (bytes([0x81, 0x81]) + b"\x00\x00\x00\x00x", "masked"),
        # Control frames are short and whole (section 5.5).
        (server_frame(OP_PING, b"x", fin=False), "control frame"),
        (server_frame(OP_PING, b"x" * 126), "control frame"),
        # Over the limit, refused from the header alone.
        (struct.pack("!BBQ", 0x82, 127, LIMIT + 1), "limit"),
    ],
)
def test_bad_server_frames_are_refused(frame: bytes, message: str) -> None:
    with pytest.raises(WebSocketError, match=message):
        decode_frame(bytearray(frame), max_bytes=LIMIT)


def run_with_server(
    handler: Callable[[ServerConnection], Awaitable[None]],
    client: Callable[[str], None],
    *,
    process_request: Callable[[ServerConnection, Request], Response | None] | None = None,
) -> None:
    """Serve ``handler`` on a free loopback port and run the blocking ``client(url)`` in a thread."""

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
            port = server.sockets[0].getsockname()[1]
            await asyncio.wait_for(asyncio.to_thread(client, f"ws://127.0.0.1:{port}/api/v1/agent/ws"), 30)

    asyncio.run(main())


def test_text_round_trips_and_the_request_carries_the_headers() -> None:
    seen: dict[str, str] = {}

    async def echo(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen.update(path=ws.request.path, auth=ws.request.headers.get("Authorization", ""))
        async for message in ws:
            await ws.send(message)

    def client(url: str) -> None:
        with WebSocket.connect(url, headers={"Authorization": "Bearer heron_x"}, timeout=10) as ws:
            for text in ["", "hello", "é" * 200, "x" * 70000]:
                ws.send_text(text)
                assert ws.receive(timeout=10) == text

    run_with_server(echo, client)
    assert seen == {"path": "/api/v1/agent/ws", "auth": "Bearer heron_x"}


def test_fragmented_messages_are_reassembled_and_pings_answered() -> None:
    pong_seen: list[bool] = []

    async def handler(ws: ServerConnection) -> None:
        waiter = await ws.ping(b"are you there")
        await ws.send(iter(["frag", "mented", " message"]))  # one message in three frames
        await ws.send(b"\x00\x01")
        await asyncio.wait_for(waiter, 10)
        pong_seen.append(True)
        await ws.send("after the pong")
        await ws.wait_closed()

    def client(url: str) -> None:
        with WebSocket.connect(url, timeout=10) as ws:
            assert ws.receive(timeout=10) == "fragmented message"
            assert ws.receive(timeout=10) == b"\x00\x01"
            assert ws.receive(timeout=10) == "after the pong"

    run_with_server(handler, client)
    assert pong_seen == [True]


def test_a_close_from_the_server_raises_connection_closed_with_its_code() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.close(1008, "server deleted")

    def client(url: str) -> None:
        with WebSocket.connect(url, timeout=10) as ws, pytest.raises(ConnectionClosed) as caught:
            ws.receive(timeout=10)
        assert (caught.value.code, caught.value.reason) == (1008, "server deleted")

    run_with_server(handler, client)


def test_a_refused_upgrade_raises_handshake_refused_with_the_status() -> None:
    def refuse(_ws: ServerConnection, _request: Request) -> Response:
        return Response(403, "Forbidden", Headers({"Content-Length": "0"}), b"")

    async def handler(ws: ServerConnection) -> None:
        raise AssertionError("the upgrade was refused")

    def client(url: str) -> None:
        with pytest.raises(HandshakeRefused) as caught:
            WebSocket.connect(url, timeout=10)
        assert caught.value.status == 403

    run_with_server(handler, client, process_request=refuse)


def test_a_wrong_accept_key_is_refused() -> None:
    """A peer that answers 101 without reading the key (a misconfigured proxy) is not a WebSocket server."""

    async def main() -> None:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: bm90IHRoZSBrZXk=\r\n\r\n"
            )
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        def client() -> None:
            with pytest.raises(WebSocketError, match="Accept"):
                WebSocket.connect(f"ws://127.0.0.1:{port}/", timeout=10)

        async with server:
            await asyncio.wait_for(asyncio.to_thread(client), 30)

    asyncio.run(main())


def test_messages_split_across_reads_arrive_whole_and_in_order() -> None:
    """Frames cut at every byte boundary by the network still come out as the same messages."""
    frames = [
        server_frame(OP_TEXT, b"first", fin=False),
        server_frame(OP_PING, b"p"),  # control frames may sit between fragments
        server_frame(OP_CONTINUATION, b" message"),
        server_frame(OP_TEXT, b"second"),
    ]
    stream = b"".join(frames)

    class Pieces:
        """A socket whose reads return the stream a few bytes at a time."""

        def __init__(self, data: bytes, size: int) -> None:
            self.chunks = [data[i : i + size] for i in range(0, len(data), size)]
            self.sent: list[bytes] = []

        def recv(self, _n: int) -> bytes:
            return self.chunks.pop(0) if self.chunks else b""

        def sendall(self, data: bytes) -> None:
            self.sent.append(data)

        def close(self) -> None:
            pass

    for size in (1, 2, 3, 7, len(stream)):
        sock = Pieces(stream, size)
        ws = WebSocket(sock)  # type: ignore[arg-type]
        got: list[str | bytes] = []
        while sock.chunks or ws.pending():
            got += ws.receive_available()
        assert got == ["first message", "second"], size
        assert len(sock.sent) == 1 and sock.sent[0][0] == 0x80 | 0xA, "the ping was answered with a pong"


def test_a_close_frame_is_answered_before_the_socket_closes() -> None:
    class Once:
        def __init__(self) -> None:
            self.data = [server_frame(OP_CLOSE, struct.pack("!H", 1001) + b"bye")]
            self.sent: list[bytes] = []
            self.closed = False

        def recv(self, _n: int) -> bytes:
            return self.data.pop(0) if self.data else b""

        def sendall(self, data: bytes) -> None:
            self.sent.append(data)

        def close(self) -> None:
            self.closed = True

    sock = Once()
    ws = WebSocket(sock)  # type: ignore[arg-type]
    with pytest.raises(ConnectionClosed, match="1001"):
        ws.receive_available()
    assert sock.closed and len(sock.sent) == 1 and sock.sent[0][0] == 0x80 | OP_CLOSE


def test_wss_speaks_tls_and_verifies_the_server(tmp_path: Path) -> None:
    """``wss://`` against a server with a certificate made here: trusted, it talks; untrusted, it refuses."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    def client(url: str) -> None:
        with WebSocket.connect(url, timeout=10, ssl_context=trusting) as ws:
            assert isinstance(ws.sock, ssl.SSLSocket)
            ws.send_text("over tls")
            assert ws.receive(timeout=10) == "over tls"
        with pytest.raises(ssl.SSLCertVerificationError):
            WebSocket.connect(url, timeout=10)  # the system's CAs do not know this certificate

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, ssl=server_tls) as server:
            port = server.sockets[0].getsockname()[1]
            await asyncio.wait_for(asyncio.to_thread(client, f"wss://127.0.0.1:{port}/api/v1/agent/ws"), 30)

    asyncio.run(main())
