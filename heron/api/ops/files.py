"""The file manager: Nezha's session and WebSocket, and plain streaming REST for scripts.

``POST /api/v1/file?id={server_id}`` answers a session; ``GET /api/v1/ws/file/{id}`` speaks
Nezha's binary protocol. From the browser: ``0`` + path lists a directory, ``1`` + path
downloads, ``2`` + size (8 bytes, big-endian) + path uploads, the file's bytes following in
binary frames. To the browser: ``NZFN`` + path length (4 bytes) + path + entries (1 byte
is-directory, 1 byte name length, name); ``NZTD`` + size (8 bytes) then the file's bytes;
``NZUP`` when an upload is stored; ``NERR`` + message.

``GET|PUT /api/v1/server/{id}/file?path=`` stream a file down or up. Bytes flow through in
chunks under the channel's credit, so memory stays flat whatever the size. Paths are the
agent's business: it serves only the directories its owner named (``--files-root``) and
refuses the rest. Every operation is audited with the path and the byte count.
"""

from __future__ import annotations

import contextlib
import struct
import time
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.websockets import WebSocketDisconnect

from heron.api.deps import current_user
from heron.api.ops.state import OpsState, actor_of, ops_state
from heron.api.ops.terminal import CLOSE_POLICY, checked
from heron.api.ops.wsauth import ws_principal
from heron.api.schemas import MAX_ID, ObjectId
from heron.auth.users import Principal
from heron.core.errors import BadRequest, HeronError
from heron.ops.audit import Actor
from heron.ops.channel import AgentLink

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])
sockets = APIRouter(tags=["heron"])

WS_PATH = "/api/v1/ws/file/{session_id}"
LIST, DOWNLOAD, UPLOAD = 0, 1, 2
NZFN, NZTD, NZUP, NERR = b"NZFN", b"NZTD", b"NZUP", b"NERR"
MAX_PATH_CHARS = 4096
LIST_TIMEOUT_SECONDS = 30.0


