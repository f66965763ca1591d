"""Nightingale's personal-center API: ``/api/n9e/self/profile``, ``/password`` and ``/token``.

Answers use Nightingale's ``{"dat": ..., "err": ""}``; failures its ``{"dat": null, "err": "..."}``
with a meaningful status. Fields follow the Nightingale document: the profile's ``portrait`` is
Heron's avatar, ``roles`` is ``["Admin"]`` or ``["Standard"]``, times are Unix seconds; groups
and business groups do not exist in Heron and are ``null``. One difference: Nightingale lists
tokens with their secret, Heron only with their first characters (``token``), because it keeps
hashes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from heron.api.deps import authenticator, current_user
from heron.api.schemas import N9eOk, ObjectId, ProfileFields
from heron.auth.permissions import Action, Resource, require
from heron.auth.principal import Authenticator
from heron.auth.tokens import TokenInfo
from heron.auth.users import Principal, UserRecord
from heron.core.errors import BadRequest

router = APIRouter(tags=["n9e"], dependencies=[Depends(current_user)])


class N9eProfile(BaseModel):
    id: int
    username: str
    nickname: str
    phone: str
    email: str
    portrait: str
    roles: list[str]
    contacts: dict[str, str]
    maintainer: int
    create_at: int
    create_by: str
    update_at: int
    update_by: str
    belong: str
    admin: bool
    user_groups: list[Any] | None
    busi_groups: list[Any] | None
    last_active_time: int


class N9eProfileIn(ProfileFields):
    portrait: str | None = Field(None, max_length=1024)


class N9ePasswordIn(BaseModel):
    oldpass: str = Field(max_length=1024)
    newpass: str = Field(min_length=8, max_length=1024)


class N9eTokenIn(BaseModel):
    token_name: str = Field(min_length=1, max_length=255)


class N9eToken(BaseModel):
    id: int
    username: str
    token_name: str
    token: str = Field(description="the full token when just created; its first characters in lists")
    create_at: int
    last_used: int


def n9e_profile(user: UserRecord) -> N9eProfile:
    return N9eProfile(
        id=user.id,
        username=user.username,
        nickname=user.nickname,
        phone=user.phone,
        email=user.email,
        portrait=user.avatar,
        roles=["Admin"] if user.role == "admin" else ["Standard"],
        contacts=user.contacts,
        maintainer=0,
        create_at=int(user.created_at.timestamp()),
        create_by=user.created_by,
        update_at=int(user.updated_at.timestamp()),
        update_by=user.updated_by,
        belong="",
        admin=user.role == "admin",
        user_groups=None,
        busi_groups=None,
        last_active_time=int(user.last_active_at.timestamp()) if user.last_active_at else 0,
    )


def _token(info: TokenInfo, secret: str | None = None) -> N9eToken:
    return N9eToken(
        id=info.id,
        username=info.username,
        token_name=info.note,
        token=secret or info.hint + "...",
        create_at=int(info.created_at.timestamp()),
        last_used=int(info.last_used_at.timestamp()) if info.last_used_at else 0,
    )


@router.get("/api/n9e/self/profile", summary="Your profile (Nightingale)")
def get_self_profile(
    user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> N9eOk[N9eProfile]:
    require(user, Action.READ, Resource("profile", owner_id=user.user_id))
    return N9eOk[N9eProfile](dat=n9e_profile(auth.users.get(user.user_id)))


@router.put("/api/n9e/self/profile", summary="Change your profile (Nightingale)")
def put_self_profile(
    body: N9eProfileIn, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> N9eOk[None]:
    require(user, Action.UPDATE, Resource("profile", owner_id=user.user_id))
    changes = body.model_dump(include={"nickname", "email", "phone", "contacts"}, exclude_none=True)
    if body.portrait is not None:
        changes["avatar"] = body.portrait
    auth.users.update_profile(user.user_id, changes)
    return N9eOk[None](dat=None)


@router.put("/api/n9e/self/password", summary="Change your password (Nightingale)")
def put_self_password(
    body: N9ePasswordIn, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> N9eOk[None]:
    require(user, Action.UPDATE, Resource("profile", owner_id=user.user_id))
    auth.users.change_own_password(user.user_id, body.oldpass, body.newpass)
    auth.sessions.end_all_of(user.user_id, keep=user.session_id)
    return N9eOk[None](dat=None)


@router.get("/api/n9e/self/token", summary="Your tokens (Nightingale)")
def list_self_tokens(
    user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> N9eOk[list[N9eToken]]:
    return N9eOk[list[N9eToken]](dat=[_token(t) for t in auth.tokens.list(user.user_id)])


@router.post("/api/n9e/self/token", summary="Create a token; its secret is in this answer only (Nightingale)")
def create_self_token(
    body: N9eTokenIn, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> N9eOk[N9eToken]:
    require(user, Action.CREATE, Resource("token"))
    if any(t.note == body.token_name for t in auth.tokens.list(user.user_id)):
        raise BadRequest("token name already exists")
    info, secret = auth.tokens.create(user.user_id, body.token_name)
    return N9eOk[N9eToken](dat=_token(info, secret))


@router.delete("/api/n9e/self/token/{token_id}", summary="Delete one of your tokens (Nightingale)")
def delete_self_token(
    token_id: ObjectId, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> N9eOk[None]:
    require(user, Action.DELETE, Resource("token", owner_id=auth.tokens.get(token_id).user_id))
    auth.tokens.delete(token_id)
    return N9eOk[None](dat=None)
