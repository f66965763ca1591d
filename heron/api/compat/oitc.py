"""openITCOCKPIT's shapes: API keys under ``/profile/*.json`` and the users index with both paging modes.

API keys work as in openITCOCKPIT's profile page: ``GET /profile/create_apikey.json`` generates
a key to show (Heron adds its QR code), ``POST /profile/create_apikey.json`` saves it with a
description, ``GET|POST /profile/apikey.json`` lists or re-describes keys, and
``POST /profile/delete_apikey/{id}.json`` deletes one. Errors use CakePHP's ``{"message", "code"}``.
``GET /users/index.json`` (admins) shows openITCOCKPIT's paginator mode and, with
``scroll=true``, its scroll mode, through :func:`heron.api.pagination.paginate_oitc`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from heron.api.deps import authenticator, current_user, require_admin
from heron.api.pagination import OitcPage, Paging, Scroll, oitc_params, paginate_oitc
from heron.api.schemas import MAX_ID, ObjectId
from heron.auth.apikeys import ApiKeyInfo, qr_code_data_uri
from heron.auth.permissions import Action, Resource, require
from heron.auth.principal import Authenticator
from heron.auth.users import Principal, UserRecord
from heron.core.errors import NotFound

router = APIRouter(tags=["oitc"], dependencies=[Depends(current_user)])
admin = APIRouter(tags=["oitc"], dependencies=[Depends(require_admin)])


class OitcApiKey(BaseModel):
    id: int
    userId: int
    apikey: str = Field(description="the key's first characters (Heron keeps only a hash of the key)")
    description: str
    last_use: datetime | None


class OitcApiKeys(BaseModel):
    apikeys: list[OitcApiKey] | None = None
    apikey: OitcApiKey | None = None


class OitcGenerated(BaseModel):
    apikey: str = Field(description="the new key, shown until it is saved or replaced")
    qr_code: str = Field(description="a QR code of the key, an SVG data: URI")


class OitcApikeyFields(BaseModel):
    id: int | None = Field(None, ge=1, le=MAX_ID)
    description: str = Field("", max_length=255)


class OitcApikeyBody(BaseModel):
    Apikey: OitcApikeyFields = Field(default_factory=lambda: OitcApikeyFields.model_validate({}))


class OitcMessage(BaseModel):
    message: str


class OitcUser(BaseModel):
    id: int
    username: str
    email: str
    full_name: str
    role: str
    phone: str
    last_login: datetime | None


class OitcUsersIndex(BaseModel):
    all_users: list[OitcUser]
    myUserId: int
    paging: Paging | None = None
    scroll: Scroll | None = None


def _key(info: ApiKeyInfo) -> OitcApiKey:
    return OitcApiKey(
        id=info.id,
        userId=info.user_id,
        apikey=info.hint + "...",
        description=info.description,
        last_use=info.last_used_at,
    )


@router.get(
    "/profile/apikey.json", summary="Your API keys, or one with ?id= (openITCOCKPIT)", response_model_exclude_unset=True
)
def oitc_list_api_keys(
    id: int | None = Query(None, ge=1, le=MAX_ID),
    user: Principal = Depends(current_user),
    auth: Authenticator = Depends(authenticator),
) -> OitcApiKeys:
    if id is not None:
        info = auth.apikeys.get(id)
        if info.user_id != user.user_id:
            raise NotFound("Invalid API key")
        return OitcApiKeys(apikey=_key(info))
    return OitcApiKeys(apikeys=[_key(k) for k in auth.apikeys.list(user.user_id)])


@router.post("/profile/apikey.json", summary="Change the description of one of your API keys (openITCOCKPIT)")
def oitc_update_api_key(
    body: OitcApikeyBody, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> OitcMessage:
    if body.Apikey.id is None:
        raise NotFound("Invalid API key")
    info = auth.apikeys.get(body.Apikey.id)
    require(user, Action.UPDATE, Resource("apikey", owner_id=info.user_id))
    auth.apikeys.describe(info.id, body.Apikey.description)
    return OitcMessage(message="API key updated successfully")


@router.get("/profile/create_apikey.json", summary="Generate a new API key to show before saving it (openITCOCKPIT)")
def oitc_generate_api_key(
    user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> OitcGenerated:
    require(user, Action.CREATE, Resource("apikey"))
    key = auth.apikeys.stage(user.user_id)
    return OitcGenerated(apikey=key, qr_code=qr_code_data_uri(key))


@router.post("/profile/create_apikey.json", summary="Save the generated API key with a description (openITCOCKPIT)")
def oitc_save_api_key(
    body: OitcApikeyBody, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> OitcMessage:
    require(user, Action.CREATE, Resource("apikey"))
    auth.apikeys.confirm(user.user_id, body.Apikey.description)
    return OitcMessage(message="API key created successfully")


@router.post("/profile/delete_apikey/{key_id}.json", summary="Delete one of your API keys (openITCOCKPIT)")
def oitc_delete_api_key(
    key_id: ObjectId, user: Principal = Depends(current_user), auth: Authenticator = Depends(authenticator)
) -> OitcMessage:
    info = auth.apikeys.get(key_id)
    if info.user_id != user.user_id:
        raise NotFound("Invalid API key")
    auth.apikeys.delete(key_id)
    return OitcMessage(message="Api key deleted successfully")


def _user(record: UserRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "username": record.username,
        "email": record.email,
        "full_name": record.nickname or record.username,
        "role": record.role,
        "phone": record.phone,
        "last_login": record.last_active_at,
    }


@admin.get(
    "/users/index.json",
    summary="Users, in paginator mode or with scroll=true (openITCOCKPIT; admin)",
    response_model_exclude_unset=True,
)
def oitc_users_index(
    page: OitcPage = Depends(oitc_params),
    user: Principal = Depends(require_admin),
    auth: Authenticator = Depends(authenticator),
) -> OitcUsersIndex:
    rows, block = paginate_oitc(
        page, lambda o, n: [_user(u) for u in auth.users.list(offset=o, limit=n)], auth.users.count
    )
    return OitcUsersIndex.model_validate({"all_users": rows, "myUserId": user.user_id, **block})
