"""Dependencies shared by the routers: the services and the caller's identity.

Every identity dependency goes through :meth:`heron.auth.principal.Authenticator.resolve`
once per request (the result is kept on ``request.state``). Which one a router declares says
who may call it, and the OpenAPI document reads the same declaration:

* :func:`current_user`: a user with an account (``401`` otherwise);
* :func:`require_admin`: an admin (``403`` for members);
* :func:`current_principal`: anyone, a guest included, unless ``force_auth`` is on;
* :func:`any_principal`: anyone, a guest included, whatever ``force_auth`` says (site settings, login);
* :func:`push_principal`: agents pushing data (Nightingale's ``HTTP.APIForAgent`` rules).
"""

from __future__ import annotations

import hmac

from fastapi import Request

from heron.api.services import Services
from heron.auth.principal import CSRF_HEADER, SESSION_COOKIE, Authenticator, Presented, basic_pair
from heron.auth.scopes import TSDB_WRITE, UNSCOPED_ONLY, missing_scopes
from heron.auth.users import GUEST, Principal
from heron.core.errors import Forbidden, NotFound, Unauthorized

#: The principal of an unauthenticated push when ``push_open`` is on, or of a configured agent pair.
AGENT_ROLE = "agent"

_UNSET = object()


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def authenticator(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


def client_ip(request: Request) -> str:
    """The caller's address: the trusted proxy header when configured, else the peer."""
    header = services(request).settings.real_ip_header
    if header:
        forwarded = request.headers.get(header, "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first
    return request.client.host if request.client else ""


def presented(request: Request) -> Presented:
    """The credentials a request carries, whatever their form."""
    query = request.query_params
    return Presented(
        authorization=request.headers.get("authorization"),
        user_token=request.headers.get("x-user-token"),
        session_cookie=request.cookies.get(SESSION_COOKIE),
        csrf_header=request.headers.get(CSRF_HEADER),
        query_user=query.get("u") if "u" in query else None,
        query_password=query.get("p", ""),
        method=request.method,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )


def _resolved(request: Request) -> Principal | None:
    cached = getattr(request.state, "principal", _UNSET)
    if cached is not _UNSET:
        assert cached is None or isinstance(cached, Principal)
        return cached
    principal = authenticator(request).resolve(presented(request))
    request.state.principal = principal
    return principal


def check_scopes(request: Request, principal: Principal, *, needed: tuple[str, ...] | None = None) -> Principal:
    """``principal`` unless it is a scoped token without the scopes this route needs (``403``).

    The scopes come from :func:`heron.auth.scopes.required_scopes` for the matched route's
    path template, unless the caller names them (``needed``).
    """
    if principal.scopes is None:
        return principal
    route = request.scope.get("route")
    path = getattr(route, "path_format", None) or request.url.path
    missing = missing_scopes(principal.scopes, request.method, path, needed=needed)
    if missing:
        if missing == [UNSCOPED_ONLY]:
            raise Forbidden(f"{request.method} {path} manages credentials: a scoped token may not use it")
        raise Forbidden(f"the token lacks the scope {', '.join(missing)} that {request.method} {path} needs")
    return principal


def any_principal(request: Request) -> Principal:
    """The caller, or the guest when nothing was presented (even with ``force_auth``)."""
    principal = _resolved(request)
    return check_scopes(request, principal) if principal is not None else GUEST


def current_principal(request: Request) -> Principal:
    """The caller, or the guest; with ``force_auth`` on, a guest gets ``401``."""
    principal = _resolved(request)
    if principal is not None:
        return check_scopes(request, principal)
    if authenticator(request).site.get().force_auth:
        raise Unauthorized("authentication required: this site does not allow guests (force_auth)")
    return GUEST


def current_user(request: Request) -> Principal:
    """A user with an account, by any credential form; ``401`` otherwise."""
    principal = _resolved(request)
    if principal is None or not principal.is_user:
        raise Unauthorized(
            "authentication required: send a token (Authorization: Bearer ...), "
            "HTTP Basic credentials (-u user:password), or log in (POST /api/v1/login)"
        )
    return check_scopes(request, principal)


def require_admin(request: Request) -> Principal:
    user = current_user(request)
    if not user.is_admin:
        raise Forbidden(f"this needs the admin role; user '{user.username}' is a member")
    return user


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
    credentials from ``push_basic_auth``, or any credential of a Heron user (password, token,
    API key) are accepted; without credentials the push is accepted only when the operator
    set ``push_open``.
    """
    settings = services(request).settings
    if not settings.push_enabled:
        raise NotFound(f"no route for {request.method} {request.url.path} (push routes are disabled)")
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    if settings.push_basic_auth and scheme.lower() == "basic" and value.strip():
        user, password = basic_pair(value)
        if _configured_agent(settings.push_basic_auth, user, password):
            return Principal(0, user, AGENT_ROLE, via="agent")
    principal = _resolved(request)
    if principal is None:
        if settings.push_open:
            return Principal(0, "anonymous", AGENT_ROLE, via="none")
        raise Unauthorized(
            "authentication required: send HTTP Basic credentials of an agent or a Heron user, or a token"
        )
    return check_scopes(request, principal, needed=(TSDB_WRITE,))
