"""Who opened a WebSocket of remote operations (terminal, file manager), checked like any request.

Browsers cannot set headers on a WebSocket, so the UI's session cookie is accepted, but only
when the ``Origin`` is this site: otherwise any page the user visits could open a terminal
with their cookie (cross-site WebSocket hijacking). Scripts send ``Authorization`` as usual.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import WebSocket
from starlette.concurrency import run_in_threadpool

from heron.auth.principal import SESSION_COOKIE, Authenticator, Presented
from heron.auth.scopes import missing_scopes
from heron.auth.users import Principal
from heron.core.errors import Forbidden, Unauthorized


async def ws_principal(websocket: WebSocket, path_template: str) -> Principal:
    """The user behind ``websocket``, with the scopes ``GET path_template`` needs; raises 401/403."""
    auth: Authenticator = websocket.app.state.auth
    headers = websocket.headers
    cookie = websocket.cookies.get(SESSION_COOKIE)
    explicit = headers.get("authorization") or headers.get("x-user-token")
    if cookie and not explicit:
        origin = headers.get("origin")
        if origin and urlsplit(origin).netloc != headers.get("host", ""):
            raise Forbidden("a WebSocket authenticated by the session cookie must come from this site's pages")
    presented = Presented(
        authorization=headers.get("authorization"),
        user_token=headers.get("x-user-token"),
        session_cookie=None if explicit else cookie,
        method="GET",
        ip=websocket.client.host if websocket.client else "",
        user_agent=headers.get("user-agent", ""),
    )
    principal = await run_in_threadpool(auth.resolve, presented)
    if principal is None or not principal.is_user:
        raise Unauthorized("authentication required: a token (Authorization: Bearer ...) or the UI's login")
    missing = missing_scopes(principal.scopes, "GET", path_template)
    if missing:
        raise Forbidden(f"the token lacks the scope {', '.join(missing)} that {path_template} needs")
    return principal
