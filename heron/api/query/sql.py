"""``POST /api/v1/sql``: CnosDB's SQL endpoint over the sandboxed read path."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pyarrow as pa
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from heron.api.deps import current_user, services
from heron.api.ingest.body import read_body
from heron.api.query.catalog import run_catalog_statement
from heron.api.query.sql_formats import CONTENT_TYPES, Encoder, choose_format
from heron.api.services import Services
from heron.auth.users import Principal
from heron.core.errors import BadRequest, HeronError, QueryFailed
from heron.meta.namespaces import DEFAULT_DATABASE, DEFAULT_TENANT
from heron.tsdb.ddl import looks_like_catalog_statement, parse_catalog_statement
from heron.tsdb.names import schema_for
from heron.tsdb.sandbox import QueryStream, run_select

router = APIRouter(tags=["cnosdb"])

#: Longest SQL text accepted.
MAX_SQL_BYTES = 1024 * 1024


@router.post("/api/v1/sql", summary="Run SQL (CnosDB); the result format follows Accept")
async def run_sql(
    request: Request,
    db: str = Query(DEFAULT_DATABASE, description="database"),
    tenant: str = Query(DEFAULT_TENANT, description="tenant"),
    chunked: bool = Query(False, description="stream the result batch by batch"),
    svc: Services = Depends(services),
    user: Principal = Depends(current_user),
) -> Response:
    fmt = choose_format(request.headers.get("accept"))
    raw = await read_body(request, max_bytes=MAX_SQL_BYTES)
    try:
        sql = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the SQL text is not valid UTF-8 (byte {exc.start})") from None
    if not sql:
        raise BadRequest("the request body must hold one SQL statement")
    media = CONTENT_TYPES[fmt]

    # Readers see every acknowledged write: apply what waits in the write-ahead log first.
    if not svc.writer.caught_up():
        await asyncio.wrap_future(svc.writer.sync())
    stmt = parse_catalog_statement(sql) if looks_like_catalog_statement(sql) else None
    if stmt is not None:
        table = await run_catalog_statement(svc, stmt, tenant=tenant, database=db, user=user)
        encoder = Encoder(fmt, table.schema)
        body = encoder.start() + b"".join(encoder.batch(b) for b in table.to_batches()) + encoder.end()
        return Response(body, media_type=media)

    svc.namespaces.get(tenant, db)
    schema = schema_for(tenant, db)

    def start() -> QueryStream:
        return run_select(
            svc.tsdb,
            schema,
            sql,
            timeout_seconds=svc.settings.query_timeout_seconds,
            max_rows=svc.settings.max_result_rows,
            tables=svc.writer.table_names(schema),
        )

    if chunked:
        stream = await run_in_threadpool(start)
        return StreamingResponse(_stream(stream, fmt), media_type=media)

    def run() -> bytes:
        # One worker-thread hop for the whole query: start, fetch, encode.
        stream = start()
        try:
            return _collect(stream, fmt, svc.settings.max_result_bytes)
        finally:
            stream.close()

    return Response(await run_in_threadpool(run), media_type=media)


def _collect(stream: QueryStream, fmt: str, max_bytes: int) -> bytes:
    encoder = Encoder(fmt, stream.schema)
    parts = [encoder.start()]
    size = len(parts[0])
    for batch in stream:
        part = encoder.batch(batch)
        size += len(part)
        if size > max_bytes:
            raise QueryFailed(f"the result exceeds {max_bytes} bytes; add a LIMIT, aggregate, or ask for chunked=true")
        parts.append(part)
    parts.append(encoder.end())
    return b"".join(parts)


def _stream(stream: QueryStream, fmt: str) -> Iterator[bytes]:
    """Chunks for a streaming response; an error after the first byte goes into the body."""
    encoder = Encoder(fmt, stream.schema)
    try:
        yield encoder.start()
        for batch in stream:
            yield encoder.batch(batch)
        yield encoder.end()
    except HeronError as exc:
        yield f"\nerror: {exc.message}\n".encode()
    except (pa.ArrowException, ValueError) as exc:
        yield f"\nerror: {exc}\n".encode()
    finally:
        stream.close()
