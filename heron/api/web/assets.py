"""The single-page UI: ``index.html`` for every page address, and the bundle's files under ``/assets/``.

The bundle is built by ``make web`` into ``heron/web/static/`` and committed, so a plain
``pip install`` serves the UI with no Node on the machine. Its file names carry a content hash
(``app-3f2a9c1d.js``), so they are cached for a year; ``index.html``, which names them, is
revalidated on each load. Each file has a gzip twin made by the build, sent to browsers that
accept it: the first load of the overview is its compressed size.

Page addresses are the UI's own routes (``web/src/routes.ts``); an address outside them keeps
the API's JSON 404, so a mistyped API path never answers a page of HTML.
"""

from __future__ import annotations

import mimetypes
from functools import lru_cache
from pathlib import Path

import orjson
from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from heron.core.errors import NotFound
from heron.web import static_dir

router = APIRouter(tags=["heron"], include_in_schema=False)

#: First path segments of the UI's pages (``web/src/routes.ts`` lists the same; a test compares them).
UI_SECTIONS = frozenset(
    {"login", "welcome", "servers", "services", "alerts", "explore", "operations", "profile", "admin"}
)
#: A year, for files whose name changes with their content.
IMMUTABLE = "public, max-age=31536000, immutable"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


@lru_cache(maxsize=1)
def manifest() -> dict[str, object]:
    """The build's ``manifest.json``: entry names to hashed files, and the sources' hash."""
    path = static_dir() / "manifest.json"
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def asset_url(entry: str) -> str:
    """``/assets/<hashed name>`` of a build entry (``app.js``, ``status.js``, ``app.css``)."""
    files = manifest().get("files", {})
    name = files.get(entry) if isinstance(files, dict) else None
    if not isinstance(name, str):
        raise NotFound(f"the web UI was not built (no {entry} in heron/web/static/manifest.json); run make web")
    return f"/assets/{name}"


def _index() -> Response:
    path = static_dir() / "index.html"
    if not path.is_file():
        raise NotFound("the web UI was not built (heron/web/static/index.html is missing); run make web")
    return FileResponse(
        path,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


async def ui_page() -> Response:
    return _index()


router.add_api_route("/", ui_page, methods=["GET"])
# One literal prefix per section, never a catch-all: any other path (an API path called with
# the wrong method, say) keeps the answer it had without the UI.
for _section in sorted(UI_SECTIONS):
    router.add_api_route(f"/{_section}", ui_page, methods=["GET"])
    router.add_api_route(f"/{_section}/{{rest:path}}", ui_page, methods=["GET"])


def _asset_path(name: str) -> Path:
    base = (static_dir() / "assets").resolve()
    path = (base / name).resolve()
    if not name or "/" in name or path.parent != base or not path.is_file():
        raise NotFound(f"no UI file named {name!r}")
    return path


@router.get("/assets/{name}")
async def ui_asset(name: str, request: Request) -> Response:
    path = _asset_path(name)
    media = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
    zipped = path.with_name(path.name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "") and zipped.is_file():
        return FileResponse(zipped, media_type=media, headers={**headers, "Content-Encoding": "gzip"})
    return FileResponse(path, media_type=media, headers=headers)
