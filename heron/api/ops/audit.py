"""``GET /api/v1/audit`` (admin): the audit log of remote operations, newest first, with filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from heron.api.deps import require_admin
from heron.api.ops.state import OpsState, ops_state
from heron.api.pagination import Page, page_params
from heron.api.schemas import MAX_ID
from heron.ops.audit import AuditFilter

router = APIRouter(tags=["heron"], dependencies=[Depends(require_admin)])


@router.get("/api/v1/audit", summary="The audit log: who did what, from where, on which server, and how it ended")
async def list_audit(
    page: Page = Depends(page_params),
    action: str | None = Query(None, max_length=64, description="e.g. terminal.start; a trailing dot matches a family"),
    user_id: int | None = Query(None, ge=1, le=MAX_ID),
    server_id: int | None = Query(None, ge=1, le=MAX_ID),
    outcome: str | None = Query(None, max_length=16, description="ok, refused, failed, error, missed, ..."),
    since: datetime | None = Query(None, description="from this time (RFC 3339)"),
    until: datetime | None = Query(None, description="before this time (RFC 3339)"),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    f = AuditFilter(action, user_id, server_id, outcome, since, until)

    def run() -> dict[str, Any]:
        items = state.ops.audit.listing(f, offset=page.offset, limit=page.limit)
        total = state.ops.audit.count(f)
        return {"value": items, "pagination": {"offset": page.offset, "limit": page.limit, "total": total}}

    return {"success": True, "data": await run_in_threadpool(run)}
