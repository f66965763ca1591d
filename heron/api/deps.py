"""Dependencies shared by the routers: the services and the caller's identity."""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import Request

from heron.api.services import Services
from heron.auth.users import Principal
from heron.core.errors import NotFound, Unauthorized

#: The principal of an unauthenticated push when ``push_open`` is on, or of a configured agent pair.
AGENT_ROLE = "agent"


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def _basic_pair(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed Basic credentials: expected base64 of 'user:password'") from None
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None
    if scheme.lower() == "token" and ":" in value:
        # InfluxDB 1.8's v2 compatibility: a token of the form "username:password".
        user, _, password = value.partition(":")
        return user, password
    return None


def current_user(request: Request) -> Principal:
    """The user named by HTTP Basic, ``Token user:password`` or InfluxDB 1.x ``u``/``p``."""
    svc = services(request)
    header = request.headers.get("authorization")
    pair = _basic_pair(header) if header else None
    if pair is None and "u" in request.query_params:
        pair = (request.query_params.get("u", ""), request.query_params.get("p", ""))
    if pair is None:
        raise Unauthorized("authentication required: send HTTP Basic credentials (-u user:password)")
    principal = svc.users.authenticate(*pair)
    if principal is None:
        raise Unauthorized("username or password is incorrect")
    return principal


def _configured_agent(pairs: str, user: str, password: str) -> bool:
    """Constant-time match against ``push_basic_auth`` ("user:password,user2:password2")."""
    ok = False
    for pair in pairs.split(","):
        name, sep, secret = pair.strip().partition(":")
        if sep and hmac.compare_digest(name.encode(), user.encode()) & hmac.compare_digest(
            secret.encode(), password.encode()
        ):
            ok = True
    return ok


def push_principal(request: Request) -> Principal:
    """Who may push, with Nightingale's ``HTTP.APIForAgent`` rules.

    Off (``push_enabled = false``): the route does not exist (404). Otherwise Basic
    credentials from ``push_basic_auth`` or of a Heron user are accepted; without
    credentials the push is accepted only when the operator set ``push_open``.
    """
    svc = services(request)
    settings = svc.settings
    if not settings.push_enabled:
        raise NotFound(f"no route for {request.method} {request.url.path} (push routes are disabled)")
    header = request.headers.get("authorization")
    pair = _basic_pair(header) if header else None
    if pair is None:
        if settings.push_open:
            return Principal(0, "anonymous", AGENT_ROLE)
        raise Unauthorized("authentication required: send HTTP Basic credentials of an agent or a Heron user")
    user, password = pair
    if settings.push_basic_auth and _configured_agent(settings.push_basic_auth, user, password):
        return Principal(0, user, AGENT_ROLE)
    principal = svc.users.authenticate(user, password)
    if principal is None:
        raise Unauthorized("username or password is incorrect")
    return principal
