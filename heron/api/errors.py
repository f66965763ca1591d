"""One handler for every error: the family's envelope for ``HeronError``, a logged 500 otherwise."""

from __future__ import annotations

import logging
import uuid

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from heron.api.envelopes import FAMILIES, native_error
from heron.core.errors import (
    BadRequest,
    HeronError,
    MethodNotAllowed,
    NotFound,
    Overloaded,
    StoreUnavailable,
    Unauthorized,
)

log = logging.getLogger(__name__)


def family_of(request: Request) -> str:
    route = request.scope.get("route")
    tags = getattr(route, "tags", None) or []
    if tags:
        return str(tags[0])
    path = request.url.path
    if path.startswith("/api/v2/"):
        return "influxdb-v2"
    if path in ("/write", "/query", "/ping", "/health"):
        return "influxdb-v1"
    if path.startswith(("/api/v1/write", "/api/v1/sql", "/api/v1/ping")):
        return "cnosdb"
    return "heron"


def error_response(request: Request, err: HeronError) -> Response:
    status, body = FAMILIES.get(family_of(request), native_error)(err)
    headers: dict[str, str] = {}
    if isinstance(err, Overloaded | StoreUnavailable):
        headers["Retry-After"] = str(err.retry_after_seconds)
    if isinstance(err, Unauthorized) and request.headers.get("x-requested-with", "").lower() != "xmlhttprequest":
        # Scripts learn the Basic scheme from the header; the web UI (which sends X-Requested-With)
        # must not get it, or the browser would open its own login dialog over the page.
        headers["WWW-Authenticate"] = 'Basic realm="heron"'
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


async def _heron_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HeronError)
    return error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    err: HeronError
    if exc.status_code == 404:
        err = NotFound(f"no route for {request.method} {request.url.path}")
    elif exc.status_code == 405:
        err = MethodNotAllowed(f"{request.url.path} does not take {request.method}")
    else:
        err = HeronError(str(exc.detail))
        err.status = exc.status_code
    return error_response(request, err)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e.get("loc", ()))
        problems.append(f"{where}: {e.get('msg')}")
    return error_response(request, BadRequest("invalid request: " + "; ".join(problems)))


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up before its body arrived: nothing to report, nobody to answer."""
    log.info("client disconnected before sending its whole request", extra={"path": request.url.path})
    return Response(status_code=400)


async def _unexpected(request: Request, exc: Exception) -> Response:
    request_id = uuid.uuid4().hex[:12]
    log.exception("unhandled error", extra={"request_id": request_id, "path": request.url.path})
    err = HeronError(f"internal error (request id {request_id}); see the server log")
    return error_response(request, err)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HeronError, _heron_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)
