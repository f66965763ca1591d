"""Status pages in the metadata store: a slug, a title, a description and the servers listed.

Admins manage them (``/api/v1/status-page``); anyone may read one at ``/status/{slug}``, in
the guests' view. A page names servers by id; one that is deleted, or hidden from guests
later, is left out when the page is drawn, not refused here, so hiding a server never
breaks a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from heron.core.errors import BadRequest, NotFound
from heron.meta.db import MetaStore
from heron.meta.models import Server, StatusPage, StatusPageItem

#: Kinds of things a page lists (services join when their monitors land).
ITEM_KINDS = ("server",)
#: Most servers one page lists.
MAX_PAGE_SERVERS = 1000
#: A slug is what follows ``/status/`` in the address: lowercase letters, digits and dashes.
SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class StatusPageInfo:
    id: int
    slug: str
    title: str
    description: str
    servers: list[int]
    created_at: datetime
    updated_at: datetime
    updated_by: str


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_slug(slug: str) -> str:
    if not SLUG_PATTERN.match(slug):
        raise BadRequest(
            f"slug {slug!r} is not valid: expected 1 to 64 lowercase letters, digits or dashes, "
            "not starting or ending with a dash"
        )
    return slug


class StatusPages:
    """Create, change, list and delete status pages."""

    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta

    def all(self) -> list[StatusPageInfo]:
        with self._meta.session() as s:
            return [self._info(s, page) for page in s.scalars(select(StatusPage).order_by(StatusPage.id))]

    def get(self, page_id: int) -> StatusPageInfo:
        with self._meta.session() as s:
            return self._info(s, self._page(s, page_id))

    def by_slug(self, slug: str) -> StatusPageInfo | None:
        with self._meta.session() as s:
            page = s.scalar(select(StatusPage).where(StatusPage.slug == slug))
            return self._info(s, page) if page is not None else None

    def create(self, *, slug: str, title: str, description: str, servers: list[int], by: str) -> StatusPageInfo:
        with self._meta.session() as s:
            self._free_slug(s, check_slug(slug), None)
            page = StatusPage(slug=slug, title=title, description=description, updated_by=by)
            s.add(page)
            s.flush()
            self._set_servers(s, page.id, servers)
            return self._info(s, page)

    def update(
        self,
        page_id: int,
        *,
        slug: str | None,
        title: str | None,
        description: str | None,
        servers: list[int] | None,
        by: str,
    ) -> StatusPageInfo:
        with self._meta.session() as s:
            page = self._page(s, page_id)
            if slug is not None and slug != page.slug:
                self._free_slug(s, check_slug(slug), page.id)
                page.slug = slug
            if title is not None:
                page.title = title
            if description is not None:
                page.description = description
            if servers is not None:
                self._set_servers(s, page.id, servers)
            page.updated_by = by
            page.updated_at = datetime.now(UTC)
            s.flush()
            return self._info(s, page)

    def delete(self, ids: list[int]) -> list[int]:
        """Delete pages by id; all must exist (a ``404`` names the missing ones)."""
        wanted = list(dict.fromkeys(ids))
        with self._meta.session() as s:
            found = set(s.scalars(select(StatusPage.id).where(StatusPage.id.in_(wanted)))) if wanted else set()
            missing = [i for i in wanted if i not in found]
            if missing:
                raise NotFound(f"no status page with id {', '.join(map(str, missing))}")
            s.execute(delete(StatusPageItem).where(StatusPageItem.page_id.in_(wanted)))
            s.execute(delete(StatusPage).where(StatusPage.id.in_(wanted)))
        return wanted

    @staticmethod
    def _page(s: Session, page_id: int) -> StatusPage:
        page = s.get(StatusPage, page_id)
        if page is None:
            raise NotFound(f"no status page with id {page_id}")
        return page

    @staticmethod
    def _free_slug(s: Session, slug: str, own_id: int | None) -> None:
        taken = s.scalar(select(StatusPage.id).where(StatusPage.slug == slug))
        if taken is not None and taken != own_id:
            raise BadRequest(f"slug {slug!r} is already used by status page {taken}")

    @staticmethod
    def _set_servers(s: Session, page_id: int, servers: list[int]) -> None:
        ids = list(dict.fromkeys(servers))
        if len(ids) > MAX_PAGE_SERVERS:
            raise BadRequest(f"a status page lists at most {MAX_PAGE_SERVERS} servers, got {len(ids)}")
        known = set(s.scalars(select(Server.id).where(Server.id.in_(ids)))) if ids else set()
        missing = [i for i in ids if i not in known]
        if missing:
            raise NotFound(f"no server with id {', '.join(map(str, missing))}")
        s.execute(delete(StatusPageItem).where(StatusPageItem.page_id == page_id, StatusPageItem.kind == "server"))
        for position, server_id in enumerate(ids):
            s.add(StatusPageItem(page_id=page_id, kind="server", ref_id=server_id, position=position))

    @staticmethod
    def _info(s: Session, page: StatusPage) -> StatusPageInfo:
        servers = list(
            s.scalars(
                select(StatusPageItem.ref_id)
                .where(StatusPageItem.page_id == page.id, StatusPageItem.kind == "server")
                .order_by(StatusPageItem.position)
            )
        )
        return StatusPageInfo(
            id=page.id,
            slug=page.slug,
            title=page.title,
            description=page.description,
            servers=servers,
            created_at=_aware(page.created_at),
            updated_at=_aware(page.updated_at),
            updated_by=page.updated_by,
        )
