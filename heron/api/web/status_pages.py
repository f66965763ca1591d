"""``/api/v1/status-page``: the public status pages' definitions, managed by admins.

A page has a ``slug`` (its address is ``/status/{slug}``), a ``title``, a ``description`` and
the ids of the servers it lists, in order. Listing them is for admins too: a page is found by
its address, and guests see only what the page itself shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from heron.api.deps import require_admin, services
from heron.api.schemas import MAX_ID, ObjectId, Ok
from heron.api.services import Services
from heron.auth.users import Principal
from heron.statuspage.store import MAX_PAGE_SERVERS, StatusPageInfo, StatusPages

router = APIRouter(tags=["heron"], dependencies=[Depends(require_admin)])

Ids = list[Annotated[int, Field(ge=1, le=MAX_ID)]]


class StatusPageIn(BaseModel):
    slug: str = Field(min_length=1, max_length=64, examples=["public"], description="the address: /status/{slug}")
    title: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=4096)
    servers: Ids = Field(default_factory=list, max_length=MAX_PAGE_SERVERS, description="server ids, in order")


class StatusPagePatch(BaseModel):
    """Absent fields stay as they are."""

    slug: str | None = Field(None, min_length=1, max_length=64)
    title: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=4096)
    servers: Ids | None = Field(None, max_length=MAX_PAGE_SERVERS)


class StatusPageOut(BaseModel):
    id: int
    slug: str
    title: str
    description: str
    servers: list[int]
    url: str = Field(description="the page's address on this site")
    created_at: datetime
    updated_at: datetime
    updated_by: str


def _out(info: StatusPageInfo) -> StatusPageOut:
    return StatusPageOut(
        id=info.id,
        slug=info.slug,
        title=info.title,
        description=info.description,
        servers=info.servers,
        url=f"/status/{info.slug}",
        created_at=info.created_at,
        updated_at=info.updated_at,
        updated_by=info.updated_by,
    )


def _pages(svc: Services) -> StatusPages:
    return StatusPages(svc.meta)


@router.get("/api/v1/status-page", summary="List status pages (admin)")
async def list_status_pages(svc: Services = Depends(services)) -> Ok[list[StatusPageOut]]:
    pages = await run_in_threadpool(_pages(svc).all)
    return Ok[list[StatusPageOut]](data=[_out(p) for p in pages])


@router.post("/api/v1/status-page", status_code=201, summary="Create a status page (admin)")
async def create_status_page(
    body: StatusPageIn, svc: Services = Depends(services), user: Principal = Depends(require_admin)
) -> Ok[StatusPageOut]:
    info = await run_in_threadpool(
        lambda: _pages(svc).create(
            slug=body.slug, title=body.title, description=body.description, servers=body.servers, by=user.username
        )
    )
    return Ok[StatusPageOut](data=_out(info))


@router.get("/api/v1/status-page/{page_id}", summary="Show a status page's definition (admin)")
async def get_status_page(page_id: ObjectId, svc: Services = Depends(services)) -> Ok[StatusPageOut]:
    return Ok[StatusPageOut](data=_out(await run_in_threadpool(_pages(svc).get, page_id)))


@router.patch("/api/v1/status-page/{page_id}", summary="Change a status page (admin)")
async def update_status_page(
    page_id: ObjectId,
    body: StatusPagePatch,
    svc: Services = Depends(services),
    user: Principal = Depends(require_admin),
) -> Ok[StatusPageOut]:
    info = await run_in_threadpool(
        lambda: _pages(svc).update(
            page_id,
            slug=body.slug,
            title=body.title,
            description=body.description,
            servers=body.servers,
            by=user.username,
        )
    )
    return Ok[StatusPageOut](data=_out(info))


@router.post("/api/v1/batch-delete/status-page", summary="Delete status pages (body: a list of ids; admin)")
async def delete_status_pages(
    ids: Ids = Body(..., max_length=1000, examples=[[1, 2]]), svc: Services = Depends(services)
) -> Ok[list[int]]:
    return Ok[list[int]](data=await run_in_threadpool(_pages(svc).delete, ids))
