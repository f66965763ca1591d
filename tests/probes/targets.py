"""Local targets for monitor tests: an HTTP(S) server, a DNS server, a listening socket, on 127.0.0.1."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dns.message
import dns.rcode
import dns.rrset


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/status/"):
            code = int(self.path.rsplit("/", 1)[1])
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/slow"):
            self.server.release.wait(30)  # type: ignore[attr-defined]
        body = b"<html><body>all systems OK</body></html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class HttpTarget:
    """A threaded HTTP server on 127.0.0.1 (HTTPS with ``context``) that can stop and start on its port."""

    def __init__(self, *, port: int = 0, context: ssl.SSLContext | None = None) -> None:
        self.context = context
        self.release = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None
        self.port = port
        self.start()

    def start(self) -> None:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        server.daemon_threads = True
        server.release = self.release  # type: ignore[attr-defined]
        if self.context is not None:
            server.socket = self.context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self.release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self.release.clear()

    @property
    def url(self) -> str:
        scheme = "https" if self.context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"


@contextmanager
def http_target(**kwargs: object) -> Iterator[HttpTarget]:
    target = HttpTarget(**kwargs)  # type: ignore[arg-type]
    try:
        yield target
    finally:
        target.stop()


@contextmanager
def dns_target(records: dict[tuple[str, str], list[str]]) -> Iterator[str]:
    """A UDP DNS server answering ``records`` ({(name, type): [values]}); NXDOMAIN for other names."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()
    names = {name for name, _ in records}

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            kind = dns.rdatatype.to_text(question.rdtype)
            values = records.get((name, kind))
            if values:
                response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", kind, values))
            elif name not in names:
                response.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


@contextmanager
def listening_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
