"""``/api/v1/apikey``: openITCOCKPIT-style API keys in Heron's envelope, with a QR code of each new key.

The same keys are managed in openITCOCKPIT's own shape under ``/profile/*.json``
(:mod:`heron.api.compat.oitc`). Members manage their own keys; admins everyone's.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from heron.api.deps import authenticator, current_user
from heron.api.pagination import Page, PageOf, page_params, paginate
from heron.api.schemas import ObjectId, Ok
from heron.auth.apikeys import ApiKeyInfo, qr_code_data_uri
from heron.auth.permissions import Action, Resource, require
from heron.auth.principal import Authenticator
from heron.auth.users import Principal

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])


class ApiKeyIn(BaseModel):
    description: str = Field("", max_length=255)


class ApiKeyOut(BaseModel):
    id: int
    user_id: int
    username: str
    description: str
    hint: str = Field(description="the first characters of the key, to recognise it")
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the key: shown this once; send it as Authorization: X-OITC-API <key>")
    qr_code: str = Field(description="a QR code of the key, an SVG data: URI for an <img src>")


def key_out(info: ApiKeyInfo) -> ApiKeyOut:
    return ApiKeyOut(
        id=info.id,
        user_id=info.user_id,
        username=info.username,
        description=info.description,
        hint=info.hint,
        created_at=info.created_at,
        last_used_at=info.last_used_at,
    )


def _created(info: ApiKeyInfo, key: str) -> Ok[ApiKeyCreated]:
    return Ok[ApiKeyCreated](data=ApiKeyCreated(**key_out(info).model_dump(), key=key, qr_code=qr_code_data_uri(key)))


@router.get("/api/v1/apikey", summary="List API keys (yours; every user's for admins)")
def list_api_keys(
    page: Page = Depends(page_params),
    user: Principal = Depends(current_user),
    auth: Authenticator = Depends(authenticator),
) -> Ok[PageOf[ApiKeyOut]]:
    owner = None if user.is_admin else user.user_id
    data = paginate(
        page,
        lambda o, n: [key_out(k) for k in auth.apikeys.list(owner, offset=o, limit=n)],
        lambda: auth.apikeys.count(owner),
    )
    return Ok[PageOf[ApiKeyOut]].model_validate({"data": data})


@router.post(
    "/api/v1/apikey", status_code=201, summary="Create an API key; the key and its QR code are in this answer only"
)
def create_api_key(
    body: ApiKeyIn, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> Ok[ApiKeyCreated]:
    require(user, Action.CREATE, Resource("apikey"))
    return _created(*auth.apikeys.create(user.user_id, body.description))


@router.patch("/api/v1/apikey/{key_id}", summary="Change an API key's description")
def describe_api_key(
    key_id: ObjectId,
    body: ApiKeyIn,
    user: Principal = Depends(current_user),
    auth: Authenticator = Depends(authenticator),
) -> Ok[ApiKeyOut]:
    require(user, Action.UPDATE, Resource("apikey", owner_id=auth.apikeys.get(key_id).user_id))
    return Ok[ApiKeyOut](data=key_out(auth.apikeys.describe(key_id, body.description)))


@router.post(
    "/api/v1/apikey/{key_id}/regenerate", summary="Replace an API key's secret (rotate); the old one stops working"
)
def regenerate_api_key(
    key_id: ObjectId, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> Ok[ApiKeyCreated]:
    require(user, Action.UPDATE, Resource("apikey", owner_id=auth.apikeys.get(key_id).user_id))
    return _created(*auth.apikeys.regenerate(key_id))


@router.delete("/api/v1/apikey/{key_id}", summary="Delete an API key")
def delete_api_key(
    key_id: ObjectId, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> Ok[None]:
    require(user, Action.DELETE, Resource("apikey", owner_id=auth.apikeys.get(key_id).user_id))
    auth.apikeys.delete(key_id)
    return Ok[None](data=None)
