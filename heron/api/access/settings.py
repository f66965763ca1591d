"""``/api/v1/setting``: site settings; everyone reads what their role may see, admins change them.

Readable without credentials even when ``force_auth`` is on, because the login page needs
the site's name and language (as in Nezha). A guest sees only :data:`heron.auth.site.GUEST_FIELDS`;
signed-in users also see where agents connect; admins see everything and the version.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from heron import __version__
from heron.api.deps import any_principal, authenticator, require_admin
from heron.api.schemas import Ok
from heron.auth.principal import Authenticator
from heron.auth.site import SiteConfig, visible_fields
from heron.auth.users import Principal

public = APIRouter(tags=["heron"], dependencies=[Depends(any_principal)])
admin = APIRouter(tags=["heron"], dependencies=[Depends(require_admin)])


class SiteConfigOut(BaseModel):
    """Site settings; each field is present only for roles that may read it."""

    site_name: str | None = None
    language: str | None = None
    custom_code: str | None = Field(None, description="HTML added to the public page")
    custom_code_dashboard: str | None = Field(None, description="HTML added to the admin pages (admins only)")
    install_host: str | None = Field(None, description="address agents connect to (signed-in users)")
    force_auth: bool | None = Field(None, description="true: visitors must log in to see anything")


class SettingOut(BaseModel):
    config: SiteConfigOut
    tsdb_enabled: bool = Field(description="whether metric history is kept (always true in Heron)")
    version: str | None = Field(None, description="Heron's version (admins only)")


class SettingPatch(BaseModel):
    site_name: str | None = Field(None, min_length=1, max_length=128)
    language: str | None = Field(None, max_length=32, examples=["en", "zh-CN"])
    custom_code: str | None = Field(None, max_length=65536)
    custom_code_dashboard: str | None = Field(None, max_length=65536)
    install_host: str | None = Field(None, max_length=255)
    force_auth: bool | None = None


def _answer(config: SiteConfig, principal: Principal) -> Ok[SettingOut]:
    shown = SiteConfigOut(**visible_fields(config, admin=principal.is_admin, user=principal.is_user))
    admin_only = {"version": __version__} if principal.is_admin else {}
    out = SettingOut(config=shown, tsdb_enabled=True, **admin_only)
    return Ok[SettingOut](success=True, data=out)


@public.get(
    "/api/v1/setting",
    summary="Site settings (guests see only what guests may)",
    response_model_exclude_unset=True,
)
def get_settings(
    principal: Principal = Depends(any_principal), auth: Authenticator = Depends(authenticator)
) -> Ok[SettingOut]:
    return _answer(auth.site.get(), principal)


@admin.patch("/api/v1/setting", summary="Change site settings (admin)", response_model_exclude_unset=True)
def update_settings(
    body: SettingPatch, user: Principal = Depends(require_admin), auth: Authenticator = Depends(authenticator)
) -> Ok[SettingOut]:
    return _answer(auth.site.update(body.model_dump(exclude_none=True), by=user.username), user)
