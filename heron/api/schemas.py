"""Response and request shapes shared by the routers, so the OpenAPI document states each one.

``Ok[T]`` is Heron's (Nezha v1's) success envelope; ``ErrorBody`` its failure; ``N9eOk[T]``
Nightingale's ``{"dat", "err"}``. Handlers return plain data in these shapes and FastAPI checks
them against the declared model, so the document and the answers cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from fastapi import Path
from pydantic import BaseModel, Field

T = TypeVar("T")

#: Largest id accepted in a path: ids are 32-bit in PostgreSQL.
MAX_ID = 2_147_483_647
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="numeric id")]


class Ok(BaseModel, Generic[T]):
    """Heron's success envelope."""

    success: Literal[True] = True
    data: T


class ErrorBody(BaseModel):
    """Heron's failure envelope."""

    success: Literal[False] = False
    error: str


class N9eOk(BaseModel, Generic[T]):
    """Nightingale's envelope: ``err`` is empty on success."""

    dat: T
    err: str = ""


class UserOut(BaseModel):
    id: int
    username: str
    role: Literal["admin", "member"]
    nickname: str
    email: str
    phone: str
    contacts: dict[str, str]
    avatar: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    last_active: datetime | None
    password_change_required: bool = Field(
        False, description="the password was generated at first start; the web UI asks for a new one"
    )


class ProfileFields(BaseModel):
    """Profile fields a user may set on their own account."""

    nickname: str | None = Field(None, max_length=128)
    email: str | None = Field(None, max_length=255)
    phone: str | None = Field(None, max_length=64)
    contacts: dict[str, Annotated[str, Field(max_length=255)]] | None = Field(
        None, description='chat ids and the like, e.g. {"wecomid": "alice"}'
    )
    avatar: str | None = Field(None, max_length=1024, description="URL or path of the avatar image")
