"""``/status`` and ``/status/{slug}``: the public status pages, drawn on the server.

A page reads without JavaScript: the HTML is complete (Jinja2 templates in
``heron/web/templates/status/``); a small script then refreshes its main part every
30 seconds, more slowly while the tab is hidden, from ``?part=main``, which renders the same
partial. What a page shows is the guests' view, whoever asks, so one drawing serves everyone:
it is kept for :attr:`~heron.config.Settings.status_cache_seconds` and only one request at a
time draws a page, so a traffic spike costs Heron one drawing per period. Browsers and proxies
may keep it as long (``Cache-Control: public``) and revalidate with its ``ETag``.

With ``force_auth`` on, guests see nothing (``401`` with a link to log in) and the answer is
``private``; signed-in users see the guests' view.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from heron.api.deps import any_principal, authenticator, services
from heron.api.services import Services
from heron.api.web.assets import asset_url
from heron.api.web.status_data import StatusModel, build_status
from heron.api.web.status_text import TEXT, language_of
from heron.auth.principal import Authenticator
from heron.auth.users import Principal
from heron.core.errors import NotFound
from heron.statuspage.store import SLUG_PATTERN, StatusPages
from heron.web import templates_dir

router = APIRouter(tags=["heron"], include_in_schema=False)

_env = Environment(
    loader=FileSystemLoader(str(templates_dir())),
    autoescape=select_autoescape(["html", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _utc(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else ""


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


_env.filters.update(utc=_utc, iso=_iso, day=_day)


@dataclass(frozen=True, slots=True)
class _Drawn:
    body: bytes
    etag: str
    until: float


class StatusCache:
    """Drawn pages by (slug, part, language), each drawn by one request at a time."""

    def __init__(self) -> None:
        self._pages: dict[tuple[str, str, str], _Drawn] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    async def get(self, key: tuple[str, str, str], ttl: float, draw: Callable[[], bytes]) -> _Drawn:
        found = self._pages.get(key)
        if found is not None and found.until > time.monotonic():
            return found
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            found = self._pages.get(key)
            if found is not None and found.until > time.monotonic():
                return found
            body = await run_in_threadpool(draw)
            drawn = _Drawn(body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"', time.monotonic() + ttl)
            if len(self._pages) > 1000:
                self._pages.clear()
            self._pages[key] = drawn
            return drawn


def _cache(request: Request) -> StatusCache:
    cache = getattr(request.app.state, "status_cache", None)
    if not isinstance(cache, StatusCache):
        cache = request.app.state.status_cache = StatusCache()
    return cache


def _render(template: str, **context: object) -> bytes:
    return _env.get_template(template).render(**context).encode()


def _answer(request: Request, drawn: _Drawn, *, public: bool, ttl: float) -> Response:
    headers = {
        "ETag": drawn.etag,
        "Cache-Control": f"public, max-age={int(ttl)}" if public else "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Language, Cookie",
    }
    if request.headers.get("if-none-match") == drawn.etag:
        return Response(status_code=304, headers=headers)
    return Response(drawn.body, media_type="text/html; charset=utf-8", headers=headers)


async def _status(
    request: Request, slug: str | None, part: str, svc: Services, auth: Authenticator, principal: Principal
) -> Response:
    site = auth.site.get()
    lang = language_of(site.language, request.headers.get("accept-language", ""))
    text = TEXT[lang]
    if site.force_auth and principal.is_guest:
        target = f"/status/{slug}" if slug else "/status"
        body = _render("status/login_required.html", t=text, lang=lang, site_name=site.site_name, next=target)
        return Response(
            body, status_code=401, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
        )
    page = None
    if slug is not None:
        if not SLUG_PATTERN.match(slug):
            raise NotFound(f"no status page {slug!r}")
        page = await run_in_threadpool(StatusPages(svc.meta).by_slug, slug)
        if page is None:
            raise NotFound(f"no status page {slug!r}")
    ttl = svc.settings.status_cache_seconds

    def draw() -> bytes:
        model: StatusModel = build_status(svc, page, site_name=site.site_name)
        template = "status/_main.html" if part == "main" else "status/page.html"
        return _render(
            template,
            m=model,
            t=text,
            lang=lang,
            site_name=site.site_name,
            script=asset_url("status.js"),
            custom_code=site.custom_code,
            refresh_seconds=max(10, int(ttl)),
        )

    drawn = await _cache(request).get((slug or "", part, lang), ttl, draw)
    return _answer(request, drawn, public=not site.force_auth, ttl=ttl)


@router.get("/status")
async def status_all(
    request: Request,
    part: str = Query("page", pattern="^(page|main)$"),
    svc: Services = Depends(services),
    auth: Authenticator = Depends(authenticator),
    principal: Principal = Depends(any_principal),
) -> Response:
    return await _status(request, None, part, svc, auth, principal)


@router.get("/status/{slug}")
async def status_page(
    request: Request,
    slug: str,
    part: str = Query("page", pattern="^(page|main)$"),
    svc: Services = Depends(services),
    auth: Authenticator = Depends(authenticator),
    principal: Principal = Depends(any_principal),
) -> Response:
    return await _status(request, slug, part, svc, auth, principal)
