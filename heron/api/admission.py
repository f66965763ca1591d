"""Admission control for writes: a cap on the bytes that write requests in progress hold.

Without it, every connection's body is read, parsed and queued at once, so memory grows
with the number of clients (1,000 connections held 2.3 GiB). Here a write request first
reserves its size from a budget (``max_inflight_write_bytes``), before its body is read; the
reservation is held until its answer is sent. A request that finds no room waits, in
arrival order, up to ``write_admission_wait_seconds``; then it is answered ``429`` with
``Retry-After`` (``503`` on Prometheus remote write, which Prometheus always retries, where
it may drop a batch answered 429). VictoriaMetrics' ``-maxConcurrentInserts`` with
``-insert.maxQueueDuration`` is the model.

While a request waits its body stays in the socket: the server reads at most a small buffer
of it. A refused request's body is read to the end and thrown away before the answer, so
the connection stays usable and the client sees the 429, never a reset.

What a request reserves is its ``Content-Length``; a compressed body counts
:data:`COMPRESSED_FACTOR` times (it grows when decoded), a body without a length
:data:`UNKNOWN_LENGTH_BYTES`, and nothing counts more than the budget, so a large request
still runs when it is alone.
"""

from __future__ import annotations

import asyncio
import collections
import re
from collections.abc import Iterable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heron.api.errors import error_response
from heron.core.errors import Overloaded, StoreUnavailable

#: How many times its size a compressed body counts (decoded line protocol or protobuf is
#: commonly 5-10 times its gzip or snappy form).
COMPRESSED_FACTOR = 8
#: What a body sent without ``Content-Length`` (chunked) counts.
UNKNOWN_LENGTH_BYTES = 8 * 1024 * 1024
#: Paths whose clients retry 5xx but may drop a batch answered 429 (Prometheus remote write).
_ANSWER_503 = ("/prometheus/v1/write", "/api/v1/prom/write")


class ByteBudget:
    """Bytes handed out first come, first served; waiters are woken in arrival order."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.free = capacity
        self.refused = 0  # requests answered 429/503 since start
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    async def acquire(self, size: int, *, timeout: float) -> int | None:
        """Reserve ``size`` bytes (at most the capacity); the bytes reserved, or None on timeout."""
        size = max(1, min(size, self.capacity))
        if not self._waiters and self.free >= size:
            self.free -= size
            return size
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (size, granted)
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(granted), timeout)
        except TimeoutError:
            if granted.done():  # granted just as the wait ran out: keep it
                return size
            self._waiters.remove(waiter)
            self._wake()  # a large waiter leaving may let smaller ones behind it in
            return None
        except asyncio.CancelledError:
            if granted.done():
                self.release(size)
            else:
                self._waiters.remove(waiter)
                self._wake()
            raise
        return size

    def release(self, size: int) -> None:
        self.free += size
        self._wake()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def snapshot(self) -> dict[str, int]:
        """What ``GET /api/v1/health`` shows under ``admission``."""
        return {
            "capacity_bytes": self.capacity,
            "held_bytes": self.capacity - self.free,
            "waiting": self.waiting,
            "refused": self.refused,
        }

    def _wake(self) -> None:
        while self._waiters and self.free >= self._waiters[0][0]:
            size, granted = self._waiters.popleft()
            self.free -= size
            granted.set_result(None)


class WriteAdmission:
    """ASGI middleware: write requests (POST/PUT on the given routes) pass through the budget."""

    def __init__(
        self, app: ASGIApp, *, budget: ByteBudget, wait_seconds: float, paths: Iterable[re.Pattern[str]]
    ) -> None:
        self.app = app
        self.budget = budget
        self.wait_seconds = wait_seconds
        self.paths = tuple(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT") or not self._is_write(scope["path"]):
            await self.app(scope, receive, send)
            return
        size = _reservation(scope)
        held = await self.budget.acquire(size, timeout=self.wait_seconds)
        if held is None:
            self.budget.refused += 1
            await _drain(receive)
            await self._refuse(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.budget.release(held)

    def _is_write(self, path: str) -> bool:
        return any(p.match(path) for p in self.paths)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = (
            f"too many writes in progress ({self.budget.capacity - self.budget.free} bytes held, "
            f"{self.budget.waiting} waiting, none freed within {self.wait_seconds:g} s); retry shortly"
        )
        err: Overloaded | StoreUnavailable
        if scope["path"] in _ANSWER_503:
            err = StoreUnavailable(message, retry_after_seconds=1)
        else:
            err = Overloaded(message, retry_after_seconds=1)
        response = error_response(Request(scope, receive), err)
        await response(scope, receive, send)


def _reservation(scope: Scope) -> int:
    """What a request counts against the budget (see the module docstring)."""
    length: int | None = None
    compressed = False
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            length = int(value)
        elif name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            compressed = True
    if length is None:
        return UNKNOWN_LENGTH_BYTES
    return length * COMPRESSED_FACTOR if compressed else length


async def _drain(receive: Receive) -> None:
    """Read a refused request's body to its end, keeping none of it."""
    while True:
        message: Message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
