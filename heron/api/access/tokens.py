"""``/api/v1/token``: personal API tokens, shown once at creation, listed with their last use.

Members see and delete their own tokens; admins see and delete everyone's. A token may carry
scopes in Nezha's vocabulary (:mod:`heron.auth.scopes`); a scoped token cannot use these routes.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from heron.api.deps import authenticator, current_user
from heron.api.pagination import Page, PageOf, page_params, paginate
from heron.api.schemas import ObjectId, Ok
from heron.auth.permissions import Action, Resource, require
from heron.auth.principal import Authenticator
from heron.auth.tokens import TokenInfo
from heron.auth.users import Principal

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])


class TokenIn(BaseModel):
    note: str = Field("", max_length=255, description="what the token is for")
    expires_at: datetime | None = Field(None, description="when it stops working; never when absent")
    scopes: list[str] | None = Field(
        None,
        max_length=64,
        description="limit the token, e.g. ['nezha:server:read', 'nezha:cron:*']; absent: all of your rights",
    )


class TokenOut(BaseModel):
    id: int
    user_id: int
    username: str
    note: str
    hint: str = Field(description="the first characters of the token, to recognise it")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    scopes: list[str] | None = Field(None, description="what the token may do; null: all of its owner's rights")


class TokenCreated(TokenOut):
    token: str = Field(description="the secret: shown this once, store it now")


def token_out(info: TokenInfo) -> TokenOut:
    return TokenOut(
        id=info.id,
        user_id=info.user_id,
        username=info.username,
        note=info.note,
        hint=info.hint,
        created_at=info.created_at,
        expires_at=info.expires_at,
        last_used_at=info.last_used_at,
        scopes=list(info.scopes) if info.scopes is not None else None,
    )


@router.get("/api/v1/token", summary="List API tokens (yours; every user's for admins)")
def list_tokens(
    page: Page = Depends(page_params),
    user: Principal = Depends(current_user),
    auth: Authenticator = Depends(authenticator),
) -> Ok[PageOf[TokenOut]]:
    owner = None if user.is_admin else user.user_id
    data = paginate(
        page,
        lambda o, n: [token_out(t) for t in auth.tokens.list(owner, offset=o, limit=n)],
        lambda: auth.tokens.count(owner),
    )
    return Ok[PageOf[TokenOut]].model_validate({"data": data})


@router.post("/api/v1/token", status_code=201, summary="Create an API token; the secret is in this answer only")
def create_token(
    body: TokenIn, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> Ok[TokenCreated]:
    require(user, Action.CREATE, Resource("token"))
    info, secret = auth.tokens.create(user.user_id, body.note, expires_at=body.expires_at, scopes=body.scopes)
    return Ok[TokenCreated](data=TokenCreated(**token_out(info).model_dump(), token=secret))


@router.delete("/api/v1/token/{token_id}", summary="Delete (revoke) an API token")
def delete_token(
    token_id: ObjectId, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> Ok[None]:
    require(user, Action.DELETE, Resource("token", owner_id=auth.tokens.get(token_id).user_id))
    auth.tokens.delete(token_id)
    return Ok[None](data=None)
