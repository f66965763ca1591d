"""Paging through lists, in Heron's shape and in openITCOCKPIT's two shapes.

Native lists take ``offset`` and ``limit`` and answer Nezha v1's
``{"value": [...], "pagination": {"offset", "limit", "total"}}``.

openITCOCKPIT lists take ``page`` (1-based) and ``limit``, and answer either

* paginator mode (the default): an exact ``paging`` block, which costs a ``COUNT``;
* scroll mode (``scroll=true``): a ``scroll`` block with ``hasNextPage`` and no count query;
  the page is fetched with one extra row, whose presence is ``hasNextPage``.

A route hands over two callables, ``fetch(offset, limit)`` and ``count()``, and the helper
decides which to run, so no route can run a count in scroll mode by mistake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")

#: Most items one page may hold.
MAX_LIMIT = 1000
#: Largest offset accepted (bounds the work of a single request).
MAX_OFFSET = 10_000_000
#: Page size of native lists when the client names none (Nezha's default).
DEFAULT_LIMIT = 25
#: Page size of openITCOCKPIT lists when the client names none (the value its documentation shows).
OITC_DEFAULT_LIMIT = 50
MAX_PAGE = 1_000_000


@dataclass(frozen=True, slots=True)
class Page:
    offset: int
    limit: int


def page_params(
    offset: int = Query(0, ge=0, le=MAX_OFFSET, description="items to skip"),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="most items to return"),
) -> Page:
    return Page(offset=offset, limit=limit)


class Pagination(BaseModel):
    offset: int
    limit: int
    total: int


class PageOf(BaseModel, Generic[T]):
    """One page of a native list."""

    value: list[T]
    pagination: Pagination


def paginate(page: Page, fetch: Callable[[int, int], Sequence[T]], count: Callable[[], int]) -> dict[str, Any]:
    """A native page: ``{"value": [...], "pagination": {"offset", "limit", "total"}}``."""
    items = list(fetch(page.offset, page.limit))
    return {"value": items, "pagination": {"offset": page.offset, "limit": page.limit, "total": count()}}


@dataclass(frozen=True, slots=True)
class OitcPage:
    page: int
    limit: int
    scroll: bool

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def oitc_params(
    page: int = Query(1, ge=1, le=MAX_PAGE, description="page number, from 1"),
    limit: int = Query(OITC_DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="items per page"),
    scroll: bool = Query(False, description="scroll mode: no total count, a hasNextPage flag instead"),
) -> OitcPage:
    return OitcPage(page=page, limit=limit, scroll=scroll)


class Paging(BaseModel):
    """openITCOCKPIT's paginator block (CakePHP's): exact counts."""

    page: int
    current: int
    count: int
    prevPage: bool
    nextPage: bool
    pageCount: int
    limit: int
    options: list[Any]
    paramType: str
    queryScope: str | None


class Scroll(BaseModel):
    """openITCOCKPIT's scroll block: no count, only whether another page exists."""

    page: int
    limit: int
    offset: int
    hasPrevPage: bool
    prevPage: int
    nextPage: int
    current: int
    hasNextPage: bool


def paginate_oitc(
    request: OitcPage, fetch: Callable[[int, int], Sequence[T]], count: Callable[[], int]
) -> tuple[list[T], dict[str, Any]]:
    """The items of one page and the block to merge into the response (``paging`` or ``scroll``)."""
    if request.scroll:
        rows = list(fetch(request.offset, request.limit + 1))
        has_next = len(rows) > request.limit
        scroll = Scroll(
            page=request.page,
            limit=request.limit,
            offset=request.offset,
            hasPrevPage=request.page > 1,
            prevPage=max(1, request.page - 1),
            nextPage=request.page + 1,
            current=request.page,
            hasNextPage=has_next,
        )
        return rows[: request.limit], {"scroll": scroll.model_dump()}
    rows = list(fetch(request.offset, request.limit))
    total = count()
    page_count = max(1, -(-total // request.limit))
    paging = Paging(
        page=request.page,
        current=len(rows),
        count=total,
        prevPage=request.page > 1,
        nextPage=request.page < page_count,
        pageCount=page_count,
        limit=request.limit,
        options=[],
        paramType="named",
        queryScope=None,
    )
    return rows, {"paging": paging.model_dump()}
