"""``/api/v1/user`` (admins manage accounts) and ``/api/v1/profile`` (everyone manages their own).

Paths and field names follow Nezha v1 (``/api/v1/user``, ``POST /api/v1/batch-delete/user``,
``/api/v1/profile`` with ``original_password``/``new_password``); roles are Heron's words,
``admin`` and ``member``. Changing a password ends the account's other login sessions.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import Field

from heron.api.deps import authenticator, current_user, require_admin
from heron.api.pagination import Page, PageOf, page_params, paginate
from heron.api.schemas import MAX_ID, ObjectId, Ok, ProfileFields, UserOut
from heron.auth.permissions import Action, Resource, require
from heron.auth.principal import Authenticator
from heron.auth.users import Principal, UserRecord
from heron.core.errors import BadRequest

admin = APIRouter(tags=["heron"], dependencies=[Depends(require_admin)])
profile = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])


def user_out(record: UserRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "username": record.username,
        "role": record.role,
        "nickname": record.nickname,
        "email": record.email,
        "phone": record.phone,
        "contacts": record.contacts,
        "avatar": record.avatar,
        "created_at": record.created_at,
        "created_by": record.created_by,
        "updated_at": record.updated_at,
        "updated_by": record.updated_by,
        "last_active": record.last_active_at,
        "password_change_required": record.password_change_required,
    }


class UserCreate(ProfileFields):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Literal["admin", "member"] = "member"


class UserUpdate(ProfileFields):
    username: str | None = Field(None, min_length=1, max_length=64)
    password: str | None = Field(None, min_length=8, max_length=1024, description="set a new password (reset)")
    role: Literal["admin", "member"] | None = None


class ProfileUpdate(ProfileFields):
    original_password: str | None = Field(None, max_length=1024, description="needed to change the password")
    new_password: str | None = Field(None, min_length=8, max_length=1024)


@admin.get("/api/v1/user", summary="List users (admin)")
def list_users(page: Page = Depends(page_params), auth: Authenticator = Depends(authenticator)) -> Ok[PageOf[UserOut]]:
    data = paginate(page, lambda o, n: [user_out(u) for u in auth.users.list(offset=o, limit=n)], auth.users.count)
    return Ok[PageOf[UserOut]].model_validate({"data": data})


@admin.post("/api/v1/user", status_code=201, summary="Create a user (admin)")
def create_user(
    body: UserCreate, user: Principal = Depends(require_admin), auth: Authenticator = Depends(authenticator)
) -> Ok[UserOut]:
    profile_fields = body.model_dump(include={"nickname", "email", "phone", "contacts", "avatar"}, exclude_none=True)
    created = auth.users.create(
        body.username, body.password, role=body.role, created_by=user.username, **profile_fields
    )
    return Ok[UserOut](data=UserOut(**user_out(auth.users.get(created.user_id))))


@admin.get("/api/v1/user/{user_id}", summary="Show a user (admin)")
def get_user(user_id: ObjectId, auth: Authenticator = Depends(authenticator)) -> Ok[UserOut]:
    return Ok[UserOut](data=UserOut(**user_out(auth.users.get(user_id))))


@admin.patch("/api/v1/user/{user_id}", summary="Change a user, or reset their password (admin)")
def update_user(
    user_id: ObjectId,
    body: UserUpdate,
    user: Principal = Depends(require_admin),
    auth: Authenticator = Depends(authenticator),
) -> Ok[UserOut]:
    changes = body.model_dump(exclude_none=True)
    record = auth.users.update(user_id, changes, by=user.username)
    if "password" in changes:
        auth.sessions.end_all_of(user_id, keep=user.session_id if user_id == user.user_id else None)
    return Ok[UserOut](data=UserOut(**user_out(record)))


def _delete_users(ids: list[int], user: Principal, auth: Authenticator) -> None:
    if user.user_id in ids:
        raise BadRequest("you cannot delete your own account")
    for user_id in ids:
        auth.users.get(user_id)
    for user_id in ids:
        auth.users.delete(user_id)


@admin.delete("/api/v1/user/{user_id}", summary="Delete a user with their tokens, keys and sessions (admin)")
def delete_user(
    user_id: ObjectId, user: Principal = Depends(require_admin), auth: Authenticator = Depends(authenticator)
) -> Ok[None]:
    _delete_users([user_id], user, auth)
    return Ok[None](data=None)


@admin.post("/api/v1/batch-delete/user", summary="Delete several users (admin; Nezha v1)")
def batch_delete_users(
    ids: list[int] = Body(..., max_length=1000, examples=[[2, 3]]),
    user: Principal = Depends(require_admin),
    auth: Authenticator = Depends(authenticator),
) -> Ok[None]:
    if any(not 1 <= i <= MAX_ID for i in ids):
        raise BadRequest(f"user ids are between 1 and {MAX_ID}")
    _delete_users(sorted(set(ids)), user, auth)
    return Ok[None](data=None)


@profile.get("/api/v1/profile", summary="Your own account")
def get_profile(user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)) -> Ok[UserOut]:
    require(user, Action.READ, Resource("profile", owner_id=user.user_id))
    return Ok[UserOut](data=UserOut(**user_out(auth.users.get(user.user_id))))


def _update_profile(body: ProfileUpdate, user: Principal, auth: Authenticator) -> Ok[UserOut]:
    require(user, Action.UPDATE, Resource("profile", owner_id=user.user_id))
    if body.new_password is not None:
        auth.users.change_own_password(user.user_id, body.original_password or "", body.new_password)
        auth.sessions.end_all_of(user.user_id, keep=user.session_id)
    changes = body.model_dump(include={"nickname", "email", "phone", "contacts", "avatar"}, exclude_none=True)
    record = auth.users.update_profile(user.user_id, changes)
    return Ok[UserOut](data=UserOut(**user_out(record)))


@profile.patch("/api/v1/profile", summary="Change your profile or password")
def update_profile(
    body: ProfileUpdate, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> Ok[UserOut]:
    return _update_profile(body, user, auth)


@profile.post("/api/v1/profile", summary="Change your profile or password (Nezha v1's method)")
def update_profile_nezha(
    body: ProfileUpdate, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> Ok[UserOut]:
    return _update_profile(body, user, auth)
