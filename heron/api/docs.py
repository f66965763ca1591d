"""API documentation: ``/openapi.json`` with each route's auth, and Swagger UI served from the package.

Swagger UI's files come from the installed ``swagger-ui-bundle`` package, so the page works
with no internet access. The OpenAPI document is FastAPI's, completed in three ways:

* **security**: each operation lists the credential forms it accepts, read from the identity
  dependency its router declares (see :mod:`heron.api.deps`); public routes list none,
  routes open to guests list ``{}`` among the alternatives;
* **success bodies**: routes that build their own ``Response`` declare no JSON schema for it;
* **errors**: each operation's ``4XX`` and ``5XX`` responses are its family's error envelope (the body
  :mod:`heron.api.errors` really sends), replacing FastAPI's ``422`` validation schema, which
  Heron never sends (invalid requests are ``400`` in the family's envelope);
* ``x-heron-access``: ``public``, ``guest``, ``user``, ``admin`` or ``push``, for readers and tests;
* **WebSockets**: each is listed as the ``GET`` that upgrades to it (``x-heron-websocket``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.responses import FileResponse, HTMLResponse

from heron.api import deps
from heron.api.envelopes import FAMILIES, native_error
from heron.core.errors import HeronError, NotFound

router = APIRouter(tags=["docs"])

_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Heron API</title>
<link rel="stylesheet" href="/swagger/swagger-ui.css">
<link rel="icon" type="image/png" href="/swagger/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/swagger/swagger-ui-bundle.js"></script>
<script src="/swagger/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"
});
</script>
</body>
</html>
"""


def _assets_dir() -> Path:
    import swagger_ui_bundle

    return Path(str(swagger_ui_bundle.swagger_ui_path))


@router.get("/swagger/index.html", response_class=HTMLResponse, summary="Swagger UI (no internet needed)")
async def swagger_page() -> HTMLResponse:
    return HTMLResponse(_PAGE)


@router.get("/docs", response_class=HTMLResponse, summary="Swagger UI, under FastAPI's usual path")
async def swagger_page_docs() -> HTMLResponse:
    return HTMLResponse(_PAGE)


@router.get(
    "/swagger/{asset}",
    response_class=FileResponse,
    summary="Swagger UI's static files",
    responses={200: {"content": {media: {} for media in sorted(set(_ASSETS.values()))}}},
)
async def swagger_asset(asset: str) -> FileResponse:
    media = _ASSETS.get(asset)
    if media is None:
        raise NotFound(f"no Swagger UI file named {asset!r}")
    return FileResponse(_assets_dir() / asset, media_type=media)


# -- the OpenAPI document ---------------------------------------------------------------------

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT from POST /api/v1/login, or a personal API token",
    },
    "basicAuth": {"type": "http", "scheme": "basic", "description": "username and password, or username and token"},
    "tokenHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "'Token <token>' (Nezha v0, InfluxDB 2), a bare '<token>', or 'X-OITC-API <api key>'",
    },
    "userToken": {"type": "apiKey", "in": "header", "name": "X-User-Token", "description": "a token (Nightingale)"},
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "heron_session",
        "description": "the web UI's login; writes also need the X-CSRF-Token header (value of the heron_csrf cookie)",
    },
}
_USER_SECURITY: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
_PUSH_SECURITY: list[dict[str, list[str]]] = [
    {"basicAuth": []},
    {"bearerAuth": []},
    {"tokenHeader": []},
    {"userToken": []},
]


def _schema_of(value: object) -> dict[str, Any]:
    """A JSON schema for ``value``'s shape (the sample error bodies below are all it must describe)."""
    if value is None:
        return {"nullable": True}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array"}
    if isinstance(value, dict):
        return {
            "type": "object",
            "required": sorted(value),
            "properties": {k: _schema_of(v) for k, v in value.items()},
        }
    return {}


def error_schema(family: str) -> dict[str, Any]:
    """The error body of ``family``, read off the envelope function :mod:`heron.api.errors` calls.

    Deriving it from a sample keeps the document and the real answers one thing: a family
    added to :data:`heron.api.envelopes.FAMILIES` is documented with no edit here.
    """
    _, body = FAMILIES.get(family, native_error)(HeronError("example"))
    return _schema_of(body)


