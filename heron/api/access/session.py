"""Logging in and out: ``/api/v1/login``, ``/api/v1/refresh-token``, ``/api/v1/logout``, online users.

The login answers Nezha v1's ``{"success": true, "data": {"token", "expire"}}`` and also sets
the web UI's cookies: ``heron_session`` (the same JWT; HttpOnly, SameSite=Lax) and
``heron_csrf`` (readable by the page's script, which echoes it in ``X-CSRF-Token`` on writes).
A script simply ignores the cookies and sends ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, Field

from heron.api.deps import authenticator, client_ip, current_user, presented, require_admin, services
from heron.api.pagination import Page, PageOf, page_params, paginate
from heron.api.schemas import Ok
from heron.api.services import Services
from heron.auth.principal import CSRF_COOKIE, SESSION_COOKIE, Authenticator, Login
from heron.auth.sessions import SessionInfo
from heron.auth.users import Principal
from heron.core.errors import BadRequest

public = APIRouter(tags=["heron"])
signed_in = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])
admin = APIRouter(tags=["heron"], dependencies=[Depends(require_admin)])


class LoginIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class LoginOut(BaseModel):
    token: str = Field(description="a JWT; send it as Authorization: Bearer <token>")
    expire: str = Field(description="when the token expires, ISO-8601 (RFC 3339)")


class OnlineUserOut(BaseModel):
    session_id: int
    user_id: int
    username: str
    ip: str
    user_agent: str
    connected_at: datetime
    last_active: datetime
    expire: datetime


def _answer(login: Login, request: Request, response: Response, svc: Services) -> Ok[LoginOut]:
    secure = svc.settings.cookie_secure or request.url.scheme == "https"
    max_age = max(1, int(login.expires_at.timestamp() - datetime.now(login.expires_at.tzinfo).timestamp()))
    response.set_cookie(
        SESSION_COOKIE, login.token, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )
    response.set_cookie(
        CSRF_COOKIE, login.csrf, max_age=max_age, httponly=False, samesite="lax", secure=secure, path="/"
    )
    expire = login.expires_at.astimezone().isoformat(timespec="seconds")
    return Ok[LoginOut](data=LoginOut(token=login.token, expire=expire))


@public.post("/api/v1/login", summary="Log in with a username and password; answers a JWT")
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    svc: Services = Depends(services),
    auth: Authenticator = Depends(authenticator),
) -> Ok[LoginOut]:
    result = auth.login(
        body.username, body.password, ip=client_ip(request), user_agent=request.headers.get("user-agent", "")
    )
    return _answer(result, request, response, svc)


def _refresh(request: Request, response: Response, user: Principal, svc: Services, auth: Authenticator) -> Ok[LoginOut]:
    return _answer(auth.refresh(user, presented(request)), request, response, svc)


@signed_in.post("/api/v1/refresh-token", summary="A new JWT for the current login, with a later expiry")
def refresh_token(
    request: Request,
    response: Response,
    user: Principal = Depends(current_user),
    svc: Services = Depends(services),
    auth: Authenticator = Depends(authenticator),
) -> Ok[LoginOut]:
    return _refresh(request, response, user, svc, auth)


@signed_in.get("/api/v1/refresh-token", summary="A new JWT for the current login (GET, as older Nezha clients call it)")
def refresh_token_get(
    request: Request,
    response: Response,
    user: Principal = Depends(current_user),
    svc: Services = Depends(services),
    auth: Authenticator = Depends(authenticator),
) -> Ok[LoginOut]:
    return _refresh(request, response, user, svc, auth)


@signed_in.post("/api/v1/logout", summary="End the current login session and clear the UI's cookies")
def logout(
    response: Response, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> Ok[None]:
    if user.session_id is not None:
        auth.sessions.end(user.session_id)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return Ok[None](data=None)


def _online(info: SessionInfo) -> OnlineUserOut:
    return OnlineUserOut(
        session_id=info.id,
        user_id=info.user_id,
        username=info.username,
        ip=info.ip,
        user_agent=info.user_agent,
        connected_at=info.created_at,
        last_active=info.last_seen_at,
        expire=info.expires_at,
    )


@admin.get("/api/v1/online-user", summary="Active login sessions (admin)")
def list_online_users(
    page: Page = Depends(page_params), auth: Authenticator = Depends(authenticator)
) -> Ok[PageOf[OnlineUserOut]]:
    data = paginate(
        page,
        lambda o, n: [_online(s) for s in auth.sessions.list_active(offset=o, limit=n)],
        auth.sessions.count_active,
    )
    return Ok[PageOf[OnlineUserOut]].model_validate({"data": data})


@admin.post("/api/v1/online-user/batch-block", summary="Ban addresses and end their sessions (admin; Nezha v1)")
def block_online_users(
    request: Request,
    ips: list[str] = Body(..., max_length=1000, examples=[["203.0.113.7"]]),
    auth: Authenticator = Depends(authenticator),
) -> Ok[int]:
    wanted = sorted({ip.strip() for ip in ips if ip.strip()})
    if any(len(ip) > 64 for ip in wanted):
        raise BadRequest("an address has at most 64 characters")
    if client_ip(request) in wanted:
        raise BadRequest("you cannot block the address you are calling from")
    auth.waf.block(wanted)
    return Ok[int](data=auth.sessions.end_from(wanted))
