"""Terminal and file-manager sessions between their creation and their WebSocket.

``POST /api/v1/terminal`` (or ``/api/v1/file``) checks the server, the caller and the agent,
then answers a session id: 128 random bits, usable once, by the same user, within
``ops_session_attach_seconds``. The WebSocket that presents it opens the operation on the
agent; nothing runs on the agent before then, so an abandoned session costs nothing.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from heron.auth.users import Principal
from heron.core.errors import Forbidden, NotFound

#: Sessions waiting for their WebSocket at most (older ones are dropped first).
MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class PendingSession:
    id: str
    kind: str
    server_id: int
    server_name: str
    user_id: int
    created: float


class SessionTable:
    def __init__(self, *, attach_seconds: float) -> None:
        self.attach_seconds = attach_seconds
        self._pending: dict[str, PendingSession] = {}
        self._lock = threading.Lock()

    def create(self, kind: str, *, server_id: int, server_name: str, principal: Principal) -> PendingSession:
        now = time.monotonic()
        session = PendingSession(secrets.token_hex(16), kind, server_id, server_name, principal.user_id, now)
        with self._lock:
            for key in [k for k, v in self._pending.items() if now - v.created > self.attach_seconds]:
                del self._pending[key]
            while len(self._pending) >= MAX_PENDING:
                del self._pending[next(iter(self._pending))]
            self._pending[session.id] = session
        return session

    def take(self, session_id: str, kind: str, principal: Principal) -> PendingSession:
        """The session, removed from the table: it can be attached once."""
        with self._lock:
            session = self._pending.get(session_id)
            if session is None or session.kind != kind:
                raise NotFound(f"no {kind} session {session_id[:40]}: it does not exist, was used, or expired")
            if session.user_id != principal.user_id:
                raise Forbidden(f"this {kind} session belongs to another user")
            del self._pending[session_id]
        if time.monotonic() - session.created > self.attach_seconds:
            raise NotFound(f"{kind} session {session_id[:40]} expired: attach within {self.attach_seconds:g} s")
        return session