_ACCESS_OF: dict[Callable[..., Any], str] = {
    deps.require_admin: "admin",
    deps.current_user: "user",
    deps.push_principal: "push",
    deps.current_principal: "guest",
    deps.any_principal: "guest",
}
_RANK = {"public": 0, "guest": 1, "push": 2, "user": 3, "admin": 4}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _calls(dep)


def access_of(route: APIRoute) -> str:
    """Who may call ``route``: ``public``, ``guest``, ``push``, ``user`` or ``admin``."""
    found = [_ACCESS_OF[c] for c in _calls(route.dependant) if c in _ACCESS_OF]
    return max(found, key=_RANK.__getitem__, default="public")


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every API route of ``app``, through the routers it includes (FastAPI nests them)."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            found.append(route)
    return found


def _family(route: APIRoute) -> str:
    return str(route.tags[0]) if route.tags else "heron"


def _complete(app: FastAPI, doc: dict[str, Any]) -> dict[str, Any]:
    svc = getattr(app.state, "services", None)
    push_open = bool(svc is not None and svc.settings.push_open)
    components = doc.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    for family in sorted({"heron", *FAMILIES}):
        schemas[f"Error-{family}"] = error_schema(family)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    seen: set[str] = set()
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        family = _family(route)
        ref = {"$ref": f"#/components/schemas/Error-{family if family in FAMILIES else 'heron'}"}
        access = access_of(route)
        for method in route.methods or ():
            op = doc.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            if route.response_model is None:
                # The handler builds its own Response (an empty 200, CSV, a peer's JSON): its body is
                # described in the route's summary, not by a schema FastAPI would have to guess.
                for status, answer in responses.items():
                    if status.startswith("2") and answer.get("content") == {"application/json": {"schema": {}}}:
                        del answer["content"]
            if "HTTPValidationError" in str(responses.get("422", "")):
                del responses["422"]
            for kind in ("4XX", "5XX"):
                responses[kind] = {
                    "description": "an error, in this family's envelope",
                    "content": {"application/json": {"schema": ref}},
                }
            op["x-heron-access"] = access
            if op.get("operationId") in seen:
                op["operationId"] = f"{op['operationId']}_{method.lower()}"
            seen.add(op.get("operationId", ""))
            if access in ("user", "admin"):
                op["security"] = _USER_SECURITY
            elif access == "guest":
                op["security"] = [{}, *_USER_SECURITY]
            elif access == "push":
                op["security"] = [{}, *_PUSH_SECURITY] if push_open else _PUSH_SECURITY
    _document_websockets(app, doc)
    return doc


#: Who may open each WebSocket (they resolve credentials themselves, not through a dependency).
WEBSOCKET_ACCESS = {"/api/v1/ws/server": "guest", "/api/v1/agent/ws": "push"}


def _document_websockets(app: FastAPI, doc: dict[str, Any]) -> None:
    """List each WebSocket as the ``GET`` that upgrades to it, so clients (the web UI) find every
    address they use in the document; OpenAPI has no WebSocket operation of its own."""
    ref = {"$ref": "#/components/schemas/Error-heron"}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIWebSocketRoute):
            continue
        access = WEBSOCKET_ACCESS.get(route.path, "user")
        summary = (route.endpoint.__doc__ or route.name).strip().splitlines()[0]
        op: dict[str, Any] = {
            "tags": ["heron"],
            "summary": f"WebSocket: {summary}",
            "operationId": f"websocket_{route.name}",
            "responses": {
                "101": {"description": "switching to the WebSocket protocol"},
                "4XX": {
                    "description": "an error (a plain GET without the upgrade is 404)",
                    "content": {"application/json": {"schema": ref}},
                },
                "5XX": {"description": "an error", "content": {"application/json": {"schema": ref}}},
            },
            "x-heron-access": access,
            "x-heron-websocket": True,
        }
        if access == "guest":
            op["security"] = [{}, *_USER_SECURITY]
        elif access == "push":
            op["security"] = _PUSH_SECURITY
        else:
            op["security"] = _USER_SECURITY
        doc.setdefault("paths", {}).setdefault(route.path, {})["get"] = op


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the completed document (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            with warnings.catch_warnings():
                # A route serving GET and HEAD shares one operation id; _complete makes them unique.
                warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
                doc = get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                )
            app.openapi_schema = _complete(app, doc)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
