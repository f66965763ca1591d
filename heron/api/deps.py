"""Dependencies shared by the routers: the services and the caller's identity."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request

from heron.api.services import Services
from heron.auth.users import Principal
from heron.core.errors import Unauthorized


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