@router.post("/api/v1/file", summary="Open a file-manager session on a server; attach at /api/v1/ws/file/{id}")
async def create_file_session(
    request: Request,
    id: int = Query(ge=1, le=MAX_ID, description="the server's id"),
    user: Principal = Depends(current_user),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    actor = actor_of(request, user)
    info, _link = await checked(state, actor, user, id, "files", "file.session")
    session = state.sessions.create("file", server_id=info.id, server_name=info.name, principal=user)
    state.ops.audit.record(actor, "file.session", server_id=info.id, target=info.name)
    return {"success": True, "data": {"session_id": session.id}}


def listing_frame(result: dict[str, Any]) -> bytes:
    """``NZFN``, the directory's path, then each entry (Nezha's layout)."""
    path = str(result.get("path", "")).encode()
    parts = [NZFN, struct.pack("!I", len(path)), path]
    for entry in result.get("entries", []):
        name = str(entry.get("name", "")).encode()[:255]
        parts += [b"\x01" if entry.get("dir") else b"\x00", bytes([len(name)]), name]
    return b"".join(parts)


@sockets.websocket(WS_PATH)
async def file_socket(websocket: WebSocket, session_id: str) -> None:
    """Serve Nezha's file-manager operations one after another until the browser leaves."""
    state = ops_state(websocket)
    try:
        user = await ws_principal(websocket, WS_PATH)
        session = state.sessions.take(session_id, "file", user)
        info = await run_in_threadpool(state.ops.server_for, user, session.server_id)
        link = state.ops.link_for(info, "files")
    except HeronError as exc:
        await websocket.close(code=CLOSE_POLICY, reason=exc.message[:120])
        return
    await websocket.accept()
    actor = actor_of(websocket, user)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame = message.get("bytes") or (message.get("text") or "").encode()
            try:
                await _serve(websocket, link, state, actor, info.id, frame)
            except HeronError as exc:
                await websocket.send_bytes(NERR + exc.message.encode())
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()


async def _serve(
    websocket: WebSocket, link: AgentLink, state: OpsState, actor: Actor, server_id: int, frame: bytes
) -> None:
    if not frame or frame[0] not in (LIST, DOWNLOAD, UPLOAD):
        raise BadRequest("expected 0 (list), 1 (download) or 2 (upload) as the first byte")
    op = frame[0]
    if op == UPLOAD:
        if len(frame) < 9:
            raise BadRequest("an upload needs the size (8 bytes) and the path")
        (size,) = struct.unpack("!Q", frame[1:9])
        path = frame[9:].decode("utf-8", errors="replace")
    else:
        size, path = 0, frame[1:].decode("utf-8", errors="replace")
    if len(path) > MAX_PATH_CHARS:
        raise BadRequest(f"path: at most {MAX_PATH_CHARS} characters")
    started = time.monotonic()
    action = ("file.list", "file.download", "file.upload")[op]
    try:
        if op == LIST:
            result = await link.call("file.list", {"path": path}, timeout_seconds=LIST_TIMEOUT_SECONDS)
            await websocket.send_bytes(listing_frame(result))
            moved = 0
        elif op == DOWNLOAD:
            stream = await link.open("file.read", {"path": path})
            await websocket.send_bytes(NZTD + struct.pack("!Q", int(stream.opened.result().get("size", 0))))
            moved = 0
            try:
                while (data := await stream.read()) is not None:
                    await websocket.send_bytes(data)
                    moved += len(data)
                await stream.ended
            finally:
                await stream.cancel()
        else:
            stream = await link.open("file.write", {"path": path, "size": size})
            moved = 0
            try:
                while moved < size:
                    message = await websocket.receive()
                    if message["type"] == "websocket.disconnect":
                        raise WebSocketDisconnect()
                    data = message.get("bytes") or b""
                    await stream.write(data)
                    moved += len(data)
                await stream.end_write()
                await stream.ended
            except BaseException:
                await stream.cancel()
                raise
            await websocket.send_bytes(NZUP)
    except HeronError as exc:
        state.ops.audit.record(
            actor, action, server_id=server_id, target=path, outcome="refused" if exc.status == 403 else "error",
            error=exc.message,
        )  # fmt: skip
        raise
    state.ops.audit.record(
        actor, action, server_id=server_id, target=path, bytes=moved, duration_s=round(time.monotonic() - started, 3)
    )


def _need_path(path: str) -> str:
    if not path or len(path) > MAX_PATH_CHARS:
        raise BadRequest(f"path: expected a path of 1 to {MAX_PATH_CHARS} characters")
    return path


@router.get(
    "/api/v1/server/{server_id}/file",
    summary="Download a file from a server's agent (streamed)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_file(
    server_id: ObjectId,
    request: Request,
    path: str = Query(description="the file on the server (within the agent's --files-root)"),
    user: Principal = Depends(current_user),
    state: OpsState = Depends(ops_state),
) -> StreamingResponse:
    actor = actor_of(request, user)
    info, link = await checked(state, actor, user, server_id, "files", "file.download")
    try:
        stream = await link.open("file.read", {"path": _need_path(path)})
    except HeronError as exc:
        state.ops.audit.record(
            actor, "file.download", server_id=info.id, target=path, outcome="refused" if exc.status == 403 else "error",
            error=exc.message,
        )  # fmt: skip
        raise
    size = int(stream.opened.result().get("size", 0))
    started = time.monotonic()

    async def body() -> AsyncIterator[bytes]:
        outcome = "error"
        try:
            while (data := await stream.read()) is not None:
                yield data
            await stream.ended
            outcome = "ok"
        finally:
            with contextlib.suppress(HeronError):
                await stream.cancel()
            state.ops.audit.record(
                actor, "file.download", server_id=info.id, target=path, outcome=outcome, bytes=stream.bytes_in,
                duration_s=round(time.monotonic() - started, 3),
            )  # fmt: skip

    name = PurePosixPath(path).name or "download"
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
    }
    return StreamingResponse(body(), media_type="application/octet-stream", headers=headers)


@router.put("/api/v1/server/{server_id}/file", summary="Upload a file to a server's agent (the body, streamed)")
async def upload_file(
    server_id: ObjectId,
    request: Request,
    path: str = Query(description="where to write it (within the agent's --files-root)"),
    user: Principal = Depends(current_user),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    actor = actor_of(request, user)
    info, link = await checked(state, actor, user, server_id, "files", "file.upload")
    length = request.headers.get("content-length")
    size = int(length) if length and length.isdigit() else None
    started = time.monotonic()
    try:
        stream = await link.open("file.write", {"path": _need_path(path), "size": size})
        try:
            async for chunk in request.stream():
                if chunk:
                    await stream.write(chunk)
            await stream.end_write()
            result = await stream.ended
        except BaseException:
            with contextlib.suppress(HeronError):
                await stream.cancel()
            raise
    except HeronError as exc:
        state.ops.audit.record(
            actor, "file.upload", server_id=info.id, target=path, outcome="refused" if exc.status == 403 else "error",
            error=exc.message,
        )  # fmt: skip
        raise
    state.ops.audit.record(
        actor, "file.upload", server_id=info.id, target=path, bytes=result.get("bytes", 0),
        duration_s=round(time.monotonic() - started, 3),
    )  # fmt: skip
    return {"success": True, "data": {"path": result.get("path", path), "bytes": result.get("bytes", 0)}}
